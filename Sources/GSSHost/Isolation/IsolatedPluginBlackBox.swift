import CGSSPlugin
import GSSCore
import Glibc

/// How isolated plugins are run.
public struct IsolationSettings: Sendable {
    /// The gss binary, started as `gss worker evaluate …` for every worker.
    public var workerExecutable: String
    /// Seconds one evaluate call may take before its worker is killed (nil: no limit).
    public var evaluationTimeout: Double?

    public init(workerExecutable: String, evaluationTimeout: Double? = nil) {
        self.workerExecutable = workerExecutable
        self.evaluationTimeout = evaluationTimeout
    }

    /// Starting a worker (exec, dynamic loading, dlopen, create) may take this much longer than
    /// one evaluate call before it counts as hung.
    static let startupAllowance = 10.0
}

/// A plugin evaluated in worker processes — the gss binary in worker mode, one per evaluator —
/// so that a crash (a signal), a hang or an exit inside the plugin fails the run with a clear
/// PluginError instead of taking gss down. Batches cross in shared memory; a socket carries the
/// requests, the replies and the verdict on a worker's death (EOF).
///
/// Nothing of the plugin is loaded into this process: the first worker describes it (n, m,
/// default input, output shape) and serves evaluator 0.
public struct IsolatedPluginBlackBox: BlackBox {
    public struct Description: Sendable {
        public let id: String
        public let inputCount: Int
        public let outputCount: Int
        public let outputShape: [Int]
        public let defaultInput: [Double]?
        public let typicalScale: [Double]?
        public let flags: UInt64

        public var isReentrant: Bool { flags & UInt64(GSS_F_REENTRANT) != 0 }
        public var isDeterministic: Bool { flags & UInt64(GSS_F_DETERMINISTIC) != 0 }
    }

    public let pluginPath: String
    public let options: [PluginOption]
    public let settings: IsolationSettings
    public let description: Description
    /// The first worker: it described the plugin and serves evaluator 0.
    let primary: IsolatedEvaluator

    /// Starts the first worker, which loads, validates and instantiates the plugin. Throws the
    /// same PluginError as in-process loading would (e.g. `.missingEntry`), or `.workerCrashed` /
    /// `.workerTimedOut` when the plugin dies or hangs while starting.
    public init(pluginPath: String, options: [PluginOption], settings: IsolationSettings) throws(PluginError) {
        self.pluginPath = pluginPath
        self.options = options
        self.settings = settings
        let worker = try IsolatedEvaluator.start(pluginPath: pluginPath, options: options, settings: settings)
        description = try worker.awaitHello(expecting: nil)
        primary = worker
    }

    public var inputCount: Int { description.inputCount }
    public var outputCount: Int { description.outputCount }
    public var displayName: String { "plugin '\(description.id)'" }
    /// Every call is a round trip to a worker process (tens of µs): batches of several chunks.
    public var preferredBatchRows: Int { 4096 }

    /// The first worker's process id (tests check that it is reaped).
    public var primaryWorkerProcess: Int32 { primary.processID }

    /// Evaluator 0 is the first worker; the others are new workers, started together and then
    /// awaited, so their start-up overlaps.
    public func makeEvaluators(count: Int) throws -> [any BatchEvaluator] {
        var started: [IsolatedEvaluator] = []
        for _ in 1..<max(count, 1) {
            started.append(try IsolatedEvaluator.start(pluginPath: pluginPath, options: options, settings: settings))
        }
        for worker in started { _ = try worker.awaitHello(expecting: description) }
        return [primary] + started
    }
}

/// One worker process and the shared memory its batches cross. Used by one thread at a time
/// (BatchEvaluator's rule); once its worker has died it refuses every further call.
final class IsolatedEvaluator: BatchEvaluator, @unchecked Sendable {
    private let connection: WorkerConnection
    private let memory: SharedMemory
    private let settings: IsolationSettings
    private let pluginPath: String
    private let options: [PluginOption]
    /// Whether a crashed batch is rerun in halves to find its culprit row (not by the workers
    /// that do the rerunning).
    private var findsCulprits = true
    private var inputCount = 0
    private var outputCount = 0
    /// Set once the worker is gone: every later call fails with it.
    private var brokenBy: PluginError?

