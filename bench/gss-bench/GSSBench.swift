import ArgumentParser
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
        subcommands: [API.self, BlackBoxOnly.self])
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
        for repetition in 0...bench.repeats {
            let smoother = Smoother(configuration: try bench.configuration(seed: bench.seed + UInt64(repetition)), threads: bench.threads)
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
        let box = try bench.blackBox()
        let x = bench.x(for: box)
        let (n, m, s) = (box.inputCount, box.outputCount, bench.samples)
        let rows = Smoother.rowsPerChunk(samples: s, inputCount: n, outputCount: m)
        let chunks = (s + rows - 1) / rows
        let workers = max(1, min(bench.threads, chunks))
        let evaluators = try box.makeEvaluators(count: workers)
        let configuration = try bench.configuration(seed: bench.seed)
        let points = try PointSet(strategy: configuration.sampler, antithetic: false, count: s, dimension: n, seed: bench.seed)
        let distribution = configuration.distribution

        // One chunk's perturbed inputs x + γε (γ = 1, as run.py asks), as the estimator makes them.
        @Sendable func makeInputs(chunk: Int, into inputs: UnsafeMutablePointer<Double>, lane: Lane) -> Int {
            let start = chunk * rows
            let count = min(rows, s - start)
            points.fill(start: start, rows: count, into: lane.uniforms)
            distribution.transform(uniforms: lane.uniforms, count: count * n, noise: lane.noise, score: lane.scores)
            for r in 0..<count {
                for j in 0..<n { inputs[r * n + j] = x[j] + lane.noise[r * n + j] }
            }
            return count
        }

        /// Chunks are claimed in order from a shared counter, as the estimator's workers do.
        func runChunks(_ body: @escaping @Sendable (_ worker: Int, _ chunk: Int) -> Void) {
            let next = Counter()
            WorkerThreads.run(count: workers) { worker in
                while let chunk = next.claim(below: chunks) { body(worker, chunk) }
            }
        }

        let lanes = (0..<workers).map { _ in Lane(rows: rows, n: n, m: m) }
        let shared = Shared(evaluators: evaluators, lanes: lanes)
        var pipelineTimes: [Double] = []
        for repetition in 0...bench.repeats {
            let (seconds, _) = timed {
                runChunks { worker, chunk in
                    let lane = shared.lanes[worker]
                    let count = makeInputs(chunk: chunk, into: lane.inputs, lane: lane)
                    try! shared.evaluators[worker].evaluate(lane.inputs, rows: count, into: lane.outputs)
                }
            }
            if repetition > 0 { pipelineTimes.append(seconds) }
        }

        // All batches made first (s × n numbers), then only the calls are timed.
        let all = UnsafeMutablePointer<Double>.allocate(capacity: s * n)
        defer { all.deallocate() }
        for chunk in 0..<chunks { _ = makeInputs(chunk: chunk, into: all + chunk * rows * n, lane: lanes[0]) }
        let replay = Replay(inputs: all)
        var evaluateTimes: [Double] = []
        for repetition in 0...bench.repeats {
            let (seconds, _) = timed {
                runChunks { worker, chunk in
                    let count = min(rows, s - chunk * rows)
                    try! shared.evaluators[worker].evaluate(replay.inputs + chunk * rows * n, rows: count, into: shared.lanes[worker].outputs)
                }
            }
            if repetition > 0 { evaluateTimes.append(seconds) }
        }
        try printJSON([
            "contender": "f-only", "plugin": bench.plugin, "samples": s, "threads": bench.threads, "rows_per_chunk": rows,
            "pipeline_times": pipelineTimes, "pipeline_median_seconds": median(pipelineTimes),
            "evaluate_times": evaluateTimes, "evaluate_median_seconds": median(evaluateTimes),
        ])
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
