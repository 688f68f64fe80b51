import GSSCore
import Numerics
import Testing

@Suite("Streaming moment sums")
struct MomentSumsTests {
    /// Pseudo-random test data from a fixed generator.
    static func data(rows: Int, columns: Int, seed: UInt64) -> [Double] {
        let generator = Philox4x32(seed: seed)
        return (0..<(rows * columns)).map { Double.openUnit(bits: generator.bits(stream: 9, index: UInt64($0)).0) * 4 - 1.5 }
    }

    /// Two-pass reference: units' contributions h_u, their mean and sample standard error.
    static func reference(
        responses r: [Double], features f: [Double], rows: Int, q: Int, p: Int, unitSize: Int, baseline: [Double]?
    ) -> (gradient: [Double], stderr: [Double]) {
        let s = Double(rows)
        let units = rows / unitSize
        let mean = (0..<q).map { a in (0..<rows).reduce(0.0) { $0 + r[$1 * q + a] } / s }
        let c = baseline ?? mean
        let denominator = baseline == nil ? s - 1 : s
        var gradient = [Double](repeating: 0, count: q * p)
        var stderr = gradient
        for a in 0..<q {
            for b in 0..<p {
                let h = (0..<units).map { u in
                    (0..<unitSize).reduce(0.0) { sum, k in
                        let i = u * unitSize + k
                        return sum + (r[i * q + a] - c[a]) * f[i * p + b]
                    }
                }
                let total = h.reduce(0, +)
                let hMean = total / Double(units)
                let variance = h.reduce(0.0) { $0 + ($1 - hMean) * ($1 - hMean) } / Double(units - 1)
                gradient[a * p + b] = total / denominator
                stderr[a * p + b] = (Double(units) * variance).squareRoot() / denominator
            }
        }
        return (gradient, stderr)
    }

    @Test("streaming sums equal the two-pass computation", arguments: [1, 2])
    func matchesTwoPass(unitSize: Int) {
        let (rows, q, p) = (40, 3, 2)
        let r = Self.data(rows: rows, columns: q, seed: 1)
        let f = Self.data(rows: rows, columns: p, seed: 2)
        var sums = MomentSums(responseCount: q, featureCount: p, unitSize: unitSize)
        sums.add(responses: r, features: f, rows: rows)
        for baseline in [nil, [0.3, -1.0, 2.0]] as [[Double]?] {
            let estimate = sums.estimate(baseline: baseline.map { .constant($0) } ?? .leaveOneOut)
            let expected = Self.reference(responses: r, features: f, rows: rows, q: q, p: p, unitSize: unitSize, baseline: baseline)
            for k in 0..<(q * p) {
                #expect(estimate.gradient[k].isApproximatelyEqual(to: expected.gradient[k], absoluteTolerance: 1e-14, relativeTolerance: 1e-12))
                #expect(estimate.gradientStderr[k].isApproximatelyEqual(to: expected.stderr[k], relativeTolerance: 1e-10))
            }
        }
        // The value's standard error: the sample spread of the units' sums of R, over √units, per sample.
        let estimate = sums.estimate(baseline: .leaveOneOut)
        let units = rows / unitSize
        for a in 0..<q {
            let unitSums = (0..<units).map { u in (0..<unitSize).reduce(0.0) { $0 + r[(u * unitSize + $1) * q + a] } }
            let mean = unitSums.reduce(0, +) / Double(units)
            let variance = unitSums.reduce(0.0) { $0 + ($1 - mean) * ($1 - mean) } / Double(units - 1)
            let expected = (Double(units) * variance).squareRoot() / Double(rows)
            #expect(estimate.meanStderr[a].isApproximatelyEqual(to: expected, relativeTolerance: 1e-10), "response \(a)")
        }
    }

