import GSSCore
import Testing

@Suite("Smoothing the algorithm vs the objective (section 2.3)")
struct LossSmoothingTests {
    static let target = [0.25, 0.9, 0.4]

    /// The chain rule's tolerance: to first order Ĵᵀ∇ℓ(ĥ) − Jᵀ∇ℓ(h) = δJᵀv + Jᵀ H_ℓ δh, so (with
    /// H_ℓ = I for the squared error) its standard deviation is at most Σ_i |v_i| se(J_ij) + Σ_i |J_ij| se(h_i).
    static func chainRuleStandardError(_ estimate: SmoothedEstimate, lossGradient v: [Double]) -> [Double] {
        let n = estimate.inputCount
        return (0..<n).map { j in
            (0..<estimate.outputCount).reduce(0.0) { sum, i in
                sum + abs(v[i]) * estimate.jacobianStderr[i * n + j] + abs(estimate.jacobian[i * n + j]) * estimate.valueStderr[i]
            }
        }
    }

    @Test("smoothing the algorithm is exactly Ĵᵀ∇ℓ(ĥ), and matches Aᵀ(Ax − t) for a linear h")
    func algorithmOnLinearMap() throws {
        let a = [1.5, -2, 0.5, 3, 0, 1, -1, 2, 0.25]  // 3 × 3
        let x = [0.3, -0.2, 0.5]
        let configuration = SmoothingConfiguration(distribution: .gaussian, samples: 8000, sampler: .rqmcLatin, seed: 71)
        let result = try Smoother(configuration: configuration, threads: 2).lossOfSmoothedAlgorithm(
            linearMap(a, rows: 3, columns: 3), at: x, loss: .squaredError(target: Self.target))
        #expect(result.target == .algorithm && result.gradientStderr == nil)
        // Exactly the chain rule through the returned estimate.
        let smoothed = result.smoothed
        let v = zip(smoothed.value, Self.target).map { $0 - $1 }
        for j in 0..<3 {
            let expected = (0..<3).reduce(0.0) { $0 + v[$1] * smoothed.jacobian[$1 * 3 + j] }
            #expect(result.gradient[j].isApproximatelyEqual(to: expected, relativeTolerance: 1e-14))
        }
        #expect(result.value == 0.5 * v.reduce(0.0) { $0 + $1 * $1 })
        // And the truth, since f_ε(x) = Ax for centred noise.
        let ax = (0..<3).map { i in (0..<3).reduce(0.0) { $0 + a[i * 3 + $1] * x[$1] } }
        let residual = zip(ax, Self.target).map { $0 - $1 }
        let truth = (0..<3).map { j in (0..<3).reduce(0.0) { $0 + a[$1 * 3 + j] * residual[$1] } }
        expectWithinStandardErrors(result.gradient, truth, stderr: Self.chainRuleStandardError(smoothed, lossGradient: v), "∇(ℓ∘h_ε)")
    }

    /// Independent steps h_i = 1[x_i > c_i]: h_ε = p, ℓ(h_ε) = ½|p − t|², ∂/∂x_i = (p_i − t_i) ∂p_i/∂x_i.
    @Test("smoothing the algorithm: a step h and a squared error", arguments: [Distribution.logistic, .laplace, .wigner])
    func algorithmOnSteps(distribution: Distribution) throws {
        let truth = ScaleGradientTests.truth(distribution)
        let configuration = SmoothingConfiguration(
            distribution: distribution, scale: ScaleGradientTests.gamma, samples: 8000, sampler: .rqmcLatin, seed: 72,
            differentiatesScale: true)
        let result = try Smoother(configuration: configuration, threads: 2).lossOfSmoothedAlgorithm(
            ScaleGradientTests.step, at: ScaleGradientTests.x, loss: .squaredError(target: Self.target))
        let gradient: [Double] = (0..<3).map { i in (truth.value[i] - Self.target[i]) * truth.jacobian[i * 3 + i] }
        let v = zip(result.smoothed.value, Self.target).map { $0 - $1 }
        expectWithinStandardErrors(result.gradient, gradient, stderr: Self.chainRuleStandardError(result.smoothed, lossGradient: v), "\(distribution) ∇x")
        // The scale gradient goes through the same chain rule.
        let scaleGradient = try #require(result.scaleGradient)
        let smoothedScale = try #require(result.smoothed.scaleGradient)
        for j in 0..<3 {
            #expect(scaleGradient[j].isApproximatelyEqual(to: (0..<3).reduce(0.0) { $0 + v[$1] * smoothedScale[$1 * 3 + j] }, relativeTolerance: 1e-14))
        }
    }

