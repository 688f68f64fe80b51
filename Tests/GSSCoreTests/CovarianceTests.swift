import GSSCore
import RealModule
import Testing

@Suite("Output covariance and its derivatives (Theorem 8)")
struct CovarianceTests {
    /// f_i = 1[x_i > c_i] with diagonal γ: independent Bernoulli(p_i) outputs, so G = diag(p(1 − p)),
    /// ∂G_ii/∂x_i = (1 − 2p_i) ∂p_i/∂x_i and ∂G_ii/∂γ_i = (1 − 2p_i) ∂p_i/∂γ_i; the rest is 0.
    @Test(
        "independent steps: G = diag(p(1 − p)) and ∂G/∂x, ∂G/∂γ ≠ 0, for every distribution",
        arguments: Distribution.allCases, [false, true])
    func independentSteps(distribution: Distribution, antithetic: Bool) throws {
        guard distribution.isSymmetric || !antithetic else { return }
        let truth = ScaleGradientTests.truth(distribution)
        let configuration = SmoothingConfiguration(
            distribution: distribution, scale: ScaleGradientTests.gamma, samples: 20000, sampler: .mc,
            antithetic: antithetic, covariate: .loo, seed: 44, differentiatesScale: true, estimatesCovariance: true)
        let estimate = try Smoother(configuration: configuration, threads: 2).estimate(ScaleGradientTests.step, at: ScaleGradientTests.x)
        let covariance = try #require(estimate.covariance)
        var g = [Double](repeating: 0, count: 9)
        var dx = [Double](repeating: 0, count: 27)
        var dgamma = [Double](repeating: 0, count: 27)
        for i in 0..<3 {
            let p = truth.value[i]
            g[i * 3 + i] = p * (1 - p)
            dx[(i * 3 + i) * 3 + i] = (1 - 2 * p) * truth.jacobian[i * 3 + i]
            dgamma[(i * 3 + i) * 3 + i] = (1 - 2 * p) * truth.scale[i * 3 + i]
        }
        let label = "\(distribution)\(antithetic ? " antithetic" : "")"
        expectWithinStandardErrors(covariance.matrix, g, stderr: covariance.matrixStderr, "\(label) G")
        expectWithinStandardErrors(covariance.gradient, dx, stderr: covariance.gradientStderr, "\(label) ∂G/∂x")
        expectWithinStandardErrors(
            try #require(covariance.scaleGradient), dgamma, stderr: try #require(covariance.scaleGradientStderr), "\(label) ∂G/∂γ")
    }

    /// f = A u: G = v·A L Lᵀ Aᵀ with v = Var(ε), ∂G/∂x = 0, ∂G_ij/∂L_kl = v[A_ik (AL)_jl + (AL)_il A_jk].
    @Test("a linear map: G = v A L Lᵀ Aᵀ, ∂G/∂x = 0 and ∂G/∂L in closed form", arguments: Distribution.allCases.filter { $0 != .cauchy })
    func linearMap(distribution: Distribution) throws {
        let (m, n) = (2, 3)
        let a = [1.5, -2, 0.5, 3, 0, 1]
        let l = ScaleMatrixTests.l
        let v = try #require(ClosedForms.variance(distribution))
        var al = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for k in 0..<n { al[i * n + k] = (0..<n).reduce(0.0) { $0 + a[i * n + $1] * l[$1 * n + k] } }
        }
        var g = [Double](repeating: 0, count: m * m)
        var dl = [Double](repeating: 0, count: m * m * n * n)
        for i in 0..<m {
            for j in 0..<m {
                g[i * m + j] = v * (0..<n).reduce(0.0) { $0 + al[i * n + $1] * al[j * n + $1] }
                for k in 0..<n {
                    for q in 0..<n {
                        dl[((i * m + j) * n + k) * n + q] = v * (a[i * n + k] * al[j * n + q] + al[i * n + q] * a[j * n + k])
                    }
                }
            }
        }
        let configuration = SmoothingConfiguration(
            distribution: distribution, samples: 40000, sampler: .mc, covariate: .loo, seed: 45,
            scaleMatrix: try ScaleMatrix(dimension: n, entries: l), differentiatesScale: true, estimatesCovariance: true)
        let estimate = try Smoother(configuration: configuration, threads: 2).estimate(
            GSSCoreTests.linearMap(a, rows: m, columns: n), at: [0.3, -1, 2])
        let covariance = try #require(estimate.covariance)
        expectWithinStandardErrors(covariance.matrix, g, stderr: covariance.matrixStderr, "\(distribution) G")
        expectWithinStandardErrors(
            covariance.gradient, Array(repeating: 0, count: m * m * n), stderr: covariance.gradientStderr, "\(distribution) ∂G/∂x")
        expectWithinStandardErrors(
            try #require(covariance.scaleGradient), dl, stderr: try #require(covariance.scaleGradientStderr), "\(distribution) ∂G/∂L")
    }

    /// Two linear thresholds under Gaussian noise with a non-symmetric L: (aᵀu, cᵀu) is bivariate
    /// normal with correlation ρ = (Lᵀa)·(Lᵀc)/(|Lᵀa||Lᵀc|), so G_12 = P(both) − p₁p₂ by quadrature.
    static func thresholdCovariance(x: [Double], l: [Double]) -> [Double] {
        let normals = ScaleMatrixTests.normals
        let offsets = ScaleMatrixTests.offsets
        let la = normals.map { ClosedForms.transposeApply(l, $0) }
        let sigma = la.map { ClosedForms.dot($0, $0).squareRoot() }
        let t = (0..<2).map { (offsets[$0] - ClosedForms.dot(normals[$0], x)) / sigma[$0] }
        let p = t.map { 1 - Distribution.gaussian.cdf($0) }
        let rho = ClosedForms.dot(la[0], la[1]) / (sigma[0] * sigma[1])
        let both = ClosedForms.bivariateNormalUpper(t[0], t[1], correlation: rho)
        return [p[0] * (1 - p[0]), both - p[0] * p[1], both - p[0] * p[1], p[1] * (1 - p[1])]
    }

    @Test("two linear thresholds under Gaussian noise and a non-symmetric L: G, ∂G/∂x and ∂G/∂L against finite differences of the closed form")
    func correlatedThresholds() throws {
        let (m, n) = (2, 3)
        let x = ScaleMatrixTests.x
        let l = ScaleMatrixTests.l
        var dx = [Double](repeating: 0, count: m * m * n)
        var dl = [Double](repeating: 0, count: m * m * n * n)
        for k in 0..<n {
            let column = ClosedForms.derivative { h in
                var shifted = x
                shifted[k] += h
                return Self.thresholdCovariance(x: shifted, l: l)
            }
            for ij in 0..<(m * m) { dx[ij * n + k] = column[ij] }
        }
        for kq in 0..<(n * n) {
            let column = ClosedForms.derivative { h in
                var perturbed = l
                perturbed[kq] += h
                return Self.thresholdCovariance(x: x, l: perturbed)
            }
            for ij in 0..<(m * m) { dl[ij * n * n + kq] = column[ij] }
        }
        #expect(dx.contains { abs($0) > 0.05 }, "the case must have ∂G/∂x ≠ 0")
        let configuration = SmoothingConfiguration(
            distribution: .gaussian, samples: 40000, sampler: .rqmcLatin, covariate: .loo, seed: 46,
            scaleMatrix: try ScaleMatrix(dimension: n, entries: l), differentiatesScale: true, estimatesCovariance: true)
        let estimate = try Smoother(configuration: configuration, threads: 2).estimate(
            linearThresholds(ScaleMatrixTests.normals, ScaleMatrixTests.offsets), at: x)
        let covariance = try #require(estimate.covariance)
        expectWithinStandardErrors(covariance.matrix, Self.thresholdCovariance(x: x, l: l), stderr: covariance.matrixStderr, "G")
        expectWithinStandardErrors(covariance.gradient, dx, stderr: covariance.gradientStderr, "∂G/∂x")
        expectWithinStandardErrors(
            try #require(covariance.scaleGradient), dl, stderr: try #require(covariance.scaleGradientStderr), "∂G/∂L")
    }

    /// The batch-means standard errors must match the spread of independent estimates.
    @Test("covariance standard errors are calibrated and the estimators unbiased", arguments: [false, true])
    func standardErrorsAreCalibrated(antithetic: Bool) throws {
        let step = ClosureBlackBox(inputCount: 1, outputCount: 1) { x in [x[0] > 0.4 ? 3 : 1] }
        let repeats = 300
        var estimates: [(Double, Double)] = []
        var stderrs: [(Double, Double)] = []
        for seed in 0..<repeats {
            let configuration = SmoothingConfiguration(
                distribution: .logistic, samples: 1024, sampler: .mc, antithetic: antithetic, seed: UInt64(500 + seed),
                estimatesCovariance: true)
            let covariance = try #require(try Smoother(configuration: configuration).estimate(step, at: [0]).covariance)
            estimates.append((covariance.matrix[0], covariance.gradient[0]))
            stderrs.append((covariance.matrixStderr[0], covariance.gradientStderr[0]))
        }
        // Bernoulli(p) times 2: G = 4p(1 − p), ∂G/∂x = 4(1 − 2p) μ(0.4).
        let p = 1 - Distribution.logistic.cdf(0.4)
        let truths = [4 * p * (1 - p), 4 * (1 - 2 * p) * Distribution.logistic.density(0.4)]
        for (index, name) in ["G", "∂G/∂x"].enumerated() {
            let values = estimates.map { index == 0 ? $0.0 : $0.1 }
            let errors = stderrs.map { index == 0 ? $0.0 : $0.1 }
            let mean = values.reduce(0, +) / Double(repeats)
            let spread = (values.reduce(0.0) { $0 + ($1 - mean) * ($1 - mean) } / Double(repeats - 1)).squareRoot()
            let reported = errors.reduce(0, +) / Double(repeats)
            #expect(reported / spread > 0.85 && reported / spread < 1.2, "\(name) antithetic=\(antithetic): reported \(reported) vs spread \(spread)")
            #expect(abs(mean - truths[index]) <= 5 * spread / Double(repeats).squareRoot(), "\(name) antithetic=\(antithetic): mean \(mean) vs \(truths[index])")
        }
    }

    /// Two-pass reference: the U-statistics over ordered pairs from different units.
    static func pairReference(
        responses r: [Double], features f: [Double], rows: Int, m: Int, p: Int, unitSize: Int
    ) -> (covariance: [Double], gradient: [Double]) {
        var covariance = [Double](repeating: 0, count: m * m)
        var gradient = [Double](repeating: 0, count: m * m * p)
        var count = 0.0
        for i in 0..<rows {
            for j in 0..<rows where i / unitSize != j / unitSize {
                count += 1
                for a in 0..<m {
                    for b in 0..<m {
                        let product = (r[i * m + a] - r[j * m + a]) * (r[i * m + b] - r[j * m + b])
                        covariance[a * m + b] += 0.5 * product
                        for k in 0..<p { gradient[(a * m + b) * p + k] += product * f[i * p + k] }
                    }
                }
            }
        }
        return (covariance.map { $0 / count }, gradient.map { $0 / count })
    }

    @Test("streaming covariance sums equal the pairwise U-statistics", arguments: [1, 2])
    func matchesPairwiseDefinition(unitSize: Int) {
        let (rows, m, p) = (40, 3, 2)
        let r = MomentSumsTests.data(rows: rows, columns: m, seed: 5)
        let f = MomentSumsTests.data(rows: rows, columns: p, seed: 6)
        var sums = CovarianceSums(responseCount: m, featureCount: p, unitSize: unitSize)
        var whole = CovarianceSums(responseCount: m, featureCount: p, unitSize: unitSize)
        whole.add(responses: r, features: f, rows: rows)
        sums.mergeChunk(whole)
        let estimate = sums.estimate()
        let expected = Self.pairReference(responses: r, features: f, rows: rows, m: m, p: p, unitSize: unitSize)
        for k in 0..<(m * m) {
            #expect(estimate.covariance[k].isApproximatelyEqual(to: expected.covariance[k], absoluteTolerance: 1e-13))
        }
        for k in 0..<(m * m * p) {
            #expect(estimate.gradient[k].isApproximatelyEqual(to: expected.gradient[k], absoluteTolerance: 1e-13))
        }
        if unitSize == 1 {
            // G is the unbiased sample covariance.
            let mean = (0..<m).map { a in (0..<rows).reduce(0.0) { $0 + r[$1 * m + a] } / Double(rows) }
            let g01 = (0..<rows).reduce(0.0) { $0 + (r[$1 * m] - mean[0]) * (r[$1 * m + 1] - mean[1]) } / Double(rows - 1)
            #expect(estimate.covariance[1].isApproximatelyEqual(to: g01, absoluteTolerance: 1e-14))
        }
    }

    /// Three batches of 32 (C − 1 = 2 against C = 3 is a factor 1.22 in the error).
    @Test("batch-means standard errors equal their definition: √(Σ b_c (X_c − X̂)² / ((C − 1) s))")
    func batchMeansMatchDefinition() {
        let (batch, batches, m, p) = (CovarianceSums.minimumBatchSamples, 3, 2, 1)
        let rows = batch * batches
        let r = MomentSumsTests.data(rows: rows, columns: m, seed: 7)
        let f = MomentSumsTests.data(rows: rows, columns: p, seed: 8)
        var sums = CovarianceSums(responseCount: m, featureCount: p, unitSize: 1)
        var perBatch: [(covariance: [Double], gradient: [Double])] = []
        for c in 0..<batches {
            let (rs, fs) = (Array(r[(c * batch * m)..<((c + 1) * batch * m)]), Array(f[(c * batch * p)..<((c + 1) * batch * p)]))
            var chunk = CovarianceSums(responseCount: m, featureCount: p, unitSize: 1)
            chunk.add(responses: rs, features: fs, rows: batch)
            sums.mergeChunk(chunk)
            perBatch.append(Self.pairReference(responses: rs, features: fs, rows: batch, m: m, p: p, unitSize: 1))
        }
        let estimate = sums.estimate()
        func batchMeansError(_ whole: Double, _ parts: [Double]) -> Double {
            (parts.reduce(0.0) { $0 + Double(batch) * ($1 - whole) * ($1 - whole) } / (Double(batches - 1) * Double(rows))).squareRoot()
        }
        for k in 0..<(m * m) {
            let expected = batchMeansError(estimate.covariance[k], perBatch.map { $0.covariance[k] })
            #expect(estimate.covarianceStderr[k].isApproximatelyEqual(to: expected, relativeTolerance: 1e-9), "G entry \(k)")
        }
        for k in 0..<(m * m * p) {
            let expected = batchMeansError(estimate.gradient[k], perBatch.map { $0.gradient[k] })
            #expect(estimate.gradientStderr[k].isApproximatelyEqual(to: expected, relativeTolerance: 1e-9), "∂G entry \(k)")
        }
    }

    @Test("the covariance is bit-identical for every thread count")
    func reproducibleAcrossThreads() throws {
        let configuration = SmoothingConfiguration(
            distribution: .gaussian, samples: 5000, sampler: .rqmcLatin, seed: 7, differentiatesScale: true, estimatesCovariance: true)
        let reference = try Smoother(configuration: configuration, threads: 1).estimate(sorterBlackBox(n: 3), at: [0.1, -0.2, 0.3])
        for threads in [2, 5] {
            #expect(try Smoother(configuration: configuration, threads: threads).estimate(sorterBlackBox(n: 3), at: [0.1, -0.2, 0.3]) == reference)
        }
    }

    @Test("an unreasonably large covariance is refused with the reason")
    func tooLarge() {
        let image = ClosureBlackBox(inputCount: 4, outputCount: 4096) { _, rows, y in
            for k in 0..<(rows * 4096) { y[k] = 0 }
        }
        let configuration = SmoothingConfiguration(samples: 64, seed: 1, estimatesCovariance: true)
        let error = #expect(throws: SmoothingError.self) { try Smoother(configuration: configuration).estimate(image, at: [0, 0, 0, 0]) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("4096·4096·4") == true, "\(error?.message ?? "")")
    }
}