    /// Three samples worked out by hand (R = 1, 2, 4; Φ = 1, −1, 2), where s and s − 1 differ by half.
    @Test("three samples by hand: value, its standard error, both baselines' gradients and their standard errors")
    func threeSamplesByHand() {
        var sums = MomentSums(responseCount: 1, featureCount: 1, unitSize: 1)
        sums.add(responses: [1, 2, 4], features: [1, -1, 2], rows: 3)
        let constant = sums.estimate(baseline: .constant([0]))
        // Mean 7/3; sample variance ((4 + 1 + 25)/9)/2 = 7/3, so the standard error is √(7/3 / 3) = √7/3.
        #expect(constant.mean[0].isApproximatelyEqual(to: 7.0 / 3, relativeTolerance: 1e-14))
        #expect(constant.meanStderr[0].isApproximatelyEqual(to: 7.0.squareRoot() / 3, relativeTolerance: 1e-14))
        // h = RΦ = 1, −2, 8: mean 7/3, sample variance 79/3, standard error √(3 · 79/3)/3 = √79/3.
        #expect(constant.gradient[0].isApproximatelyEqual(to: 7.0 / 3, relativeTolerance: 1e-14))
        #expect(constant.gradientStderr[0].isApproximatelyEqual(to: 79.0.squareRoot() / 3, relativeTolerance: 1e-13))
        // Leave-one-out baselines c = 3, 2.5, 1.5: Σ(R − c)Φ / s = 3.5/3 = 7/6 (that is Σ(R − R̄)Φ/(s − 1));
        // h = (R − R̄)Φ = −4/3, 1/3, 10/3 has sample variance 151/27, so √(3 · 151/27)/2 = √151/6.
        let leaveOneOut = sums.estimate(baseline: .leaveOneOut)
        #expect(leaveOneOut.gradient[0].isApproximatelyEqual(to: 7.0 / 6, relativeTolerance: 1e-13))
        #expect(leaveOneOut.gradientStderr[0].isApproximatelyEqual(to: 151.0.squareRoot() / 6, relativeTolerance: 1e-13))
    }

    @Test("merging chunk sums equals adding all rows at once")
    func mergeEqualsSingleAdd() {
        let (rows, q, p) = (30, 2, 3)
        let r = Self.data(rows: rows, columns: q, seed: 3)
        let f = Self.data(rows: rows, columns: p, seed: 4)
        var whole = MomentSums(responseCount: q, featureCount: p, unitSize: 2)
        whole.add(responses: r, features: f, rows: rows)
        var merged = MomentSums(responseCount: q, featureCount: p, unitSize: 2)
        for start in stride(from: 0, to: rows, by: 10) {
            var part = MomentSums(responseCount: q, featureCount: p, unitSize: 2)
            part.add(responses: Array(r[(start * q)...]), features: Array(f[(start * p)...]), rows: 10)
            merged.merge(part)
        }
        let a = whole.estimate(baseline: .leaveOneOut)
        let b = merged.estimate(baseline: .leaveOneOut)
        #expect(merged.samples == rows)
        for k in 0..<(q * p) {
            #expect(a.gradient[k].isApproximatelyEqual(to: b.gradient[k], relativeTolerance: 1e-13))
            #expect(a.gradientStderr[k].isApproximatelyEqual(to: b.gradientStderr[k], relativeTolerance: 1e-10))
        }
    }

    @Test("adding with a shift equals adding shifted responses; a non-finite response adds nothing", arguments: [1, 2])
    func shiftingAdd(unitSize: Int) {
        let (rows, q, p) = (24, 3, 2)
        let r = Self.data(rows: rows, columns: q, seed: 5)
        let f = Self.data(rows: rows, columns: p, seed: 6)
        let shift = [0.7, -1.1, 2.5]
        let shifted = r.indices.map { r[$0] - shift[$0 % q] }
        var expected = MomentSums(responseCount: q, featureCount: p, unitSize: unitSize)
        expected.add(responses: shifted, features: f, rows: rows)
        var sums = MomentSums(responseCount: q, featureCount: p, unitSize: unitSize)
        let workspace = MomentWorkspace()
        let added = sums.add(responses: r, shiftedBy: shift, features: f, rows: rows, workspace: workspace)
        #expect(added)
        #expect(Array(UnsafeBufferPointer(start: workspace.shiftedResponses, count: rows * q)) == shifted)
        #expect(sums == expected)

        var broken = r
        broken[5 * q + 1] = .infinity
        var untouched = MomentSums(responseCount: q, featureCount: p, unitSize: unitSize)
        let refused = !untouched.add(responses: broken, shiftedBy: shift, features: f, rows: rows, workspace: MomentWorkspace())
        #expect(refused)
        #expect(untouched == MomentSums(responseCount: q, featureCount: p, unitSize: unitSize))
    }

