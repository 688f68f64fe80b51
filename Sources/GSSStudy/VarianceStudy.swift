import FoundationEssentials
import Glibc
import GSSCore

/// What a variance study runs (the paper's section 4.1 protocol).
public struct VarianceStudySettings: Sendable {
    public var problem: StudyProblem
    public var sizes: [Int]
    public var distributions: [Distribution]
    /// s (rqmc-cartesian uses the nearest k^n grid below it, see StudyPlan).
    public var samples: Int
    /// Independent estimates per configuration.
    public var repeats: Int
    /// γ, the same for every input.
    public var scale: Double
    /// The base seed; repeat r's seed is derived from it (StudySeeds).
    public var seed: UInt64
    public var threads: Int
    /// Total samples of a Sobol' oracle at first (a power of two).
    public var oracleSamples: Int
    /// The most samples a Sobol' oracle may grow to when it is not accurate enough.
    public var maxOracleSamples: Int
    /// Independent scrambles a Sobol' oracle is split into (its error comes from their spread).
    public var oracleScrambles: Int
    /// The oracle's error must be at most this fraction of the smallest mean error it is compared with.
    public var oracleAccuracy: Double

    public init(
        problem: StudyProblem, sizes: [Int]? = nil, distributions: [Distribution] = Distribution.allCases,
        samples: Int = 1024, repeats: Int = 64, scale: Double = 1, seed: UInt64 = 0, threads: Int = 1,
        oracleSamples: Int = 1 << 20, maxOracleSamples: Int = 1 << 24, oracleScrambles: Int = 16,
        oracleAccuracy: Double = 0.1
    ) {
        self.problem = problem
        self.sizes = sizes ?? problem.defaultSizes
        self.distributions = distributions
        self.samples = samples
        self.repeats = repeats
        self.scale = scale
        self.seed = seed
        self.threads = max(1, threads)
        self.oracleSamples = oracleSamples
        self.maxOracleSamples = maxOracleSamples
        self.oracleScrambles = oracleScrambles
        self.oracleAccuracy = oracleAccuracy
    }

    /// γ as written in titles: "1" rather than "1.0".
    public var scaleText: String {
        scale == scale.rounded() && abs(scale) < 1e15 ? String(Int(scale)) : "\(scale)"
    }

    /// The checks a command line makes before anything runs; messages name the option.
    public func validate() throws(StudyError) {
        for size in sizes where !problem.sizeRange.contains(size) {
            throw .usage(
                "--size for \(problem.rawValue) must be from \(problem.sizeRange.lowerBound) to \(problem.sizeRange.upperBound), got \(size)")
        }
        guard !distributions.isEmpty else { throw .usage("--dist needs at least one distribution") }
        guard samples >= 2 else { throw .usage("--samples must be at least 2, got \(samples)") }
        guard repeats >= 2 else { throw .usage("--repeats must be at least 2 (a confidence interval needs two estimates), got \(repeats)") }
        guard scale.isFinite && scale > 0 else { throw .usage("--scale must be a finite positive number, got \(scale)") }
        // Jacobian entries grow like 1/γ and the errors square them: at 1e-200 they overflow.
        guard (1e-100...1e100).contains(scale) else {
            throw .usage("--scale must lie between 1e-100 and 1e100 for a study (its errors square Jacobian entries of order 1/γ), got \(scale)")
        }
        func isPowerOfTwo(_ value: Int) -> Bool { value > 0 && value & (value - 1) == 0 }
        guard isPowerOfTwo(oracleSamples) && oracleSamples >= 2 * oracleScrambles else {
            throw .usage(
                "--oracle-samples must be a power of two of at least \(2 * oracleScrambles) (\(oracleScrambles) scrambles of 2 or more), got \(oracleSamples)")
        }
        guard isPowerOfTwo(maxOracleSamples) && maxOracleSamples >= oracleSamples else {
            throw .usage("--max-oracle-samples must be a power of two no smaller than --oracle-samples (\(oracleSamples)), got \(maxOracleSamples)")
        }
    }
}

/// One row of the study's results: a configuration and its mean error, or why it was skipped.
public struct StudyRow: Sendable {
    public let configuration: StudyConfiguration
    public let repeats: Int
    /// nil when skipped.
    public let result: JournalEntry?
    public let skippedReason: String?
}

