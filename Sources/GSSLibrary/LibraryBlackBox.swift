import CGSSLibrary
import GSSCore
import Synchronization

/// What a gss_black_box handle points to: the black box, what the C API reports about it, and the
/// workers' evaluators kept from one call to the next (a program started once, not once per
/// training step). Calls on one handle run one at a time, under `calls`.
final class LibraryBlackBox: @unchecked Sendable {  // mutable state only under `calls`
    let blackBox: InterruptibleBlackBox
    let outputShape: [Int]
    let defaultInput: [Double]?
    private let calls = Mutex<Void>(())
    private var evaluators: [any BatchEvaluator] = []
    private var rowScratch: Scratch? = nil

    init(_ blackBox: any BlackBox, outputShape: [Int]? = nil, defaultInput: [Double]? = nil) {
        self.blackBox = InterruptibleBlackBox(blackBox)
        self.outputShape = outputShape ?? [blackBox.outputCount]
        self.defaultInput = defaultInput
    }

    var inputCount: Int { blackBox.inputCount }
    var outputCount: Int { blackBox.outputCount }

    /// Runs `body` with `count` evaluators, alone on this handle, stoppable through `call`'s cancel
    /// flag and fd. Evaluators are kept for the next call unless this one failed (a program may be
    /// mid-row, a plugin instance in a bad state): the next call then starts afresh.
    func withEvaluators<T>(
        count: Int, call: UnsafeMutablePointer<gss_call>?, _ body: ([any BatchEvaluator]) throws -> T
    ) throws -> T {
        try calls.withLock { _ in
            blackBox.interrupt.arm(call)
            defer { blackBox.interrupt.disarm() }
            do {
                if evaluators.count < count { evaluators = try blackBox.makeEvaluators(count: count) }
                return try body(Array(evaluators.prefix(count)))
            } catch {
                evaluators = []
                if blackBox.interrupt.isRequested {
                    throw LibraryError(status: GSS_E_CANCELLED, message: "the call was cancelled by its caller")
                }
                throw error
            }
        }
    }
}

extension LibraryBlackBox {
    /// Scratch for `count` outputs of gss_black_box_evaluate, kept for the next call; only inside
    /// `withEvaluators` (one call at a time). Kept up to 64 MiB: a bigger one is freed with the next.
    func scratch(count: Int) -> Scratch {
        if let kept = rowScratch, kept.capacity >= count, kept.capacity <= max(count * 2, 1 << 23) { return kept }
        let fresh = Scratch(capacity: count)
        rowScratch = count <= 1 << 23 ? fresh : nil
        return fresh
    }
}

/// The caller's cancel flag and fd of the running call (gss_call), read by every worker before it
/// evaluates a block.
final class Interrupt: @unchecked Sendable {  // set and cleared only while no worker runs
    private var flag: UnsafePointer<Int32>? = nil
    private var fd: Int32 = -1

    func arm(_ call: UnsafeMutablePointer<gss_call>?) {
        guard let call, call.pointee.struct_size >= MemoryLayout<gss_call>.offset(of: \.failed_point)! else { return }
        flag = call.pointee.cancel_flag.map { UnsafePointer($0) }
        fd = call.pointee.cancel_fd
    }

    func disarm() {
        flag = nil
        fd = -1
    }

    /// Whether the running call can be stopped at all (it gave a flag or an fd).
    var isArmed: Bool { flag != nil || fd >= 0 }

    var isRequested: Bool { gss_library_cancel_requested(flag, fd) != 0 }
}

/// Stopped by the caller: the evaluator's way to end a call between blocks.
struct CancelledByCaller: Error, CustomStringConvertible {
    var description: String { "the call was cancelled by its caller" }
}

/// A black box whose evaluators check the running call's interrupt before every block, and every
/// `checkedRows` rows inside a long block of a black box without a preferred block size (its calls
/// cost little, so a slow C function over thousands of rows still stops within a few rows' time).
struct InterruptibleBlackBox: BlackBox {
    static let checkedRows = 16

    let inner: any BlackBox
    let interrupt = Interrupt()

    init(_ inner: any BlackBox) { self.inner = inner }

    var inputCount: Int { inner.inputCount }
    var outputCount: Int { inner.outputCount }
    var displayName: String { inner.displayName }
    var preferredBatchRows: Int { inner.preferredBatchRows }

    func makeEvaluators(count: Int) throws -> [any BatchEvaluator] {
        let splits = inner.preferredBatchRows <= 1
        return try inner.makeEvaluators(count: count).map {
            Evaluator(inner: $0, interrupt: interrupt, n: inputCount, m: outputCount, splits: splits)
        }
    }

    private final class Evaluator: BatchEvaluator {
        let inner: any BatchEvaluator
        let interrupt: Interrupt
        let n, m: Int
        let splits: Bool

        init(inner: any BatchEvaluator, interrupt: Interrupt, n: Int, m: Int, splits: Bool) {
            self.inner = inner
            self.interrupt = interrupt
            (self.n, self.m, self.splits) = (n, m, splits)
        }

        func evaluate(_ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>) throws {
            // Rows never depend on how they are batched (the plugin ABI's rule), so splitting keeps the bits.
            let step = splits && interrupt.isArmed ? InterruptibleBlackBox.checkedRows : rows
            var start = 0
            while start < rows {
                if interrupt.isRequested { throw CancelledByCaller() }
                let count = min(step, rows - start)
                try inner.evaluate(inputs + start * n, rows: count, into: outputs + start * m)
                start += count
            }
        }
    }
}