    var processID: Int32 { connection.process.pid }

    private init(
        connection: WorkerConnection, memory: SharedMemory, settings: IsolationSettings, pluginPath: String,
        options: [PluginOption]
    ) {
        self.connection = connection
        self.memory = memory
        self.settings = settings
        self.pluginPath = pluginPath
        self.options = options
    }

    static func start(pluginPath: String, options: [PluginOption], settings: IsolationSettings) throws(PluginError) -> IsolatedEvaluator {
        do {
            let memory = try SharedMemory()
            let invocation = WorkerInvocation(role: .evaluate, pluginPath: pluginPath, options: options, parent: getpid())
            let connection = try WorkerConnection(
                executable: settings.workerExecutable, invocation: invocation, sharedMemory: memory)
            return IsolatedEvaluator(
                connection: connection, memory: memory, settings: settings, pluginPath: pluginPath, options: options)
        } catch {
            throw PluginError(.workerFailed, "cannot start a worker process for plugin '\(pluginPath)': \(error)")
        }
    }

    /// Waits for the worker's hello; rethrows its PluginError, or explains its death. A later
    /// worker must describe the same sizes as the first (`expecting`).
    func awaitHello(expecting expected: IsolatedPluginBlackBox.Description?) throws(PluginError) -> IsolatedPluginBlackBox.Description {
        let limit = settings.evaluationTimeout.map { $0 + IsolationSettings.startupAllowance }
        let frame: (kind: UInt8, payload: [UInt8])
        do {
            frame = try connection.nextFrame(deadline: limit.map { ContinuousClock.now.advanced(bySeconds: $0) })
        } catch {
            throw fail(error, doing: "while starting (loading the plugin and creating its instance)", limit: limit)
        }
        let hello: WorkerHello
        do {
            guard frame.kind == FrameKind.hello.rawValue else { throw ChannelError.malformed("a message of kind \(frame.kind) instead of hello") }
            hello = try WorkerHello.decode(frame.payload)
        } catch {
            throw fail(error, doing: "while starting", limit: nil)
        }
        if let failure = hello.failure {
            connection.finish(grace: 5)
            throw PluginError(PluginError.Code(rawValue: failure.code) ?? .workerFailed, failure.message)
        }
        guard let described = hello.description else {
            throw fail(ChannelError.malformed("a hello without a description"), doing: "while starting", limit: nil)
        }
        if let expected, expected.inputCount != described.inputCount || expected.outputCount != described.outputCount {
            throw fail(
                ChannelError.malformed("n = \(described.inputCount), m = \(described.outputCount) where the first worker's instance had n = \(expected.inputCount), m = \(expected.outputCount)"),
                doing: "while starting", limit: nil)
        }
        inputCount = described.inputCount
        outputCount = described.outputCount
        return IsolatedPluginBlackBox.Description(
            id: described.id, inputCount: described.inputCount, outputCount: described.outputCount,
            outputShape: described.outputShape, defaultInput: described.defaultInputBits?.map(Double.init(bitPattern:)),
            typicalScale: described.typicalScaleBits?.map(Double.init(bitPattern:)), flags: described.flags)
    }