/// Where a running study stands, for a progress display.
public struct StudyProgress: Sendable {
    /// What is being computed, e.g. "n = 5, logistic" or "oracle for n = 7, cauchy (2^20 samples)".
    public let phase: String
    public let estimatesDone: Int
    public let estimatesTotal: Int
}

/// The result of a run: every row, and what was reused or recomputed.
public struct VarianceStudyReport: Sendable {
    public let rows: [StudyRow]
    public let oracles: [OracleJacobian]
    /// Configurations whose results came from the journal of an earlier run.
    public let reusedConfigurations: Int
    /// Configurations computed by this run (against the final oracle).
    public let computedConfigurations: Int
    /// Oracles enlarged because they were not accurate enough, as messages.
    public let enlargements: [String]
}

/// Runs the paper's variance protocol: for each size and distribution, an oracle Jacobian, then
/// for every configuration R independent estimates at the fixed input and their L2 distances to
/// the oracle, appended to the journal as each configuration finishes.
///
/// Parallelism: estimates (configuration × repeat) are independent tasks handed to `threads`
/// workers, each estimate single-threaded with the worker's own black-box instance. An estimate
/// depends only on its configuration and seed (the estimator is bit-identical for any thread
/// count), and every summary is taken in repeat order, so results never depend on scheduling.
public final class VarianceStudy: @unchecked Sendable {
    public let settings: VarianceStudySettings
    public let directory: URL
    private let makeBlackBox: @Sendable (StudyProblem, Int) throws -> any BlackBox
    private let progress: (@Sendable (StudyProgress) -> Void)?
    /// Where estimates run: this process, or every MPI rank (each running the same study).
    private let executor: any ChunkExecutor

    public init(
        settings: VarianceStudySettings, directory: URL,
        makeBlackBox: @escaping @Sendable (StudyProblem, Int) throws -> any BlackBox = { try $0.openBlackBox(size: $1) },
        progress: (@Sendable (StudyProgress) -> Void)? = nil, executor: any ChunkExecutor = LocalChunkExecutor()
    ) {
        self.settings = settings
        self.directory = directory
        self.makeBlackBox = makeBlackBox
        self.progress = progress
        self.executor = executor
    }

    public var journalPath: String { directory.appendingPathComponent("journal.jsonl").path }
    public var oracleDirectory: URL { directory.appendingPathComponent("oracles") }

    /// One (size, distribution): its configurations and its oracle.
    private struct Group {
        let size: Int
        let distribution: Distribution
        let x: [Double]
        let plan: [PlannedConfiguration]
        var oracle: OracleJacobian?
        let label: String
    }