    // Sizes where the fused kernel (gss_moment_products) takes dense single samples — a whole
    // number of vectors, a partial last vector, pairs of vectors (p ≤ 4) with a partial last pair,
    // the largest feature count — and one past its limit.
    @Test(
        "the fused shifted sums equal the sums of the shifted responses; a NaN or ∞ adds nothing",
        arguments: [(8, 1), (9, 5), (25, 5), (13, 8), (17, 3), (40, 4), (25, 9)])
    func fusedShiftingAdd(q: Int, p: Int) {
        let rows = 40
        let r = Self.data(rows: rows, columns: q, seed: 7)
        let f = Self.data(rows: rows, columns: p, seed: 8)
        let shift = (0..<q).map { 0.25 * Double($0) - 1 }
        let shifted = r.indices.map { r[$0] - shift[$0 % q] }
        var expected = MomentSums(responseCount: q, featureCount: p, unitSize: 1)
        expected.add(responses: shifted, features: f, rows: rows)
        var sums = MomentSums(responseCount: q, featureCount: p, unitSize: 1)
        let workspace = MomentWorkspace()
        let added = sums.add(responses: r, shiftedBy: shift, features: f, rows: rows, workspace: workspace)
        #expect(added)
        #expect(Array(UnsafeBufferPointer(start: workspace.shiftedResponses, count: rows * q)) == shifted)
        #expect(sums.samples == rows)
        #expect(sums.sumPhi == expected.sumPhi && sums.sumUnitPhi2 == expected.sumUnitPhi2)
        for (actual, wanted) in [(sums.sumR, expected.sumR), (sums.sumUnitR2, expected.sumUnitR2),
                                 (sums.sumRPhi, expected.sumRPhi), (sums.sumU2, expected.sumU2), (sums.sumUV, expected.sumUV)] {
            #expect(actual.count == wanted.count)
            for (x, y) in zip(actual, wanted) {
                #expect(x.isApproximatelyEqual(to: y, absoluteTolerance: 1e-12, relativeTolerance: 1e-13))
            }
        }

        // The last entry (the last, partial vector's last lane), the first column, and a column a
        // moved-back last vector repeats.
        for (bad, at) in [(Double.nan, (rows - 1) * q + q - 1), (.infinity, (rows - 1) * q + q - 1),
                          (-.infinity, (rows - 1) * q + q - 1), (.nan, rows / 2 * q), (.infinity, 3 * q + q - 3)] {
            var broken = r
            broken[at] = bad
            var untouched = MomentSums(responseCount: q, featureCount: p, unitSize: 1)
            let refused = !untouched.add(responses: broken, shiftedBy: shift, features: f, rows: rows, workspace: workspace)
            #expect(refused, "\(bad) at row \(at / q), column \(at % q)")
            #expect(untouched == MomentSums(responseCount: q, featureCount: p, unitSize: 1))
        }

        // Finite responses whose sum overflows are added (the sums hold ∞), not refused.
        var huge = r
        huge[q - 1] = 1e308
        huge[2 * q - 1] = 1e308
        var overflowing = MomentSums(responseCount: q, featureCount: p, unitSize: 1)
        let accepted = overflowing.add(responses: huge, shiftedBy: shift, features: f, rows: rows, workspace: workspace)
        #expect(accepted)
        #expect(overflowing.sumR[q - 1] == .infinity)
    }
}
