import ArgumentParser
import CGSSVectorMath
import Foundation
import GSSCore
import GSSHost

/// In-process timings for bench/run.py: the Swift library API, and the black box alone on the
/// same perturbed batches (the limit the estimator approaches). Prints one JSON object per call.
@main
struct GSSBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gss-bench",
        abstract: "Times the Swift API and the black box alone (for bench/run.py).",
        subcommands: [API.self, BlackBoxOnly.self, Overhead.self])
}

/// What every timing needs: the plugin, its options, the point and the smoothing settings.
struct CaseOptions: ParsableArguments {
    @Argument(help: "A bundled plugin id or a plugin path.")
    var plugin: String

    @Option(name: .customShort("o"), help: "A plugin option key=value (repeatable).")
    var options: [String] = []

    @Option(name: .customLong("x"), parsing: .unconditional, help: "The point, comma-separated. Default: the plugin's own.")
    var point: String?

    @Option var samples = 1024
    @Option var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option var dist: String = "logistic"
    @Option var sampler: String = "rqmc-latin"
    @Option var covariate: String = "loo"
    @Option(help: "Timed repetitions after one untimed warm-up.") var repeats = 3
    @Option var seed: UInt64 = 1

    func blackBox() throws -> PluginBlackBox {
        let pairs = options.map { option -> (key: String, value: String) in
            let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }
        return try PluginBlackBox(library: PluginLocator.open(plugin), options: pairs)
    }

    func x(for box: PluginBlackBox) -> [Double] {
        if let point { return point.split(separator: ",").map { Double($0)! } }
        return box.primary.defaultInput() ?? Array(repeating: 0, count: box.inputCount)
    }

    func configuration(seed: UInt64) throws -> SmoothingConfiguration {
        guard let distribution = Distribution(rawValue: dist), let strategy = SamplingStrategy(rawValue: sampler),
            let baseline = Covariate(rawValue: covariate)
        else { throw ValidationError("unknown --dist, --sampler or --covariate") }
        return SmoothingConfiguration(
            distribution: distribution, scale: [1], samples: samples, sampler: strategy, covariate: baseline, seed: seed)
    }
}

/// Wall-clock seconds of `body`, and its result.
func timed<T>(_ body: () throws -> T) rethrows -> (Double, T) {
    let start = DispatchTime.now().uptimeNanoseconds
    let result = try body()
    return (Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9, result)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

func printJSON(_ object: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

struct API: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Smoother.estimate on a plugin, in process.")
    @OptionGroup var bench: CaseOptions

    func run() throws {
        let box = try bench.blackBox()
        let x = bench.x(for: box)
        var times: [Double] = []
        var checksum = 0.0
        // One smoother, as a loop of estimates would use it (it keeps its scratch memory between them).
        var smoother = Smoother(configuration: try bench.configuration(seed: bench.seed), threads: bench.threads)
        for repetition in 0...bench.repeats {
            smoother.configuration.seed = bench.seed + UInt64(repetition)
            let (seconds, estimate) = try timed { try smoother.estimate(box, at: x) }
            checksum += estimate.jacobian.reduce(0, +)
            if repetition > 0 { times.append(seconds) }
        }
        try printJSON([
            "contender": "swift-api", "plugin": bench.plugin, "samples": bench.samples, "threads": bench.threads,
            "times": times, "median_seconds": median(times), "checksum": checksum,
        ])
    }
}

struct BlackBoxOnly: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "f-only",
        abstract: "The black box alone on the estimator's perturbed batches, on the same threads and chunks.",
        discussion: """
            Two timings: 'pipeline' produces each batch as the estimator does (sampler, inverse CDF, \
            x + γε) and evaluates it, with no scores and no sums; 'evaluate' replays batches made \
            beforehand, so only the black box's calls are timed.
            """)
    @OptionGroup var bench: CaseOptions

    func run() throws {
        let alone = try BlackBoxAlone(bench: bench)
        var pipelineTimes: [Double] = []
        for repetition in 0...bench.repeats {
            let seconds = alone.timePipeline()
            if repetition > 0 { pipelineTimes.append(seconds) }
        }
        alone.makeAllBatches()
        var evaluateTimes: [Double] = []
        for repetition in 0...bench.repeats {
            let seconds = alone.timeReplay()
            if repetition > 0 { evaluateTimes.append(seconds) }
        }
        try printJSON([
            "contender": "f-only", "plugin": bench.plugin, "samples": bench.samples, "threads": bench.threads,
            "rows_per_chunk": alone.rows,
            "pipeline_times": pipelineTimes, "pipeline_median_seconds": median(pipelineTimes),
            "evaluate_times": evaluateTimes, "evaluate_median_seconds": median(evaluateTimes),
        ])
    }
}

/// The estimator's time over the black box's alone, measured in pairs: each repetition runs
/// `Smoother.estimate` and the f-only pipeline back to back (alternating which goes first), so
/// drift in the machine's speed hits both halves of a pair alike and cancels in its ratio.
struct Overhead: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Smoother.estimate and the f-only pipeline, timed in alternating pairs; the median ratio.")
    @OptionGroup var bench: CaseOptions

    func run() throws {
        let alone = try BlackBoxAlone(bench: bench)
        let x = alone.x
        var (estimateTimes, pipelineTimes, ratios) = ([Double](), [Double](), [Double]())
        let smoother = Smoother(configuration: try bench.configuration(seed: bench.seed), threads: bench.threads)
        for repetition in 0...bench.repeats {
            func estimate() throws -> Double { try timed { try smoother.estimate(alone.box, at: x) }.0 }
            let (total, limit): (Double, Double)
            if repetition % 2 == 0 {
                total = try estimate()
                limit = alone.timePipeline()
            } else {
                limit = alone.timePipeline()
                total = try estimate()
            }
            guard repetition > 0 else { continue }  // warm-up
            estimateTimes.append(total)
            pipelineTimes.append(limit)
            ratios.append(total / limit)
        }
        try printJSON([
            "contender": "overhead", "plugin": bench.plugin, "samples": bench.samples, "threads": bench.threads,
            "estimate_times": estimateTimes, "pipeline_times": pipelineTimes, "ratios": ratios,
            "median_ratio": median(ratios),
        ])
    }
}