    public func run() throws -> VarianceStudyReport {
        try settings.validate()
        try FileManager.default.createDirectory(at: oracleDirectory, withIntermediateDirectories: true)
        let journal = try StudyJournal(path: journalPath)

        var groups: [Group] = []
        for size in settings.sizes {
            let x = settings.problem.input(size: size)
            for distribution in settings.distributions {
                groups.append(
                    Group(
                        size: size, distribution: distribution, x: x,
                        plan: StudyPlan.configurations(
                            problem: settings.problem, size: size, distribution: distribution, samples: settings.samples),
                        oracle: loadOracle(size: size, distribution: distribution, x: x),
                        label: "\(settings.problem.sizeLabel(size)), \(distribution.rawValue)"))
            }
        }
        try computeExactOracles(&groups)
        // Work known up front: configurations without a journal entry for the oracle on disk
        // (all of a group whose oracle is still to be computed).
        let counter = ProgressCounter(total: groups.reduce(0) { total, group in
            total + group.plan.filter { planned in
                planned.skippedReason == nil
                    && (group.oracle.map { journal.entry(for: key(planned.configuration, group: group, oracle: $0)) == nil } ?? true)
            }.count * settings.repeats
        })

        var rows: [StudyRow] = []
        var oracles: [OracleJacobian] = []
        var computedKeys = Set<JournalEntry.Key>()
        var enlargements: [String] = []
        for group in groups {
            var oracle = try group.oracle ?? computeOracle(group, samples: settings.oracleSamples, counter: counter)
            while true {
                let runnable = group.plan.filter { $0.skippedReason == nil }.map(\.configuration)
                let pending = runnable.filter { journal.entry(for: key($0, group: group, oracle: oracle)) == nil }
                try runEstimates(pending, group: group, oracle: oracle, journal: journal, counter: counter)
                computedKeys.formUnion(pending.map { key($0, group: group, oracle: oracle) })
                let results = runnable.map { journal.entry(for: key($0, group: group, oracle: oracle))! }
                guard let smallest = results.min(by: { $0.meanL2Error < $1.meanL2Error }) else { break }
                let limit = settings.oracleAccuracy * smallest.meanL2Error
                if oracle.error <= limit { break }
                // Not accurate enough: variance falls at least as 1/s for scrambled Sobol', so
                // (error / limit)² more samples suffice; ask for 1.5× that, rounded up to 2^k.
                let needed = Double(oracle.samples) * (oracle.error / limit) * (oracle.error / limit) * 1.5
                var enlarged = oracle.samples * 2
                while Double(enlarged) < needed { enlarged *= 2 }
                let problemText =
                    "the \(oracle.methodName) oracle for \(group.label) (\(samplesText(oracle))) has error "
                    + "\(formatted(oracle.error)), not \(Int((1 / settings.oracleAccuracy).rounded()))× below the smallest mean error "
                    + "\(formatted(smallest.meanL2Error)) (\(smallest.configuration.label))"
                guard oracle.method == .sobolLOO, enlarged <= settings.maxOracleSamples else {
                    throw StudyError.failure(
                        problemText
                            + (oracle.method == .sobolLOO
                                ? "; it would need about \(enlarged) samples: rerun with --max-oracle-samples \(enlarged) or more, "
                                    + "or leave \(group.distribution.rawValue) out with --dist (finished configurations are kept)"
                                : ""))
                }
                enlargements.append(problemText + "; enlarged to \(enlarged) samples and rerun")
                counter.add(total: runnable.count * settings.repeats)
                oracle = try computeOracle(group, samples: enlarged, counter: counter)
            }
            oracles.append(oracle)
            for planned in group.plan {
                let entry = planned.skippedReason == nil
                    ? journal.entry(for: key(planned.configuration, group: group, oracle: oracle)) : nil
                rows.append(
                    StudyRow(
                        configuration: planned.configuration, repeats: settings.repeats, result: entry,
                        skippedReason: planned.skippedReason))
            }
        }
        let finished = rows.compactMap(\.result)
        let computed = finished.filter { computedKeys.contains($0.key) }.count
        return VarianceStudyReport(
            rows: rows, oracles: oracles, reusedConfigurations: finished.count - computed, computedConfigurations: computed,
            enlargements: enlargements)
    }

    private func key(_ configuration: StudyConfiguration, group: Group, oracle: OracleJacobian) -> JournalEntry.Key {
        JournalEntry.Key(
            configuration: configuration, repeats: settings.repeats, scale: settings.scale, seed: settings.seed,
            inputDigest: bitDigest(group.x), oracleDigest: oracle.digest)
    }

    // MARK: - Oracles

    private func oraclePath(size: Int, distribution: Distribution) -> String {
        oracleDirectory.appendingPathComponent("\(settings.problem.rawValue)-\(size)-\(distribution.rawValue).json").path
    }

    /// The oracle saved by an earlier run, if it was made for this input, scale and seed and is
    /// at least as large as this run asks for.
    private func loadOracle(size: Int, distribution: Distribution, x: [Double]) -> OracleJacobian? {
        guard let data = FileManager.default.contents(atPath: oraclePath(size: size, distribution: distribution)),
            let oracle = try? JSONDecoder().decode(OracleJacobian.self, from: data)
        else { return nil }
        let exact = settings.problem.hasExactOracle(size: size)
        guard oracle.problem == settings.problem, oracle.size == size, oracle.distribution == distribution,
            oracle.scale == settings.scale, oracle.inputDigest == bitDigest(x), oracle.seed == settings.seed,
            oracle.method == (exact ? .exact : .sobolLOO),
            exact || (oracle.samples >= settings.oracleSamples && oracle.scrambles == settings.oracleScrambles
                && oracle.samples <= settings.maxOracleSamples),
            // m = n² outputs for sorting, N² for shortest paths: size² either way.
            oracle.jacobian.count == settings.problem.inputCount(size: size) * size * size
        else { return nil }
        return oracle
    }

