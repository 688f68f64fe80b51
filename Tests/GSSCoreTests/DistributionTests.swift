import GSSCore
import RealModule
import Testing

@Suite("Distributions")
struct DistributionTests {
    /// Reference values of Φ⁻¹ from scipy.special.ndtri (Cephes), to 16 digits.
    @Test("the Gaussian quantile (AS 241) matches reference values, deep tails included")
    func gaussianQuantileReferenceValues() {
        let references: [(Double, Double)] = [
            (0.975, 1.959963984540054), (0.025, -1.9599639845400545), (1e-10, -6.361340902404056),
            (1e-300, -37.0470962993612), (0.3, -0.5244005127080409), (0.02425, -1.972961051311885),
            (0.9, 1.2815515655446004), (0.5 + 1e-12, 2.5065728237018607e-12),
            (0.9999999999999999, 8.209536151601387),
        ]
        for (u, expected) in references {
            let value = Distribution.gaussian.quantile(u)
            #expect(value.isApproximatelyEqual(to: expected, relativeTolerance: 1e-14), "Φ⁻¹(\(u)) = \(value), expected \(expected)")
        }
        #expect(Distribution.gaussian.quantile(0.5) == 0)
    }

    static let tailUniforms: [Double] = [1e-300, 1e-100, 1e-16, 1e-9, 1e-4, 0.01, 0.1, 0.25, 0.4, 0.5, 0.6, 0.9, 0.99]

    @Test("cdf(quantile(u)) = u to near machine precision in the lower tail", arguments: Distribution.allCases)
    func quantileInvertsCDF(distribution: Distribution) {
        for u in Self.tailUniforms {
            let e = distribution.quantile(u)
            let back = distribution.cdf(e)
            // On a bounded support ε = −1 + δ carries δ only to 1e-16 absolute, so the cdf (∝ δ²
            // or δ^1.5) is relatively exact only while δ is not tiny; below 1e-12 ε rounds to the edge.
            if distribution.hasFullSupport {
                #expect(back.isApproximatelyEqual(to: u, relativeTolerance: 1e-12), "\(distribution): cdf(quantile(\(u))) = \(back)")
            } else if u > 1e-12 {
                #expect(back.isApproximatelyEqual(to: u, relativeTolerance: 1e-9), "\(distribution): cdf(quantile(\(u))) = \(back)")
            }
        }
    }

    @Test("symmetric distributions have mirrored quantiles", arguments: Distribution.allCases.filter(\.isSymmetric))
    func symmetricQuantiles(distribution: Distribution) {
        for u in Self.tailUniforms where u > 1e-16 {
            // 1 − u rounds; mirroring that rounded value back is exact (Sterbenz), so compare those.
            let upperU = 1 - u
            let lowerU = 1 - upperU
            let lower = distribution.quantile(lowerU)
            let upper = distribution.quantile(upperU)
            #expect(lower.isApproximatelyEqual(to: -upper, absoluteTolerance: 1e-15, relativeTolerance: 1e-12), "\(distribution) at \(u)")
        }
    }

    @Test("the score is −d/dε log μ (central differences, away from kinks)", arguments: Distribution.allCases)
    func scoreIsLogDensityDerivative(distribution: Distribution) {
        for e in [-2.5, -0.7, -0.3, 0.2, 0.45, 0.8, 3.0] where distribution.density(e) > 0 && distribution.density(e + 1e-5) > 0 && distribution.density(e - 1e-5) > 0 {
            let h = 1e-6
            let numeric = -(Double.log(distribution.density(e + h)) - Double.log(distribution.density(e - h))) / (2 * h)
            #expect(distribution.score(e).isApproximatelyEqual(to: numeric, absoluteTolerance: 1e-8, relativeTolerance: 1e-6), "\(distribution) at \(e)")
        }
    }

    @Test("the density integrates to the cdf", arguments: Distribution.allCases)
    func densityIntegratesToCDF(distribution: Distribution) {
        for (a, b) in [(-0.9, -0.2), (-0.2, 0.3), (0.1, 0.95), (-0.5, 0.5)] {
            let integral = Quadrature.integrate(from: a, to: b) { distribution.density($0) }
            let difference = distribution.cdf(b) - distribution.cdf(a)
            #expect(integral.isApproximatelyEqual(to: difference, absoluteTolerance: 1e-12), "\(distribution) on [\(a), \(b)]")
        }
    }

    @Test("the vectorised transform agrees with quantile and score", arguments: Distribution.allCases)
    func transformMatchesScalarFunctions(distribution: Distribution) {
        let uniforms = Self.tailUniforms + [0.999, 1 - 1e-9, 1 - 1e-15]
        var noise = [Double](repeating: 0, count: uniforms.count)
        var scores = noise
        distribution.transform(uniforms: uniforms, count: uniforms.count, noise: &noise, score: &scores)
        for (i, u) in uniforms.enumerated() {
            let e = distribution.quantile(u)
            #expect(noise[i] == e, "\(distribution): noise at \(u)")
            // At support edges ε rounds to ±1 and the transform's score (from u) is the exact one.
            if distribution.hasFullSupport || abs(e) < 0.999 {
                #expect(scores[i].isApproximatelyEqual(to: distribution.score(e), absoluteTolerance: 1e-12, relativeTolerance: 1e-8), "\(distribution): score at \(u)")
            }
            #expect(scores[i].isFinite)
        }
    }
}
