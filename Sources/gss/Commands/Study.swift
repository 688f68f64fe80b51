import ArgumentParser
import FoundationEssentials
import Glibc
import GSSCore
import GSSHost
import GSSStudy

struct Study: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "study",
        abstract: "Studies that tell which smoothing settings to use.",
        subcommands: [StudyVariance.self])
}

extension StudyProblem: ExpressibleByArgument {}

/// `gss study variance`: the paper's section 4.1 protocol (Figures 3 and 4).
struct StudyVariance: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "variance",
        abstract: "Compare the error of every distribution × sampler × covariate × antithetic choice (the paper's Figures 3–4).",
        discussion: """
            For each size and distribution, every configuration (samplers mc, qmc-latin, rqmc-latin, \
            rqmc-cartesian, sobol; covariates none, fx, loo; regular and antithetic) estimates the \
            Jacobian R times with different seeds at a fixed input, and reports the mean L2 (Frobenius) \
            distance to an oracle Jacobian with its 95% t-interval. Inputs: for sorting, n standard-normal \
            numbers from a fixed Philox seed; for shortest paths, an N×N grid of costs uniform in [0.5, 5) \
            from a fixed seed (neither depends on --seed). Oracle: the exact smoothed permutation matrix \
            for sorting with n ≤ 5; otherwise the mean of 16 scrambled-Sobol' LOO estimates, whose error \
            (from their spread) must be 10× below the smallest mean error, or the oracle is enlarged up to \
            --max-oracle-samples, or the study fails. rqmc-cartesian uses the largest k^n grid ≤ s within \
            5% of s (1000 for s = 1024 at n = 3), and is skipped otherwise; configurations a sampler \
            refuses are skipped with the reason in the CSV. Finished configurations are appended to \
            DIR/journal.jsonl, so an interrupted study resumes where it stopped; DIR/variance.csv, \
            DIR/variance.svg (Figure 3's layout) and DIR/summary.md (best configurations, the paper's \
            conclusions as error ratios) are written atomically when the study completes. Oracles are \
            kept in DIR/oracles. Results are the same for any --threads.
            """)

    @Option(help: "The black box: sorting (sorter plugin) or shortest-path.")
    var problem: StudyProblem

    @Option(parsing: .unconditional, help: "One size: n numbers to sort, or an N×N grid. Default: sorting 3, 5, 7, 10; shortest-path 8, 12.",
            transform: NumberArgument.wholeNumber)
    var size: Int?

    @Option(parsing: .unconditional, help: "Independent estimates per configuration (at least 2). (default: 64)", transform: NumberArgument.wholeNumber)
    var repeats: Int = 64

    @Option(parsing: .unconditional, help: "Samples s per estimate. (default: 1024)", transform: NumberArgument.wholeNumber)
    var samples: Int = 1024

    @Option(
        name: .customLong("dist"), parsing: .singleValue,
        help: ArgumentHelp("Distributions to study, comma-separated or repeated. Default: all seven.", valueName: "names"),
        transform: StudyVariance.parseDistributions)
    var distributions: [[Distribution]] = []

    @Option(parsing: .unconditional, help: ArgumentHelp("γ > 0, the same for every input. (default: 1)", valueName: "γ"), transform: NumberArgument.number)
    var scale: Double = 1

    @Option(parsing: .unconditional, help: "Base seed: repeat r of every configuration uses a seed derived from it. (default: 0)", transform: NumberArgument.seed)
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "Worker threads. Default: all cores. Results do not depend on it.", transform: NumberArgument.wholeNumber)
    var threads: Int?

    @Option(parsing: .unconditional, help: "Initial samples of a Sobol' oracle (a power of two, split into 16 scrambles). (default: 1048576)",
            transform: NumberArgument.wholeNumber)
    var oracleSamples: Int = 1 << 20

    @Option(parsing: .unconditional,
            help: "The most samples a Sobol' oracle may grow to when it is not 10× more accurate than the best configuration. (default: 16777216)",
            transform: NumberArgument.wholeNumber)
    var maxOracleSamples: Int = 1 << 24

    @Option(help: ArgumentHelp("The output directory (created if needed).", valueName: "DIR"))
    var out: String

    static func parseDistributions(_ text: String) throws -> [Distribution] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { part in
            let name = part.trimmingSpaces()
            guard let distribution = Distribution(rawValue: name) else {
                throw ValidationError(
                    "\(quotedInput(name)) is not a distribution; expected one or more of \(Distribution.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return distribution
        }
    }

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        do {
            try settings().validate()
        } catch {
            throw ValidationError(error.description)
        }
        try PictureFolder.refuseFileInTheWay(of: out)
    }

    func settings() -> VarianceStudySettings {
        var chosen: [Distribution] = []
        for distribution in distributions.joined() where !chosen.contains(distribution) { chosen.append(distribution) }
        return VarianceStudySettings(
            problem: problem, sizes: size.map { [$0] }, distributions: chosen.isEmpty ? Distribution.allCases : chosen,
            samples: samples, repeats: repeats, scale: scale, seed: seed,
            threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, oracleSamples: oracleSamples,
            maxOracleSamples: maxOracleSamples)
    }

    func run() throws {
        let settings = settings()
        let executor = try Ranks.executor(journal: nil)
        let directory = try Self.studyDirectory(out, executor: executor)
        defer { if !executor.isCoordinator { try? FileManager.default.removeItem(at: directory) } }
        let display = ProgressDisplay()
        var progress: (@Sendable (StudyProgress) -> Void)?
        if executor.isCoordinator { progress = { display.update($0) } }
        let study = VarianceStudy(settings: settings, directory: directory, progress: progress, executor: executor)
        let started = Date()
        let report: VarianceStudyReport
        do {
            report = try study.run()
            try StudyOutputs.write(report.rows, oracles: report.oracles, settings: settings, to: directory)
        } catch let error as StudyError {
            display.finish()
            throw error.isUsageError ? CommandError.usage(error.description) : CommandError.failure(error.description)
        }
        display.finish()
        for enlargement in report.enlargements where executor.isCoordinator {
            StandardError.write("note: \(enlargement)\n")
        }
        Self.printSummary(report, settings: settings, directory: directory, seconds: Date().timeIntervalSince(started))
    }

    /// The study's directory, created on rank 0. Under MPI every rank runs the same study, deciding
    /// alike what to compute: the other ranks work in a private copy of what rank 0's directory
    /// holds (its journal and oracles), and only rank 0 writes to `out`.
    static func studyDirectory(_ out: String, executor: any ChunkExecutor) throws -> URL {
        let directory = URL(fileURLWithPath: out)
        let kept = ["journal.jsonl"]
        let files = try executor.fromCoordinator(studyFilesCodec, recorded: false) { () throws -> [(String, [UInt8])] in
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw CommandError.usage("cannot create the output directory \(quotedInput(out)) (\(fileErrorDescription(error)))")
            }
            guard executor.processCount > 1 else { return [] }
            let oracles = (try? FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("oracles").path)) ?? []
            return (kept + oracles.sorted().map { "oracles/" + $0 }).compactMap { name in
                FileManager.default.contents(atPath: directory.appendingPathComponent(name).path).map { (name, Array($0)) }
            }
        }
        guard !executor.isCoordinator else { return directory }
        let copy = FileManager.default.temporaryDirectory
            .appendingPathComponent("gss-study-rank\(MPILaunch.environmentRank ?? 0)-\(getpid())")
        try? FileManager.default.removeItem(at: copy)
        try FileManager.default.createDirectory(at: copy.appendingPathComponent("oracles"), withIntermediateDirectories: true)
        for (name, bytes) in files {
            try Data(bytes).write(to: copy.appendingPathComponent(name))
        }
        return copy
    }

    /// Files as (name, bytes) numbers.
    static let studyFilesCodec = ExchangeCodec<[(String, [UInt8])]>(
        encode: { files in
            var writer = ExchangeWriter()
            writer.append(files.count)
            for (name, bytes) in files {
                writer.append(name)
                writer.append(counted: bytes.map { Double($0) })
            }
            return writer.values
        },
        decode: { values in
            var reader = ExchangeReader(values)
            var files: [(String, [UInt8])] = []
            for _ in 0..<(try reader.count(atMost: values.count)) {
                let name = try reader.string()
                files.append((name, try reader.countedDoubles().map { UInt8(clamping: Int($0)) }))
            }
            try reader.finish()
            return files
        })

    static func printSummary(_ report: VarianceStudyReport, settings: VarianceStudySettings, directory: URL, seconds: Double) {
        let skipped = report.rows.filter { $0.result == nil }.count
        print(
            "\(report.rows.count) configurations: \(report.computedConfigurations) computed, "
                + "\(report.reusedConfigurations) reused from the journal, \(skipped) skipped (\(String(cFormat: "%.1f", seconds)) s)")
        print("wrote variance.csv, variance.svg and summary.md in \(directory.path)")
        print("")
        print("best configuration per size and distribution (mean L2 error, 95% CI; oracle error):")
        for size in settings.sizes {
            for distribution in settings.distributions {
                let results = report.rows.compactMap(\.result).filter {
                    $0.configuration.size == size && $0.configuration.distribution == distribution
                }
                guard let best = results.min(by: { $0.meanL2Error < $1.meanL2Error }) else { continue }
                print(
                    "  \(settings.problem.sizeLabel(size))  \(distribution.rawValue.padded(to: 10))  "
                        + "\(best.configuration.label.padded(to: 34))  "
                        + String(cFormat: "%.4g [%.4g, %.4g]; %.2g", best.meanL2Error, best.ci95Low, best.ci95High, best.oracleError))
            }
        }
    }
}