    /// Exact oracles are single-threaded quadratures: compute the missing ones side by side.
    private func computeExactOracles(_ groups: inout [Group]) throws {
        let missing = groups.indices.filter { groups[$0].oracle == nil && settings.problem.hasExactOracle(size: groups[$0].size) }
        guard !missing.isEmpty else { return }
        let results = OracleSlots(count: missing.count)
        let snapshot = groups
        progress?(StudyProgress(phase: "exact oracles (\(missing.count))", estimatesDone: 0, estimatesTotal: 0))
        WorkerThreads.run(count: min(settings.threads, missing.count)) { [self] _ in
            while let slot = results.claim() {
                let group = snapshot[missing[slot]]
                results.store(
                    OracleBuilder.exact(
                        problem: settings.problem, size: group.size, distribution: group.distribution,
                        scale: settings.scale, x: group.x, seed: settings.seed),
                    at: slot)
            }
        }
        for (slot, index) in missing.enumerated() {
            let oracle = results.oracles[slot]!
            try save(oracle)
            groups[index].oracle = oracle
        }
    }

    private func save(_ oracle: OracleJacobian) throws {
        try writeAtomically(
            try JSONEncoder().encode(oracle), to: oraclePath(size: oracle.size, distribution: oracle.distribution))
    }

    private func computeOracle(_ group: Group, samples: Int, counter: ProgressCounter) throws -> OracleJacobian {
        let oracle: OracleJacobian
        if settings.problem.hasExactOracle(size: group.size) {
            report(counter, phase: "exact oracle for \(group.label)")
            oracle = OracleBuilder.exact(
                problem: settings.problem, size: group.size, distribution: group.distribution, scale: settings.scale,
                x: group.x, seed: settings.seed)
        } else {
            let phase = "oracle for \(group.label) (\(samples) sobol samples)"
            report(counter, phase: phase)
            let scrambles = settings.oracleScrambles
            oracle = try OracleBuilder.sobolLOO(
                problem: settings.problem, size: group.size, distribution: group.distribution, scale: settings.scale,
                x: group.x, blackBox: try makeBlackBox(settings.problem, group.size), samples: samples,
                scrambles: scrambles, seed: settings.seed, threads: settings.threads, executor: executor,
                progress: { [self] done in report(counter, phase: phase + ", scramble \(done)/\(scrambles)") })
        }
        try save(oracle)
        return oracle
    }

    // MARK: - Estimates

    /// Runs every repeat of `configurations` on the worker threads, appending each configuration
    /// to the journal as soon as its last repeat finishes.
    private func runEstimates(
        _ configurations: [StudyConfiguration], group: Group, oracle: OracleJacobian, journal: StudyJournal,
        counter: ProgressCounter
    ) throws {
        guard !configurations.isEmpty else { return }
        let repeats = settings.repeats
        let board = TaskBoard(configurations: configurations.count, repeats: repeats)
        let settings = self.settings
        let phase = group.label
        report(counter, phase: phase)
        let workerCount = min(settings.threads, configurations.count * repeats)
        // Across processes (MPI ranks), one estimate at a time, each on every process's threads,
        // run from this thread (the one that talks to the other processes).
        let executor = self.executor
        let inTurn = executor.processCount > 1
        let work: @Sendable () -> Void = { [self] in
            let blackBox: any BlackBox
            do {
                blackBox = try makeBlackBox(settings.problem, group.size)
            } catch {
                board.fail(error)
                return
            }
            while let (index, repetition) = board.claim() {
                let configuration = configurations[index]
                do {
                    let smoothing = SmoothingConfiguration(
                        distribution: configuration.distribution, scale: [settings.scale], samples: configuration.samples,
                        sampler: configuration.sampler, antithetic: configuration.antithetic,
                        covariate: configuration.covariate,
                        seed: StudySeeds.estimate(base: settings.seed, repeat: repetition))
                    let estimate = try Smoother(configuration: smoothing, threads: inTurn ? settings.threads : 1, executor: executor)
                        .estimate(blackBox, at: group.x)
                    let error = frobeniusDistance(estimate.jacobian, oracle.jacobian)
                    if let errors = board.finish(index, repetition, error: error) {
                        let interval = MeanInterval(errors)
                        try journal.append(
                            JournalEntry(
                                configuration: configuration, repeats: repeats, scale: settings.scale,
                                seed: settings.seed, inputDigest: bitDigest(group.x), oracleDigest: oracle.digest,
                                oracleMethod: oracle.method, oracleSamples: oracle.samples, oracleError: oracle.error,
                                errors: errors, meanL2Error: interval.mean, ci95Low: interval.low, ci95High: interval.high))
                    }
                    counter.add(done: 1)
                    report(counter, phase: phase)
                } catch {
                    board.fail(error)
                    return
                }
            }
        }
        if inTurn {
            work()
        } else {
            WorkerThreads.run(count: workerCount) { _ in work() }
        }
        if let error = board.error { throw error }
    }

