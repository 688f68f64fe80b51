import CGSSLibrary
import GSSCore
import Synchronization

/// A caller's C block function (gss_black_box_from_function) as a black box. Without the reentrant
/// flag its calls are serialized by one lock; sampling and sums still run on every worker.
struct FunctionBlackBox: BlackBox {
    let inputCount: Int
    let outputCount: Int
    let displayName: String
    let preferredBatchRows: Int
    private let function: Function

    /// The caller's function and context, valid until gss_black_box_free (the header's promise).
    private final class Function: @unchecked Sendable {
        let body: gss_block_function
        let context: UnsafeMutableRawPointer?
        let reentrant: Bool
        private let serial = Mutex<Void>(())

        init(body: gss_block_function, context: UnsafeMutableRawPointer?, reentrant: Bool) {
            self.body = body
            self.context = context
            self.reentrant = reentrant
        }

        /// One call, alone unless the function is reentrant.
        func call(
            _ x: UnsafePointer<Double>, rows: Int, _ y: UnsafeMutablePointer<Double>, _ error: UnsafeMutablePointer<CChar>, _ capacity: Int
        ) -> gss_status {
            if reentrant { return body(context, x, rows, y, error, capacity) }
            return serial.withLock { _ in body(context, x, rows, y, error, capacity) }
        }
    }

    init(
        inputCount: Int, outputCount: Int, function: gss_block_function, context: UnsafeMutableRawPointer?,
        reentrant: Bool, preferredRows: Int, name: String?
    ) {
        self.inputCount = inputCount
        self.outputCount = outputCount
        displayName = "function '\(name ?? "unnamed")'"
        preferredBatchRows = max(1, preferredRows)
        self.function = Function(body: function, context: context, reentrant: reentrant)
    }

    func makeEvaluators(count: Int) throws -> [any BatchEvaluator] {
        (0..<max(1, count)).map { _ in Evaluator(function: function, outputCount: outputCount) }
    }

    private final class Evaluator: BatchEvaluator, @unchecked Sendable {  // used by one worker at a time
        static let errorCapacity = 1024
        let function: Function
        let outputCount: Int
        let error = UnsafeMutablePointer<CChar>.allocate(capacity: errorCapacity)

        init(function: Function, outputCount: Int) {
            self.function = function
            self.outputCount = outputCount
        }

        deinit { error.deallocate() }

        func evaluate(_ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>) throws {
            // Outputs the function never writes stay NaN and fail the estimate instead of counting as zero.
            outputs.update(repeating: .nan, count: rows * outputCount)
            error[0] = 0
            let status = function.call(inputs, rows: rows, outputs, error, Self.errorCapacity)
            guard status == GSS_OK else {
                let detail = String(cString: error)
                throw FunctionFailure(message: detail.isEmpty ? "it returned status \(status) without a message" : detail)
            }
        }
    }
}

/// A block function's own failure sentence.
struct FunctionFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
