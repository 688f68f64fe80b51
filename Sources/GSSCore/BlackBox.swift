/// A function f: R^n → R^m evaluated on batches of rows. Core smooths it without knowing what it
/// is: a plugin, an external program, a C function, or a Swift closure.
public protocol BlackBox: Sendable {
    /// n, the length of one input row.
    var inputCount: Int { get }
    /// m, the length of one output row.
    var outputCount: Int { get }
    /// A short name for messages, e.g. "plugin 'sorter'".
    var displayName: String { get }
    /// Evaluators for `count` worker threads; worker k only ever uses element k, so an evaluator
    /// need not be thread-safe. Implementations may share one reentrant resource among them.
    func makeEvaluators(count: Int) throws -> [any BatchEvaluator]
    /// Rows one evaluate call should hold at least, for a black box whose every call costs a fixed
    /// round trip (a worker process, say): the smoother then hands it several consecutive chunks
    /// per call. The results do not depend on it. Default 1: a chunk per call.
    var preferredBatchRows: Int { get }
}

extension BlackBox {
    public var preferredBatchRows: Int { 1 }
}

/// One worker's handle on a black box. Never called from two threads at once.
public protocol BatchEvaluator: AnyObject, Sendable {
    /// Evaluates `rows` rows of n inputs into `rows` rows of m outputs (row-major). Throws when the
    /// black box reports a failure; a failed row is then filled with NaN where the box can tell.
    func evaluate(_ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>) throws
}

/// A black box defined by a Swift closure over one batch — for library users and tests.
public struct ClosureBlackBox: BlackBox {
    public let inputCount: Int
    public let outputCount: Int
    public let displayName: String
    private let body: @Sendable (UnsafePointer<Double>, Int, UnsafeMutablePointer<Double>) throws -> Void

    /// `body(inputs, rows, outputs)` must be safe to call concurrently from several threads.
    public init(
        inputCount: Int, outputCount: Int, name: String = "closure",
        body: @escaping @Sendable (UnsafePointer<Double>, Int, UnsafeMutablePointer<Double>) throws -> Void
    ) {
        self.inputCount = inputCount
        self.outputCount = outputCount
        self.displayName = name
        self.body = body
    }

    /// A black box evaluating `f` row by row.
    public init(
        inputCount: Int, outputCount: Int, name: String = "closure",
        row f: @escaping @Sendable ([Double]) -> [Double]
    ) {
        self.init(inputCount: inputCount, outputCount: outputCount, name: name) { x, rows, y in
            for r in 0..<rows {
                let output = f(Array(UnsafeBufferPointer(start: x + r * inputCount, count: inputCount)))
                precondition(output.count == outputCount, "closure returned \(output.count) outputs, expected \(outputCount)")
                for j in 0..<outputCount { y[r * outputCount + j] = output[j] }
            }
        }
    }

    public func makeEvaluators(count: Int) throws -> [any BatchEvaluator] {
        let evaluator = Evaluator(body: body)
        return Array(repeating: evaluator, count: count)
    }

    private final class Evaluator: BatchEvaluator {
        let body: @Sendable (UnsafePointer<Double>, Int, UnsafeMutablePointer<Double>) throws -> Void
        init(body: @escaping @Sendable (UnsafePointer<Double>, Int, UnsafeMutablePointer<Double>) throws -> Void) {
            self.body = body
        }
        func evaluate(_ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>) throws {
            try body(inputs, rows, outputs)
        }
    }
}
