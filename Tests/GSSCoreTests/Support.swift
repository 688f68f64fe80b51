import GSSCore
import Testing

/// |estimate − truth| ≤ k · stderr for every entry (k = 5 unless stated): the statistical
/// tolerance all estimator tests use. Reports the worst entry in z-score units.
func expectWithinStandardErrors(
    _ estimate: [Double], _ truth: [Double], stderr: [Double], k: Double = 5, _ label: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(estimate.count == truth.count && stderr.count == truth.count, "\(label): sizes differ", sourceLocation: sourceLocation)
    var worst = 0.0
    var worstIndex = 0
    for i in truth.indices {
        // A zero stderr (a constant response) demands exact agreement up to rounding.
        let z = abs(estimate[i] - truth[i]) / max(stderr[i], 1e-12)
        if z > worst {
            worst = z
            worstIndex = i
        }
    }
    #expect(worst <= k, "\(label): entry \(worstIndex) is \(estimate[worstIndex]) but should be \(truth[worstIndex]) (|z| = \(worst), stderr \(stderr[worstIndex]))", sourceLocation: sourceLocation)
}

/// The hard sorter as a Swift black box: P[i·n + j] = 1 iff x_i has ascending rank j (ties by index).
func sorterBlackBox(n: Int) -> ClosureBlackBox {
    ClosureBlackBox(inputCount: n, outputCount: n * n, name: "swift sorter") { x, rows, y in
        for r in 0..<rows {
            let row = x + r * n
            for k in 0..<(n * n) { y[r * n * n + k] = 0 }
            for i in 0..<n {
                var rank = 0
                for k in 0..<n where row[k] < row[i] || (row[k] == row[i] && k < i) { rank += 1 }
                y[r * n * n + i * n + rank] = 1
            }
        }
    }
}