    func evaluate(_ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>) throws {
        // A failed batch reports NaN rows, so callers blame its first row (the ABI's convention).
        func failBatch(_ error: PluginError) -> PluginError {
            outputs.update(repeating: .nan, count: rows * outputCount)
            return error
        }
        if let brokenBy { throw failBatch(brokenBy) }
        guard rows > 0 else { return }
        let inputBytes = rows * inputCount * MemoryLayout<Double>.stride
        let outputBytes = rows * outputCount * MemoryLayout<Double>.stride
        let batch = rows == 1 ? "a batch of 1 row" : "a batch of \(rows) rows"
        let doing = "while evaluating \(batch) that starts with this input"
        let frame: (kind: UInt8, payload: [UInt8])
        do {
            try memory.reserve(inputBytes + outputBytes)
            memory.base!.copyMemory(from: inputs, byteCount: inputBytes)
            try connection.send(kind: FrameKind.evaluate.rawValue, payload: EvaluateRequest(rows: rows, mappingSize: memory.size).encoded)
            frame = try connection.nextFrame(deadline: settings.evaluationTimeout.map { ContinuousClock.now.advanced(bySeconds: $0) })
            guard frame.kind == FrameKind.evaluated.rawValue, let verdict = frame.payload.first else {
                throw ChannelError.malformed("a message of kind \(frame.kind) instead of a reply")
            }
            UnsafeMutableRawPointer(outputs).copyMemory(from: memory.base! + inputBytes, byteCount: outputBytes)
            forwardOutput()
            if verdict != 1 {
                // The plugin's own failure, worded as in-process evaluation words it.
                throw PluginError(.evaluationFailed, String(decoding: frame.payload.dropFirst(), as: UTF8.self))
            }
        } catch let error as PluginError {
            throw error
        } catch {
            if case .closed = error as? ChannelError, rows > 1, findsCulprits,
                let culprit = findCulprit(inputs, rows: rows, into: outputs)
            {
                // Rows before the culprit hold their outputs; the culprit's NaN makes callers name it.
                (outputs + culprit * outputCount).update(repeating: .nan, count: (rows - culprit) * outputCount)
                throw fail(
                    error,
                    doing: "while evaluating \(batch); this input is the one that crashes it (rerun alone when the batch's halves were rerun in fresh workers)",
                    limit: nil)
            }
            throw failBatch(fail(error, doing: doing, limit: settings.evaluationTimeout))
        }
    }

    /// After a batch crashed its worker: the row that crashes a fresh worker on its own, found by
    /// running halves of the batch in fresh workers (about log₂ rows of them), with the outputs of
    /// the rows before it written; nil when no half crashes again (the crash needed the whole
    /// batch or an earlier call), or a worker fails otherwise.
    private func findCulprit(_ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>) -> Int? {
        var suspects = 0..<rows
        while suspects.count > 1 {
            guard let worker = try? IsolatedEvaluator.start(pluginPath: pluginPath, options: options, settings: settings),
                (try? worker.awaitHello(expecting: nil)) != nil
            else { return nil }
            worker.findsCulprits = false
            let middle = suspects.lowerBound + suspects.count / 2
            var crashed: Range<Int>?
            for half in [suspects.lowerBound..<middle, middle..<suspects.upperBound] {
                do {
                    try worker.evaluate(inputs + half.lowerBound * inputCount, rows: half.count, into: outputs + half.lowerBound * outputCount)
                } catch let error as PluginError where error.code == .workerCrashed {
                    crashed = half
                    break
                } catch {
                    return nil
                }
            }
            guard let crashed else { return nil }
            suspects = crashed
        }
        return suspects.lowerBound
    }

    /// What the plugin printed during a successful call (its last 8 KiB) goes to our stderr, as it
    /// would in-process.
    private func forwardOutput() {
        let text = connection.takeOutput()
        if !text.isEmpty { StandardError.write(text) }
    }

    /// Turns a channel failure into the PluginError that names what happened to the worker (and
    /// remembers it: the worker is gone). `doing` says when ("while evaluating a batch of …").
    private func fail(_ error: any Error, doing: String, limit: Double?) -> PluginError {
        let failure: PluginError
        switch error as? ChannelError {
        case .timedOut:
            connection.kill()
            let seconds = limit.map { String(cFormat: "%g", $0) } ?? "?"
            failure = PluginError(
                .workerTimedOut,
                "its worker process gave no answer within \(seconds) s \(doing), and was killed (--eval-timeout)")
        case .closed:
            let termination = connection.reapAfterClose()
            let said = connection.lastOutputLine()
            failure = PluginError(
                .workerCrashed,
                "its worker process \(termination.predicate) \(doing)" + (said.isEmpty ? "" : "; its last output: '\(said)'"))
        default:
            connection.kill()
            failure = PluginError(.workerFailed, "its worker process failed \(doing): \(error)")
        }
        brokenBy = PluginError(failure.code, "its worker process already failed: " + failure.message)
        if doing.hasPrefix("while starting") {
            return PluginError(failure.code, "plugin '\(pluginPath)' failed to start: " + failure.message)
        }
        return failure
    }
}