    private func report(_ counter: ProgressCounter, phase: String) {
        guard let progress else { return }
        let (done, total) = counter.snapshot
        progress(StudyProgress(phase: phase, estimatesDone: done, estimatesTotal: total))
    }

    private func samplesText(_ oracle: OracleJacobian) -> String {
        oracle.method == .exact ? "exact" : "\(oracle.samples) samples in \(oracle.scrambles) scrambles"
    }
}

private func formatted(_ value: Double) -> String { String(cFormat: "%.3g", value) }

/// The (configuration, repeat) tasks of one batch: handed out in order, results kept by repeat.
private final class TaskBoard: @unchecked Sendable {
    private let lock = Lock()
    private let repeats: Int
    private let total: Int
    private var next = 0
    private var errors: [[Double]]
    private var remaining: [Int]
    private var storedError: (any Error)?
    var error: (any Error)? { lock.withLock { storedError } }

    init(configurations: Int, repeats: Int) {
        self.repeats = repeats
        total = configurations * repeats
        errors = Array(repeating: Array(repeating: .nan, count: repeats), count: configurations)
        remaining = Array(repeating: repeats, count: configurations)
    }

    /// The next task, or nil when all are handed out or one has failed.
    func claim() -> (Int, Int)? {
        lock.withLock {
            guard storedError == nil, next < total else { return nil }
            defer { next += 1 }
            return (next / repeats, next % repeats)
        }
    }

    /// Records one error; returns the configuration's errors, in repeat order, once all are in.
    func finish(_ configuration: Int, _ repetition: Int, error: Double) -> [Double]? {
        lock.withLock {
            errors[configuration][repetition] = error
            remaining[configuration] -= 1
            return remaining[configuration] == 0 ? errors[configuration] : nil
        }
    }

    func fail(_ error: any Error) {
        lock.withLock { if storedError == nil { storedError = error } }
    }
}

/// Oracles computed by workers, one slot each, handed out in order.
private final class OracleSlots: @unchecked Sendable {
    private let lock = Lock()
    private var next = 0
    private var stored: [OracleJacobian?]

    init(count: Int) { stored = Array(repeating: nil, count: count) }

    func claim() -> Int? {
        lock.withLock {
            guard next < stored.count else { return nil }
            defer { next += 1 }
            return next
        }
    }

    func store(_ oracle: OracleJacobian, at slot: Int) { lock.withLock { stored[slot] = oracle } }

    var oracles: [OracleJacobian?] { lock.withLock { stored } }
}

/// Estimates done and planned, shared by the workers.
private final class ProgressCounter: @unchecked Sendable {
    private let lock = Lock()
    private var done = 0
    private var total: Int

    init(total: Int) { self.total = total }

    func add(done extra: Int = 0, total more: Int = 0) {
        lock.withLock {
            done += extra
            total += more
        }
    }

    var snapshot: (Int, Int) { lock.withLock { (done, total) } }
}

/// Writes to a temporary file in the same directory and renames it over `path`, so readers see
/// the old file or the whole new one, never a half-written one.
public func writeAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
    do {
        try data.write(to: temporary)
        guard rename(temporary.path, path) == 0 else {
            throw StudyError.failure("cannot rename '\(temporary.path)' to '\(path)' (\(String(cString: strerror(errno))))")
        }
    } catch let error as StudyError {
        try? FileManager.default.removeItem(at: temporary)
        throw error
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw StudyError.failure("cannot write '\(path)' (\(fileErrorDescription(error)))")
    }
}