/// Progress on stderr: a bar redrawn in place on a terminal, else a plain line every 10 seconds.
final class ProgressDisplay: @unchecked Sendable {
    private let lock = Lock()
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private let started = Date()
    /// A terminal's bar appears at once; a log's first line only after its interval, so that a
    /// quick study prints no stale "0%" line.
    private lazy var lastDrawn = isTerminal ? Date.distantPast : started
    private var drewBar = false

    func update(_ progress: StudyProgress) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        let interval = isTerminal ? 0.2 : 10
        guard now.timeIntervalSince(lastDrawn) >= interval else { return }
        lastDrawn = now
        let fraction = progress.estimatesTotal > 0 ? Double(progress.estimatesDone) / Double(progress.estimatesTotal) : 0
        let elapsed = now.timeIntervalSince(started)
        var timing = "\(Self.duration(elapsed)) elapsed"
        if fraction > 0.02 && fraction < 1 { timing += ", ~\(Self.duration(elapsed * (1 - fraction) / fraction)) left" }
        let counts = "\(Int((fraction * 100).rounded(.down)))% (\(progress.estimatesDone)/\(progress.estimatesTotal) estimates)"
        if isTerminal {
            let width = 24
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            StandardError.write("\r\u{1B}[K[\(bar)] \(counts) · \(progress.phase) · \(timing)")
            drewBar = true
        } else {
            StandardError.write("gss study: \(counts), \(progress.phase), \(timing)\n")
        }
    }

    /// Clears the bar so later lines start clean.
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if drewBar { StandardError.write("\r\u{1B}[K") }
        drewBar = false
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 60 ? "\(total / 60)m\(String(cFormat: "%02d", total % 60))s" : "\(total)s"
    }
}