    /// E[½|h(x + γε) − t|²] = ½ Σ_i [p_i (1 − t_i)² + (1 − p_i) t_i²], so ∂/∂x_i = ½(1 − 2t_i) ∂p_i/∂x_i.
    @Test("smoothing the objective: ℓ∘h as a scalar black box", arguments: [Distribution.gaussian, .cauchy, .triangular])
    func objectiveOnSteps(distribution: Distribution) throws {
        let truth = ScaleGradientTests.truth(distribution)
        let configuration = SmoothingConfiguration(
            distribution: distribution, scale: ScaleGradientTests.gamma, samples: 8000, sampler: .rqmcLatin, seed: 73)
        let loss = DifferentiableLoss.squaredError(target: Self.target)
        let result = try Smoother(configuration: configuration, threads: 2).lossGradient(
            ScaleGradientTests.step, at: ScaleGradientTests.x, loss: loss, smoothing: .objective)
        #expect(result.target == .objective && result.smoothed.outputCount == 1)
        var value = 0.0
        for i in 0..<3 {
            let (p, t) = (truth.value[i], Self.target[i])
            value += 0.5 * (p * (1 - t) * (1 - t) + (1 - p) * t * t)
        }
        let gradient: [Double] = (0..<3).map { i in
            let weight = 0.5 * (1 - 2 * Self.target[i])
            return weight * truth.jacobian[i * 3 + i]
        }
        expectWithinStandardErrors([result.value], [value], stderr: result.smoothed.valueStderr, "\(distribution) value")
        expectWithinStandardErrors(result.gradient, gradient, stderr: try #require(result.gradientStderr), "\(distribution) ∇x")
        // The adapter is exactly ℓ∘h, row by row.
        let composed = LossComposedBlackBox(algorithm: ScaleGradientTests.step, loss: loss.value)
        var y = [0.0, 0.0]
        let evaluator = try composed.makeEvaluators(count: 1)[0]
        try evaluator.evaluate([0.5, 0.5, 0.5, -1, 1, -2], rows: 2, into: &y)
        #expect(y == [loss.value([1, 1, 1]), loss.value([0, 1, 0])])
    }

    @Test("a loss gradient of the wrong size, or median smoothing of the algorithm, is refused")
    func invalidLosses() {
        let smoother = Smoother(configuration: SmoothingConfiguration(samples: 64, seed: 1))
        let wrong = DifferentiableLoss(value: { _ in 0 }, gradient: { _ in [1] })
        let error = #expect(throws: SmoothingError.self) {
            try smoother.lossOfSmoothedAlgorithm(ScaleGradientTests.step, at: ScaleGradientTests.x, loss: wrong)
        }
        #expect(error?.code == .invalidConfiguration)
        let median = Smoother(configuration: SmoothingConfiguration(samples: 64, covariate: .fx, seed: 1, medianSampleCount: 3))
        #expect(throws: SmoothingError.self) {
            try median.lossOfSmoothedAlgorithm(ScaleGradientTests.step, at: ScaleGradientTests.x, loss: .squaredError(target: Self.target))
        }
        // Median smoothing of the objective is the scalar case Lemma 13 is for.
        #expect(throws: Never.self) {
            try median.smoothedObjective(ScaleGradientTests.step, at: ScaleGradientTests.x) { y in y.reduce(0, +) }
        }
    }
}
