import GSSCore
import RealModule
import Testing

@Suite("k-sample median smoothing (Lemma 13)")
struct MedianTests {
    /// The median of a set: the middle value, or the mean of the two middle values.
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let k = sorted.count
        return k % 2 == 1 ? sorted[k / 2] : 0.5 * (sorted[k / 2 - 1] + sorted[k / 2])
    }

    /// All k-subsets of 0..<s.
    static func subsets(_ s: Int, _ k: Int) -> [[Int]] {
        guard k > 0 else { return [[]] }
        guard s >= k else { return [] }
        return subsets(s - 1, k - 1).map { $0 + [s - 1] } + subsets(s - 1, k)
    }

    /// Brute force over every subset: the value, H_i, the leave-one-out values, and the gradient
    /// U-statistic mean of (median − c) Σ_{j∈S} Φ_j with its structural components.
    static func bruteForce(values g: [Double], features f: [Double], p: Int, k: Int, c: Double)
        -> (value: Double, conditional: [Double], leaveOneOut: [Double], gradient: [Double], components: [[Double]])
    {
        let s = g.count
        let all = subsets(s, k)
        let value = all.reduce(0.0) { $0 + median($1.map { g[$0] }) } / Double(all.count)
        var conditional = [Double](repeating: 0, count: s)
        var components = [[Double]](repeating: Array(repeating: 0, count: p), count: s)
        var gradient = [Double](repeating: 0, count: p)
        for subset in all {
            let centred = median(subset.map { g[$0] }) - c
            var scores = [Double](repeating: 0, count: p)
            for i in subset {
                for j in 0..<p { scores[j] += f[i * p + j] }
            }
            for j in 0..<p { gradient[j] += centred * scores[j] / Double(all.count) }
            for i in subset {
                conditional[i] += centred + c
                for j in 0..<p { components[i][j] += centred * scores[j] }
            }
        }
        let perSample = Double(all.count * k / s)
        let leaveOneOut: [Double] = (0..<s).map { removed in
            guard k < s else { return .nan }
            let others = (0..<s).filter { $0 != removed }
            let rest = subsets(s - 1, k)
            return rest.reduce(0.0) { $0 + median($1.map { g[others[$0]] }) } / Double(rest.count)
        }
        return (
            value, conditional.map { $0 / perSample }, leaveOneOut, gradient,
            components.map { $0.map { $0 / perSample } }
        )
    }

    @Test(
        "closed-form ranks equal enumeration of every subset (odd and even k, ties, k = s)",
        arguments: [(7, 3), (7, 4), (8, 2), (9, 5), (6, 6), (8, 5)])
    func matchesEnumeration(s: Int, k: Int) throws {
        let generator = Philox4x32(seed: UInt64(s * 10 + k))
        let uniform = { (i: Int) in Double.openUnit(bits: generator.bits(stream: 3, index: UInt64(i)).0) }
        // Every other case has ties (values from {0, 1, 2}).
        let g = (0..<s).map { s % 2 == 0 ? Double(Int(uniform($0) * 3)) : uniform($0) * 4 - 2 }
        let p = 2
        let f = (0..<(s * p)).map { uniform(1000 + $0) * 2 - 1 }
        let c = 0.37
        let reference = Self.bruteForce(values: g, features: f, p: p, k: k, c: c)
        let median = try KSampleMedian(values: g, k: k)
        #expect(median.value.isApproximatelyEqual(to: reference.value, absoluteTolerance: 1e-13))
        let weights = median.valueWeights()
        #expect(zip(weights, g).reduce(0.0) { $0 + $1.0 * $1.1 }.isApproximatelyEqual(to: reference.value, absoluteTolerance: 1e-13))
        #expect(weights.reduce(0, +).isApproximatelyEqual(to: 1, absoluteTolerance: 1e-13))
        for (h, expected) in zip(median.conditionalMedians(), reference.conditional) {
            #expect(h.isApproximatelyEqual(to: expected, absoluteTolerance: 1e-13))
        }
        // Sen's standard error of the value, k · sd(H)/√s, from the enumerated H_i.
        let meanH = reference.conditional.reduce(0, +) / Double(s)
        let varianceH = reference.conditional.reduce(0.0) { $0 + ($1 - meanH) * ($1 - meanH) } / Double(s - 1)
        #expect(median.valueStderr.isApproximatelyEqual(
            to: Double(k) * (varianceH / Double(s)).squareRoot(), absoluteTolerance: 1e-12, relativeTolerance: 1e-10))
        if k < s {
            let leaveOneOut = try #require(median.leaveOneOutValues())
            for (loo, expected) in zip(leaveOneOut, reference.leaveOneOut) {
                #expect(loo.isApproximatelyEqual(to: expected, absoluteTolerance: 1e-13))
            }
            // Subsets holding i are all subsets but those without it: k·H_i = s·U − (s − k)·U₋ᵢ.
            for (h, loo) in zip(median.conditionalMedians(), leaveOneOut) {
                let expected = (Double(s) * reference.value - Double(s - k) * loo) / Double(k)
                #expect(h.isApproximatelyEqual(to: expected, absoluteTolerance: 1e-12))
            }
        } else {
            #expect(median.leaveOneOutValues() == nil)
        }
        let (gradient, stderr) = try median.gradient(features: f, featureCount: p, baseline: .constant(c))
        for j in 0..<p {
            #expect(gradient[j].isApproximatelyEqual(to: reference.gradient[j], absoluteTolerance: 1e-13))
            // Sen's standard error from the enumerated structural components.
            let components = reference.components.map { $0[j] }
            let mean = components.reduce(0, +) / Double(s)
            let variance = components.reduce(0.0) { $0 + ($1 - mean) * ($1 - mean) } / Double(s - 1)
            let expected = Double(k) * (variance / Double(s)).squareRoot()
            #expect(stderr[j].isApproximatelyEqual(to: expected, absoluteTolerance: 1e-12, relativeTolerance: 1e-10))
            #expect(mean.isApproximatelyEqual(to: reference.gradient[j], absoluteTolerance: 1e-13))
        }
    }

    @Test("the paper's eq. 98 (the median's own score only) would be biased: f(x) = x, Gaussian, k = 3")
    func ownScoreAloneIsBiased() throws {
        // The estimator's gradient of the smoothed median of x + ε is 1; the median's own score
        // alone would give E[med · score(med's ε)] = E[med²] ≈ 0.449 for three standard normals.
        let identity = ClosureBlackBox(inputCount: 1, outputCount: 1) { x in [x[0]] }
        let configuration = SmoothingConfiguration(
            distribution: .gaussian, samples: 60000, sampler: .mc, covariate: .none, seed: 2, medianSampleCount: 3)
        let estimate = try Smoother(configuration: configuration).estimate(identity, at: [0])
        expectWithinStandardErrors(estimate.jacobian, [1], stderr: estimate.jacobianStderr, "median gradient")
        #expect(abs(estimate.jacobian[0] - 0.449) > 20 * estimate.jacobianStderr[0], "indistinguishable from eq. 98's 0.449")
    }

    static let symmetric: [Distribution] = Distribution.allCases.filter(\.isSymmetric)

    /// f(x) = x: the k-sample median of x + γε has expectation x for symmetric μ, gradient 1, and
    /// ∂/∂γ = 0 (for Gumbel the value is x + γ·E[median of k], still with gradient 1).
    @Test("f(x) = x: value x, gradient 1, scale derivative 0", arguments: Distribution.allCases, [3, 4, 5])
    func identity(distribution: Distribution, k: Int) throws {
        // Cauchy medians of fewer than 5 draws have infinite variance.
        guard distribution != .cauchy || k >= 5 else { return }
        let identity = ClosureBlackBox(inputCount: 1, outputCount: 1) { x in [x[0]] }
        for covariate in Covariate.allCases {
            let configuration = SmoothingConfiguration(
                distribution: distribution, scale: [0.7], samples: 4000, sampler: .mc, covariate: covariate, seed: 61,
                differentiatesScale: distribution.isSymmetric, medianSampleCount: k)
            let estimate = try Smoother(configuration: configuration, threads: 2).estimate(identity, at: [0.3])
            let label = "\(distribution) k=\(k) \(covariate)"
            #expect(estimate.medianSampleCount == k)
            expectWithinStandardErrors(estimate.jacobian, [1], stderr: estimate.jacobianStderr, "\(label) gradient")
            if distribution.isSymmetric {
                expectWithinStandardErrors(estimate.value, [0.3], stderr: estimate.valueStderr, "\(label) value")
                expectWithinStandardErrors(
                    try #require(estimate.scaleGradient), [0], stderr: try #require(estimate.scaleGradientStderr), "\(label) ∂/∂γ")
            }
        }
    }

    /// f = 1[x > 0]: the median of k Bernoulli(p) values, p = 1 − F(−x/γ), is a binomial tail;
    /// d/dx = tail'(p)·μ(−x/γ)/γ and d/dγ = −tail'(p)·μ(−x/γ)·x/γ².
    @Test("a step: the binomial tail of p = 1 − F(−x/γ), in x and γ", arguments: Distribution.allCases, [3, 4])
    func step(distribution: Distribution, k: Int) throws {
        let step = ClosureBlackBox(inputCount: 1, outputCount: 1) { x in [x[0] > 0 ? 1 : 0] }
        let (x, gamma) = (0.25, 0.8)
        let t = -x / gamma
        let p = 1 - distribution.cdf(t)
        let value = ClosedForms.medianOfBernoulli(k: k, p: p)
        let slope = ClosedForms.derivative(step: 1e-4) { h in [ClosedForms.medianOfBernoulli(k: k, p: p + h)] }[0]
        let gradient = slope * distribution.density(t) / gamma
        let scaleGradient = -slope * distribution.density(t) * x / (gamma * gamma)
        for (covariate, sampler) in [(Covariate.loo, SamplingStrategy.mc), (.fx, .mc), (.none, .rqmcLatin)] {
            let configuration = SmoothingConfiguration(
                distribution: distribution, scale: [gamma], samples: 6000, sampler: sampler, covariate: covariate, seed: 62,
                differentiatesScale: true, medianSampleCount: k)
            let estimate = try Smoother(configuration: configuration, threads: 2).estimate(step, at: [x])
            let label = "\(distribution) k=\(k) \(covariate) \(sampler)"
            expectWithinStandardErrors(estimate.value, [value], stderr: estimate.valueStderr, "\(label) value")
            expectWithinStandardErrors(estimate.jacobian, [gradient], stderr: estimate.jacobianStderr, "\(label) ∂/∂x")
            expectWithinStandardErrors(
                try #require(estimate.scaleGradient), [scaleGradient], stderr: try #require(estimate.scaleGradientStderr), "\(label) ∂/∂γ")
        }
    }

    /// With a scale matrix, 1[aᵀu > b] is Bernoulli(Φ((aᵀx − b)/|Lᵀa|)) under Gaussian noise.
    @Test("a linear threshold with a scale matrix: ∇x and ∇L of the median smoothing")
    func scaleMatrix() throws {
        let a = [1.0, -0.5]
        let b = 0.1
        let l = [1.0, 0.0, 0.7, 0.5]
        let x = [0.2, -0.1]
        let k = 5
        func smoothed(_ x: [Double], _ l: [Double]) -> [Double] {
            let la = ClosedForms.transposeApply(l, a)
            let p = Distribution.gaussian.cdf((ClosedForms.dot(a, x) - b) / ClosedForms.dot(la, la).squareRoot())
            return [ClosedForms.medianOfBernoulli(k: k, p: p)]
        }
        let dx = (0..<2).map { j in
            ClosedForms.derivative { h in
                var shifted = x
                shifted[j] += h
                return smoothed(shifted, l)
            }[0]
        }
        let dl = (0..<4).map { jk in
            ClosedForms.derivative { h in
                var perturbed = l
                perturbed[jk] += h
                return smoothed(x, perturbed)
            }[0]
        }
        let box = ClosureBlackBox(inputCount: 2, outputCount: 1) { u in [ClosedForms.dot(a, u) > b ? 1 : 0] }
        let configuration = SmoothingConfiguration(
            distribution: .gaussian, samples: 8000, sampler: .mc, covariate: .loo, seed: 63,
            scaleMatrix: try ScaleMatrix(dimension: 2, entries: l), differentiatesScale: true, medianSampleCount: k)
        let estimate = try Smoother(configuration: configuration, threads: 2).estimate(box, at: x)
        expectWithinStandardErrors(estimate.value, smoothed(x, l), stderr: estimate.valueStderr, "value")
        expectWithinStandardErrors(estimate.jacobian, dx, stderr: estimate.jacobianStderr, "∇x")
        expectWithinStandardErrors(
            try #require(estimate.scaleMatrixGradient), dl, stderr: try #require(estimate.scaleMatrixGradientStderr), "∇L")
    }

    /// Sen's standard errors must match the spread of independent estimates, on a three-level
    /// staircase g ∈ {0, 1, 3}. (The value for k = 2h + 2 equals that for 2h + 1 — an order-statistics
    /// identity — and so does the leave-one-out gradient Σ(U − U₋ᵢ)Φᵢ; constant baselines differ.)
    @Test(
        "median standard errors are calibrated and the estimator is unbiased",
        arguments: [(3, Covariate.loo), (4, .fx), (4, .none), (5, .loo)])
    func standardErrorsAreCalibrated(k: Int, covariate: Covariate) throws {
        let step = ClosureBlackBox(inputCount: 1, outputCount: 1) { x in [(x[0] > -0.3 ? 1 : 0) + (x[0] > 0.4 ? 2 : 0)] }
        let repeats = 300
        var values: [Double] = []
        var gradients: [Double] = []
        var valueErrors: [Double] = []
        var gradientErrors: [Double] = []
        for seed in 0..<repeats {
            let configuration = SmoothingConfiguration(
                distribution: .logistic, samples: 400, sampler: .mc, covariate: covariate, seed: UInt64(900 + seed), medianSampleCount: k)
            let estimate = try Smoother(configuration: configuration).estimate(step, at: [0])
            values.append(estimate.value[0])
            gradients.append(estimate.jacobian[0])
            valueErrors.append(estimate.valueStderr[0])
            gradientErrors.append(estimate.jacobianStderr[0])
        }
        func smoothed(_ x: Double) -> [Double] {
            let tails = [1, 1 - Distribution.logistic.cdf(-0.3 - x), 1 - Distribution.logistic.cdf(0.4 - x)]
            return [ClosedForms.medianOfDiscrete(k: k, values: [0, 1, 3], upperTails: tails)]
        }
        let truths = [smoothed(0)[0], ClosedForms.derivative { smoothed($0) }[0]]
        for (name, estimates, errors, truth) in [("value", values, valueErrors, truths[0]), ("gradient", gradients, gradientErrors, truths[1])] {
            let mean = estimates.reduce(0, +) / Double(repeats)
            let spread = (estimates.reduce(0.0) { $0 + ($1 - mean) * ($1 - mean) } / Double(repeats - 1)).squareRoot()
            let reported = errors.reduce(0, +) / Double(repeats)
            #expect(reported / spread > 0.85 && reported / spread < 1.18, "k=\(k) \(covariate) \(name): reported \(reported) vs spread \(spread)")
            expectCalibrated(estimates, stderr: errors, truth: truth, "k=\(k) \(covariate) \(name)")
            #expect(abs(mean - truth) <= 5 * spread / Double(repeats).squareRoot(), "k=\(k) \(covariate) \(name): mean \(mean) vs \(truth)")
        }
    }

    @Test("median estimates are bit-identical for every thread count")
    func reproducibleAcrossThreads() throws {
        let box = ClosureBlackBox(inputCount: 3, outputCount: 1) { x in [x[0] > x[1] ? x[2] : -x[2]] }
        let configuration = SmoothingConfiguration(
            distribution: .laplace, samples: 7001, sampler: .rqmcLatin, seed: 5, differentiatesScale: true, medianSampleCount: 6)
        let reference = try Smoother(configuration: configuration, threads: 1).estimate(box, at: [0.1, 0, 1])
        for threads in [2, 3, 8] {
            #expect(try Smoother(configuration: configuration, threads: threads).estimate(box, at: [0.1, 0, 1]) == reference)
        }
    }

    @Test("bad median requests are usage errors")
    func invalidRequests() {
        let scalar = ClosureBlackBox(inputCount: 1, outputCount: 1) { x in [x[0]] }
        let cases: [(any BlackBox, SmoothingConfiguration, String)] = [
            (sorterBlackBox(n: 2), SmoothingConfiguration(samples: 100, seed: 1, medianSampleCount: 3), "scalar"),
            (scalar, SmoothingConfiguration(samples: 100, seed: 1, medianSampleCount: 101), "2 ≤ K"),
            (scalar, SmoothingConfiguration(samples: 100, seed: 1, medianSampleCount: 1), "2 ≤ K"),
            (scalar, SmoothingConfiguration(samples: 100, covariate: .loo, seed: 1, medianSampleCount: 100), "leave-one-out"),
            (scalar, SmoothingConfiguration(samples: 100, antithetic: true, seed: 1, medianSampleCount: 3), "antithetic"),
            (scalar, SmoothingConfiguration(samples: 100, seed: 1, estimatesCovariance: true, medianSampleCount: 3), "covariance"),
        ]
        for (box, configuration, fragment) in cases {
            let error = #expect(throws: SmoothingError.self) { try Smoother(configuration: configuration).estimate(box, at: Array(repeating: 0, count: box.inputCount)) }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "")")
        }
        // k = s is fine without the leave-one-out covariate.
        #expect(throws: Never.self) {
            try Smoother(configuration: SmoothingConfiguration(samples: 50, covariate: .fx, seed: 1, medianSampleCount: 50)).estimate(scalar, at: [0])
        }
    }
}
