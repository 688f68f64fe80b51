import GSSCore
import Numerics
import Testing

/// MomentSums skips zero responses (most of a 0/1 output such as a shortest-path mask, once the
/// first row is subtracted): pairs one by one, which must leave every sum bit for bit as the dense
/// accumulation; single samples by leaving responses that are zero in every row out of the matrix
/// products, which must agree with the dense accumulation to rounding.
@Suite("Moment sums with sparse responses")
struct SparseMomentSumsTests {
    /// Each case reaches one way of accumulating: mostly zeros (row by row over the nonzero
    /// responses), dense, some responses zero throughout (products over the others), pairs.
    @Test(
        "zero responses (±0) change no sum",
        arguments: [(1, 0.7, 0.7), (1, 0.1, 0.7), (1, 0.0, 0.0), (1, 0.4, 0.0), (2, 0.7, 0.7)] as [(Int, Double, Double)])
    func sparseMatchesDense(unitSize: Int, zeroColumnShare: Double, zeroShareElsewhere: Double) {
        let (rows, q, p) = (64, 40, 5)
        let generator = Philox4x32(seed: 11)
        func uniform(_ index: Int, _ stream: UInt32) -> Double {
            Double.openUnit(bits: generator.bits(stream: stream, index: UInt64(index)).0)
        }
        // About 70% zeros, some of them −0, the rest ±1 or arbitrary; features arbitrary and finite.
        // Whole columns of zeros (the share given), and ±0 scattered in the others.
        let zeroColumns = Set((0..<q).filter { uniform($0, 4) < zeroColumnShare })
        let responses: [Double] = (0..<(rows * q)).map { k in
            if zeroColumns.contains(k % q) { return uniform(k, 5) < 0.5 ? 0 : -0.0 }
            let u = uniform(k, 1)
            if u < zeroShareElsewhere { return u < zeroShareElsewhere / 2 ? 0 : -0.0 }
            return u < (1 + zeroShareElsewhere) / 2 ? (u < 0.78 ? 1 : -1) : uniform(k, 2) * 6 - 3
        }
        let features = (0..<(rows * p)).map { uniform($0, 3) * 4 - 2 }
        var sums = MomentSums(responseCount: q, featureCount: p, unitSize: unitSize)
        sums.add(responses: responses, features: features, rows: rows)

        // The dense accumulation, in the same order, with no skipping.
        var sumR = [Double](repeating: 0, count: q)
        var sumUnitR2 = sumR
        var sumRPhi = [Double](repeating: 0, count: q * p)
        var sumU2 = sumRPhi
        var sumUV = sumRPhi
        for row in stride(from: 0, to: rows, by: unitSize) {
            for a in 0..<q {
                let r0 = responses[row * q + a]
                let r1 = unitSize == 2 ? responses[(row + 1) * q + a] : 0
                let w = unitSize == 2 ? r0 + r1 : r0
                sumR[a] += w
                sumUnitR2[a] += w * w
                for b in 0..<p {
                    let f0 = features[row * p + b]
                    let u: Double
                    let v: Double
                    if unitSize == 2 {
                        let f1 = features[(row + 1) * p + b]
                        u = r0 * f0 + r1 * f1
                        v = f0 + f1
                    } else {
                        u = r0 * f0
                        v = f0
                    }
                    sumRPhi[a * p + b] += u
                    sumU2[a * p + b] += u * u
                    sumUV[a * p + b] += u * v
                }
            }
        }
        let pairs: [([Double], [Double])] = [
            (sums.sumR, sumR), (sums.sumUnitR2, sumUnitR2), (sums.sumRPhi, sumRPhi), (sums.sumU2, sumU2),
            (sums.sumUV, sumUV),
        ]
        for (computed, dense) in pairs {
            if unitSize == 2 {
                #expect(computed.map(\.bitPattern) == dense.map(\.bitPattern))
            } else {
                let scale = dense.map(abs).max() ?? 1
                for (a, b) in zip(computed, dense) {
                    #expect(a.isApproximatelyEqual(to: b, absoluteTolerance: 1e-13 * scale))
                }
            }
        }
        #expect(responses.filter { $0 == 0 }.count >= Int(Double(rows * q) * zeroColumnShare * 0.5))
    }
}
