import GSSCore
import Testing

@Suite("Derivative in the diagonal scale γ (Lemma 6)")
struct ScaleGradientTests {
    /// f_i(x) = 1[x_i > c_i], thresholds inside the support of every distribution (|c − x|/γ < 1).
    static let thresholds = [0.0, 0.3, -1.0]
    static let x = [0.2, -0.4, 1.5]
    static let gamma = [1.0, 1.0, 3.0]

    static var step: ClosureBlackBox {
        ClosureBlackBox(inputCount: 3, outputCount: 3, name: "steps") { x in
            (0..<3).map { x[$0] > thresholds[$0] ? 1 : 0 }
        }
    }

    /// value 1 − F(t/γ), ∂/∂x μ(t/γ)/γ and ∂/∂γ = d/dγ (1 − F(t/γ)) = μ(t/γ) t/γ², t = c − x.
    static func truth(_ distribution: Distribution) -> (value: [Double], jacobian: [Double], scale: [Double]) {
        var value = [Double](repeating: 0, count: 3)
        var jacobian = [Double](repeating: 0, count: 9)
        var scale = [Double](repeating: 0, count: 9)
        for i in 0..<3 {
            let t = thresholds[i] - x[i]
            let density = distribution.density(t / gamma[i])
            value[i] = 1 - distribution.cdf(t / gamma[i])
            jacobian[i * 3 + i] = density / gamma[i]
            scale[i * 3 + i] = density * t / (gamma[i] * gamma[i])
        }
        return (value, jacobian, scale)
    }

    @Test("the closed form of ∂/∂γ matches finite differences of the smoothed step", arguments: Distribution.allCases)
    func closedFormAgreesWithDifferences(distribution: Distribution) {
        let scale = Self.truth(distribution).scale
        for i in 0..<3 {
            let t = Self.thresholds[i] - Self.x[i]
            let difference = ClosedForms.derivative { h in [1 - distribution.cdf(t / (Self.gamma[i] + h))] }[0]
            #expect(difference.isApproximatelyEqual(to: scale[i * 3 + i], absoluteTolerance: 1e-7), "\(distribution) output \(i)")
        }
    }

    @Test(
        "a Heaviside step gives the density in x and d/dγ(1 − F((c − x)/γ)) in γ, for every distribution",
        arguments: Distribution.allCases, [SamplingStrategy.mc, .rqmcLatin])
    func heavisideStep(distribution: Distribution, sampler: SamplingStrategy) throws {
        let truth = Self.truth(distribution)
        for covariate in Covariate.allCases {
            let configuration = SmoothingConfiguration(
                distribution: distribution, scale: Self.gamma, samples: 8192, sampler: sampler, covariate: covariate,
                seed: 21, differentiatesScale: true)
            let estimate = try Smoother(configuration: configuration, threads: 2).estimate(Self.step, at: Self.x)
            let label = "\(distribution) \(sampler) \(covariate)"
            expectWithinStandardErrors(estimate.value, truth.value, stderr: estimate.valueStderr, "\(label) value")
            expectWithinStandardErrors(estimate.jacobian, truth.jacobian, stderr: estimate.jacobianStderr, "\(label) ∂/∂x")
            let scaleGradient = try #require(estimate.scaleGradient)
            let scaleStderr = try #require(estimate.scaleGradientStderr)
            // Triangular and Wigner have infinite Fisher information: zε − 1 has a one-sided heavy
            // tail, and a constant baseline keeps the term (f̄ − c)·Σ(zε − 1), whose error is skewed
            // so that its standard error understates it. Leave-one-out removes that term.
            if distribution.hasFullSupport || covariate == .loo {
                expectWithinStandardErrors(scaleGradient, truth.scale, stderr: scaleStderr, "\(label) ∂/∂γ")
            }
            #expect(estimate.scaleMatrixGradient == nil && estimate.covariance == nil)
        }
    }

    /// For f = A x, f_γε(x) = A(x + γ∘E[ε]), so ∂ value_i/∂γ_j = A_ij E[ε] — zero unless Gumbel.
    @Test("a linear map's scale derivative is A·E[ε]", arguments: Distribution.allCases.filter { $0 != .cauchy })
    func linearMap(distribution: Distribution) throws {
        let a = [1.5, -2, 0.5, 3, 0, 1]  // 2 × 3
        let mean = try #require(ClosedForms.mean(distribution))
        let configuration = SmoothingConfiguration(
            distribution: distribution, scale: [0.5, 2, 1], samples: 20000, sampler: .mc, covariate: .loo, seed: 8,
            differentiatesScale: true)
        let estimate = try Smoother(configuration: configuration, threads: 2).estimate(
            GSSCoreTests.linearMap(a, rows: 2, columns: 3), at: [0.3, -1, 2])
        expectWithinStandardErrors(
            try #require(estimate.scaleGradient), a.map { $0 * mean }, stderr: try #require(estimate.scaleGradientStderr),
            "\(distribution) ∂/∂γ")
    }

    @Test("asking for ∂/∂γ leaves the value and Jacobian bit-identical")
    func scaleFeaturesDoNotDisturbTheJacobian() throws {
        for sampler in [SamplingStrategy.mc, .rqmcLatin] {
            var configuration = SmoothingConfiguration(
                distribution: .logistic, scale: Self.gamma, samples: 3000, sampler: sampler, covariate: .loo, seed: 4)
            let plain = try Smoother(configuration: configuration, threads: 3).estimate(Self.step, at: Self.x)
            configuration.differentiatesScale = true
            let withScale = try Smoother(configuration: configuration, threads: 2).estimate(Self.step, at: Self.x)
            #expect(plain.value == withScale.value && plain.valueStderr == withScale.valueStderr)
            #expect(plain.jacobian == withScale.jacobian && plain.jacobianStderr == withScale.jacobianStderr)
            #expect(plain.scaleGradient == nil && withScale.scaleGradient != nil)
        }
    }
}
