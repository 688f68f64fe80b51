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
    for i in truth.indices where i < estimate.count && i < stderr.count {
        // A zero stderr (a constant response) demands exact agreement up to rounding; a NaN
        // estimate or standard error is infinitely far off (a NaN z would compare as passing).
        let z = estimate[i].isNaN || stderr[i].isNaN ? .infinity : abs(estimate[i] - truth[i]) / max(stderr[i], 1e-12)
        if z > worst {
            worst = z
            worstIndex = i
        }
    }
    #expect(worst <= k, "\(label): entry \(worstIndex) is \(estimate[worstIndex]) but should be \(truth[worstIndex]) (|z| = \(worst), stderr \(stderr[worstIndex]))", sourceLocation: sourceLocation)
}

/// Standard errors are calibrated when, over many independent estimates, z = (estimate − truth)/stderr
/// has mean 0 and spread 1. With R repeats the mean of z is known to about 1/√R and its spread to
/// about 1/√(2R): each may be off by 5 of those, the spread by 5 % more (z is not quite normal).
func expectCalibrated(
    _ estimates: [Double], stderr: [Double], truth: Double, _ label: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    let z = zip(estimates, stderr).map { ($0 - truth) / $1 }
    let repeats = Double(z.count)
    let mean = z.reduce(0, +) / repeats
    let spread = (z.reduce(0.0) { $0 + ($1 - mean) * ($1 - mean) } / (repeats - 1)).squareRoot()
    let allFinite = z.allSatisfy { $0.isFinite }
    #expect(allFinite, "\(label): a z-score is not finite", sourceLocation: sourceLocation)
    #expect(abs(mean) <= 5 / repeats.squareRoot(), "\(label): z-scores have mean \(mean) (biased estimates)", sourceLocation: sourceLocation)
    #expect(
        abs(spread - 1) <= 0.05 + 5 / (2 * repeats).squareRoot(),
        "\(label): z-scores have spread \(spread), not 1 (the standard errors are off by that factor)", sourceLocation: sourceLocation)
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
