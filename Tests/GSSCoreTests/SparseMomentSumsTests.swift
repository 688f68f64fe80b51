import GSSCore
import Testing

/// MomentSums skips zero responses (most of a 0/1 output such as a shortest-path mask, once the
/// first row is subtracted); that must leave every sum bit for bit as the dense accumulation.
@Suite("Moment sums with sparse responses")
struct SparseMomentSumsTests {
    @Test("zero responses (±0) change no bit of any sum", arguments: [1, 2])
    func sparseIsBitIdentical(unitSize: Int) {
        let (rows, q, p) = (64, 7, 5)
        let generator = Philox4x32(seed: 11)
        func uniform(_ index: Int, _ stream: UInt32) -> Double {
            Double.openUnit(bits: generator.bits(stream: stream, index: UInt64(index)).0)
        }
        // About 70% zeros, some of them −0, the rest ±1 or arbitrary; features arbitrary and finite.
        let responses: [Double] = (0..<(rows * q)).map { k in
            let u = uniform(k, 1)
            return u < 0.35 ? 0 : u < 0.7 ? -0.0 : u < 0.85 ? (u < 0.78 ? 1 : -1) : uniform(k, 2) * 6 - 3
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
        #expect(sums.sumR.map(\.bitPattern) == sumR.map(\.bitPattern))
        #expect(sums.sumUnitR2.map(\.bitPattern) == sumUnitR2.map(\.bitPattern))
        #expect(sums.sumRPhi.map(\.bitPattern) == sumRPhi.map(\.bitPattern))
        #expect(sums.sumU2.map(\.bitPattern) == sumU2.map(\.bitPattern))
        #expect(sums.sumUV.map(\.bitPattern) == sumUV.map(\.bitPattern))
        #expect(responses.filter { $0 == 0 }.count > rows * q / 2)
    }
}
