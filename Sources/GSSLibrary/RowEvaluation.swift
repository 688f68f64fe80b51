import CGSSLibrary
import GSSCore
import Synchronization

/// f itself at many rows (gss_black_box_evaluate): blocks of rows claimed in order by the workers,
/// read from the caller's x in place, into the handle's scratch array (kept between calls: a fresh
/// 8 MB array costs more in page faults than the shortest-path plugin's 7,000 solves), copied to
/// the caller's y only when every row succeeded and is finite.
enum RowEvaluation {
    /// Rows per claimed block: few enough hand-overs, small enough to spread over workers.
    static let blockRows = 64

    static func evaluate(
        _ box: LibraryBlackBox, rows x: UnsafePointer<Double>, count: Int, threads: Int, call: UnsafeMutablePointer<gss_call>?,
        into y: UnsafeMutablePointer<Double>
    ) throws {
        let n = box.inputCount
        let m = box.outputCount
        if let bad = (0..<count * n).first(where: { !x[$0].isFinite }) {
            throw LibraryError.invalid("x must hold finite numbers, but row \(bad / n), entry \(bad % n) is \(x[bad])")
        }
        nonisolated(unsafe) let rows = x
        let blocks = (count + blockRows - 1) / blockRows
        let workers = max(1, min(threads, blocks))
        let failures = Mutex<[(row: Int, error: any Error)]>([])
        try box.withEvaluators(count: workers, call: call) { evaluators in
            let outputs = box.scratch(count: count * m)
            let next = Atomic<Int>(0)
            WorkerThreads.run(count: workers) { worker in
                while failures.withLock({ $0.isEmpty }) {
                    let block = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard block < blocks else { return }
                    let range = block * blockRows..<min(count, (block + 1) * blockRows)
                    if let failure = evaluateBlock(range, of: box, evaluator: evaluators[worker], rows: rows, into: outputs) {
                        failures.withLock { $0.append(failure) }
                    }
                }
            }
            // Blocks are claimed in order and claimed blocks finish: the lowest failed row is the same for any thread count.
            if let first = failures.withLock({ $0.min { $0.row < $1.row } }) { throw first.error }
            y.update(from: outputs.pointer, count: count * m)
        }
    }

    /// Evaluates one block; nil, or the first failed row of it and why.
    private static func evaluateBlock(
        _ range: Range<Int>, of box: LibraryBlackBox, evaluator: any BatchEvaluator, rows: UnsafePointer<Double>, into outputs: Scratch
    ) -> (row: Int, error: any Error)? {
        let n = box.inputCount
        let m = box.outputCount
        let y = outputs.pointer + range.lowerBound * m
        y.update(repeating: .nan, count: range.count * m)
        do {
            try evaluator.evaluate(rows + range.lowerBound * n, rows: range.count, into: y)
        } catch {
            // Blame the first row the black box marked with NaN (the ABI's convention), else the block's first.
            let row = range.first { r in (0..<m).contains { outputs.pointer[r * m + $0].isNaN } } ?? range.lowerBound
            return (row, failure(box, rows: rows, row: row, reason: "\(error)"))
        }
        for index in range.lowerBound * m..<range.upperBound * m where !outputs.pointer[index].isFinite {
            let row = index / m
            return (row, failure(box, rows: rows, row: row, reason: "it returned a non-finite output (\(outputs.pointer[index]) in output \(index % m))"))
        }
        return nil
    }

    private static func failure(_ box: LibraryBlackBox, rows: UnsafePointer<Double>, row: Int, reason: String) -> LibraryError {
        let n = box.inputCount
        let input = Array(UnsafeBufferPointer(start: rows + row * n, count: n))
        return LibraryError(
            status: GSS_E_EVALUATION, message: "\(box.blackBox.displayName) failed at row \(row) (input \(formatRow(input))): \(reason)",
            point: row, sample: -1, input: input)
    }
}

/// Workers' shared output array; each block is written (NaN first) by exactly one worker.
final class Scratch: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Double>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        pointer = .allocate(capacity: max(capacity, 1))
    }

    deinit { pointer.deallocate() }
}