/// The black box alone on the estimator's chunks and threads: either producing each batch as the
/// estimator does (sampler, inverse CDF, x + γε) or replaying batches made beforehand.
final class BlackBoxAlone {
    let box: PluginBlackBox
    let x: [Double]
    let rows: Int
    private let samples, chunks, workers: Int
    private let shared: Shared
    private let makeInputs: @Sendable (_ chunk: Int, _ inputs: UnsafeMutablePointer<Double>, _ lane: Lane) -> Int
    private var replay: Replay?

    init(bench: CaseOptions) throws {
        box = try bench.blackBox()
        let x = bench.x(for: box)
        self.x = x
        let (n, m, s) = (box.inputCount, box.outputCount, bench.samples)
        let rows = Smoother.rowsPerChunk(samples: s, inputCount: n, outputCount: m)
        (self.rows, samples, chunks) = (rows, s, (s + rows - 1) / rows)
        workers = max(1, min(bench.threads, chunks))
        let configuration = try bench.configuration(seed: bench.seed)
        let points = try PointSet(strategy: configuration.sampler, antithetic: false, count: s, dimension: n, seed: bench.seed)
        let distribution = configuration.distribution
        let scale = [Double](repeating: 1, count: n)
        shared = Shared(evaluators: try box.makeEvaluators(count: workers), lanes: (0..<workers).map { _ in Lane(rows: rows, n: n, m: m) })
        // One chunk's perturbed inputs x + γε (γ = 1, as run.py asks), made as the estimator makes them.
        makeInputs = { chunk, inputs, lane in
            let start = chunk * rows
            let count = min(rows, s - start)
            points.fill(start: start, rows: count, into: lane.uniforms)
            distribution.transform(uniforms: lane.uniforms, count: count * n, noise: lane.noise, score: lane.scores)
            gss_perturb_rows(x, scale, lane.noise, count, n, inputs)
            return count
        }
    }

    /// Seconds to produce and evaluate every chunk.
    func timePipeline() -> Double {
        let (shared, makeInputs) = (shared, makeInputs)
        return timed {
            runChunks { worker, chunk in
                let lane = shared.lanes[worker]
                let count = makeInputs(chunk, lane.inputs, lane)
                try! shared.evaluators[worker].evaluate(lane.inputs, rows: count, into: lane.outputs)
            }
        }.0
    }

    /// Makes every chunk's inputs (s × n numbers) for `timeReplay`.
    func makeAllBatches() {
        let n = box.inputCount
        let all = UnsafeMutablePointer<Double>.allocate(capacity: samples * n)
        for chunk in 0..<chunks { _ = makeInputs(chunk, all + chunk * rows * n, shared.lanes[0]) }
        replay = Replay(inputs: all)
    }

    /// Seconds to evaluate the batches `makeAllBatches` made: the black box's calls alone.
    func timeReplay() -> Double {
        let (shared, replay, rows, samples, n) = (shared, replay!, rows, samples, box.inputCount)
        return timed {
            runChunks { worker, chunk in
                let count = min(rows, samples - chunk * rows)
                try! shared.evaluators[worker].evaluate(replay.inputs + chunk * rows * n, rows: count, into: shared.lanes[worker].outputs)
            }
        }.0
    }

    /// Chunks are claimed in order from a shared counter, as the estimator's workers do.
    private func runChunks(_ body: @escaping @Sendable (_ worker: Int, _ chunk: Int) -> Void) {
        let (next, chunks) = (Counter(), chunks)
        WorkerThreads.run(count: workers) { worker in
            while let chunk = next.claim(below: chunks) { body(worker, chunk) }
        }
    }

    /// A worker's buffers.
    final class Lane: @unchecked Sendable {
        let uniforms, noise, scores, inputs, outputs: UnsafeMutablePointer<Double>
        init(rows: Int, n: Int, m: Int) {
            (uniforms, noise, scores, inputs) = (.allocate(capacity: rows * n), .allocate(capacity: rows * n),
                .allocate(capacity: rows * n), .allocate(capacity: rows * n))
            outputs = .allocate(capacity: rows * m)
        }
        deinit {
            for buffer in [uniforms, noise, scores, inputs, outputs] { buffer.deallocate() }
        }
    }

    /// Worker k only touches evaluator k and lane k.
    final class Shared: @unchecked Sendable {
        let evaluators: [any BatchEvaluator]
        let lanes: [Lane]
        init(evaluators: [any BatchEvaluator], lanes: [Lane]) {
            self.evaluators = evaluators
            self.lanes = lanes
        }
    }

    final class Replay: @unchecked Sendable {
        let inputs: UnsafeMutablePointer<Double>
        init(inputs: UnsafeMutablePointer<Double>) { self.inputs = inputs }
        deinit { inputs.deallocate() }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func claim(below limit: Int) -> Int? {
            lock.lock()
            defer { lock.unlock() }
            guard value < limit else { return nil }
            value += 1
            return value - 1
        }
    }
}
