import GSSCore
import RealModule
import Testing

@Suite("Smoothing with a scale matrix L (Theorem 7)")
struct ScaleMatrixTests {
    /// A non-symmetric, well-conditioned L: a transpose mistake changes every estimate.
    static let l: [Double] = [
        1.0, 0.0, 0.0,
        0.8, 0.6, 0.0,
        -0.5, 1.2, 0.9,
    ]
    static let normals: [[Double]] = [[1.0, -0.5, 0.25], [0.3, 1.0, -0.8]]
    static let offsets = [0.2, -0.4]
    static let x = [0.1, 0.35, -0.2]

    /// P(aᵀ(x + Lε) > b) for Gaussian ε: Φ((aᵀx − b)/|Lᵀa|), for every threshold.
    static func gaussianProbabilities(x: [Double], l: [Double]) -> [Double] {
        normals.indices.map { r in
            let spread = ClosedForms.dot(ClosedForms.transposeApply(l, normals[r]), ClosedForms.transposeApply(l, normals[r])).squareRoot()
            return Distribution.gaussian.cdf((ClosedForms.dot(normals[r], x) - offsets[r]) / spread)
        }
    }

    /// For Cauchy ε, aᵀLε is Cauchy with scale ‖Lᵀa‖₁.
    static func cauchyProbabilities(x: [Double], l: [Double]) -> [Double] {
        normals.indices.map { r in
            let spread = ClosedForms.transposeApply(l, normals[r]).reduce(0.0) { $0 + abs($1) }
            return Distribution.cauchy.cdf((ClosedForms.dot(normals[r], x) - offsets[r]) / spread)
        }
    }

    /// ∂P/∂x (m × n) and ∂P/∂L (m × n × n) by finite differences of a closed form.
    static func differences(_ probabilities: ([Double], [Double]) -> [Double]) -> (x: [Double], l: [Double]) {
        let m = normals.count
        let n = 3
        var dx = [Double](repeating: 0, count: m * n)
        var dl = [Double](repeating: 0, count: m * n * n)
        for j in 0..<n {
            let column = ClosedForms.derivative { h in
                var shifted = x
                shifted[j] += h
                return probabilities(shifted, l)
            }
            for i in 0..<m { dx[i * n + j] = column[i] }
        }
        for jk in 0..<(n * n) {
            let column = ClosedForms.derivative { h in
                var perturbed = l
                perturbed[jk] += h
                return probabilities(x, perturbed)
            }
            for i in 0..<m { dl[i * n * n + jk] = column[i] }
        }
        return (dx, dl)
    }

    @Test("the Gaussian closed form's analytic gradients agree with its finite differences")
    func analyticGradientsOfTheClosedForm() {
        let (dx, dl) = Self.differences(Self.gaussianProbabilities)
        for (i, a) in Self.normals.enumerated() {
            let la = ClosedForms.transposeApply(Self.l, a)
            let sigma = ClosedForms.dot(la, la).squareRoot()
            let t = (ClosedForms.dot(a, Self.x) - Self.offsets[i]) / sigma
            let phi = Distribution.gaussian.density(t)
            for j in 0..<3 {
                #expect(dx[i * 3 + j].isApproximatelyEqual(to: phi * a[j] / sigma, absoluteTolerance: 1e-8))
                for k in 0..<3 {
                    // dσ/dL_jk = a_j (Lᵀa)_k / σ and dP/dσ = −φ(t) t / σ.
                    let expected = -phi * t / sigma * a[j] * la[k] / sigma
                    #expect(dl[i * 9 + j * 3 + k].isApproximatelyEqual(to: expected, absoluteTolerance: 1e-8))
                }
            }
        }
    }

    @Test("a linear threshold under Gaussian noise: ∇x = E[f L^{−T}z] and ∇L = L^{−T}E[f(zεᵀ − I)]", arguments: Covariate.allCases)
    func gaussianLinearThreshold(covariate: Covariate) throws {
        let matrix = try ScaleMatrix(dimension: 3, entries: Self.l)
        let configuration = SmoothingConfiguration(
            distribution: .gaussian, samples: 40000, sampler: .rqmcLatin, covariate: covariate, seed: 12,
            scaleMatrix: matrix, differentiatesScale: true)
        let estimate = try Smoother(configuration: configuration, threads: 2).estimate(
            linearThresholds(Self.normals, Self.offsets), at: Self.x)
        let (dx, dl) = Self.differences(Self.gaussianProbabilities)
        expectWithinStandardErrors(estimate.value, Self.gaussianProbabilities(x: Self.x, l: Self.l), stderr: estimate.valueStderr, "\(covariate) value")
        expectWithinStandardErrors(estimate.jacobian, dx, stderr: estimate.jacobianStderr, "\(covariate) ∇x")
        expectWithinStandardErrors(
            try #require(estimate.scaleMatrixGradient), dl, stderr: try #require(estimate.scaleMatrixGradientStderr), "\(covariate) ∇L")
        #expect(estimate.scaleGradient == nil)
    }

    @Test("a linear threshold under Cauchy noise (aᵀLε is Cauchy with scale ‖Lᵀa‖₁): ∇x")
    func cauchyLinearThreshold() throws {
        let matrix = try ScaleMatrix(dimension: 3, entries: Self.l)
        let configuration = SmoothingConfiguration(
            distribution: .cauchy, samples: 40000, sampler: .rqmcLatin, covariate: .loo, seed: 13, scaleMatrix: matrix)
        let estimate = try Smoother(configuration: configuration, threads: 2).estimate(
            linearThresholds(Self.normals, Self.offsets), at: Self.x)
        let (dx, _) = Self.differences(Self.cauchyProbabilities)
        expectWithinStandardErrors(estimate.value, Self.cauchyProbabilities(x: Self.x, l: Self.l), stderr: estimate.valueStderr, "value")
        expectWithinStandardErrors(estimate.jacobian, dx, stderr: estimate.jacobianStderr, "∇x")
    }

    /// f = A u: f_L(x) = A(x + L E[ε]), so ∇x = A and ∂ value_i/∂L_jk = A_ij E[ε_k].
    @Test("a linear map: ∇x = A and ∇L = A ⊗ E[ε]", arguments: Distribution.allCases.filter { $0 != .cauchy })
    func linearMap(distribution: Distribution) throws {
        let a = [1.5, -2, 0.5, 3, 0, 1]
        let mean = try #require(ClosedForms.mean(distribution))
        let configuration = SmoothingConfiguration(
            distribution: distribution, samples: 20000, sampler: .mc, covariate: .loo, seed: 30,
            scaleMatrix: try ScaleMatrix(dimension: 3, entries: Self.l), differentiatesScale: true)
        let estimate = try Smoother(configuration: configuration, threads: 2).estimate(
            GSSCoreTests.linearMap(a, rows: 2, columns: 3), at: Self.x)
        var truth = [Double](repeating: 0, count: 18)
        for i in 0..<2 {
            for j in 0..<3 {
                for k in 0..<3 { truth[i * 9 + j * 3 + k] = a[i * 3 + j] * mean }
            }
        }
        expectWithinStandardErrors(estimate.jacobian, a, stderr: estimate.jacobianStderr, "\(distribution) ∇x")
        expectWithinStandardErrors(
            try #require(estimate.scaleMatrixGradient), truth, stderr: try #require(estimate.scaleMatrixGradientStderr),
            "\(distribution) ∇L")
    }

    @Test("a diagonal L reproduces the diagonal scale: the same samples, ∂/∂L_jj = ∂/∂γ_j, ∂/∂L_jk = 0 off the diagonal")
    func diagonalMatrixMatchesDiagonalScale() throws {
        let gamma = [0.5, 2.0, 1.25]
        let box = ScaleGradientTests.step
        let diagonal = SmoothingConfiguration(
            distribution: .logistic, scale: gamma, samples: 4096, sampler: .rqmcLatin, covariate: .loo, seed: 3,
            differentiatesScale: true)
        var matrix = diagonal
        matrix.scale = [1]
        matrix.scaleMatrix = try ScaleMatrix.diagonal(gamma)
        let a = try Smoother(configuration: diagonal, threads: 2).estimate(box, at: ScaleGradientTests.x)
        let b = try Smoother(configuration: matrix, threads: 2).estimate(box, at: ScaleGradientTests.x)
        #expect(a.value == b.value)
        for k in a.jacobian.indices {
            #expect(a.jacobian[k].isApproximatelyEqual(to: b.jacobian[k], absoluteTolerance: 1e-14, relativeTolerance: 1e-12))
        }
        let scale = try #require(a.scaleGradient)
        let full = try #require(b.scaleMatrixGradient)
        for i in 0..<3 {
            for j in 0..<3 {
                #expect(scale[i * 3 + j].isApproximatelyEqual(to: full[i * 9 + j * 3 + j], absoluteTolerance: 1e-14, relativeTolerance: 1e-12))
            }
        }
    }

    @Test("L is inverted correctly and its condition number is exact for a diagonal matrix")
    func inverse() throws {
        let matrix = try ScaleMatrix(dimension: 3, entries: Self.l)
        // L · L^{−1} = I, with L^{−1}_{kj} = inverseTranspose[j·n + k].
        for i in 0..<3 {
            for j in 0..<3 {
                let product = (0..<3).reduce(0.0) { $0 + Self.l[i * 3 + $1] * matrix.inverseTranspose[j * 3 + $1] }
                #expect(product.isApproximatelyEqual(to: i == j ? 1 : 0, absoluteTolerance: 1e-14))
            }
        }
        #expect(try ScaleMatrix.diagonal([2, 0.5, 4]).conditionNumber == 8)  // ‖L‖₁ ‖L⁻¹‖₁ = 4 · 2
        // A permutation matrix needs pivoting.
        let swap = try ScaleMatrix(dimension: 2, entries: [0, 3, 2, 0])
        #expect(swap.inverseTranspose == [0, 1.0 / 3, 0.5, 0])
    }

    @Test("singular, numerically singular, non-square and non-finite matrices are usage errors")
    func invalidMatrices() {
        let cases: [(Int, [Double], String)] = [
            (2, [1, 2, 2, 4], "singular"),
            (2, [1, 1, 1, 1 + 1e-16], "singular"),
            (2, [1, 1, 1, 1 + 1e-15], "numerically singular"),
            (2, [1, 0, 0], "2×2"),
            (2, [1, 0, 0, .nan], "finite"),
            (3, [1e-300, 0, 0, 0, 1, 0, 0, 0, 1e300], "numerically singular"),
        ]
        for (n, entries, fragment) in cases {
            let error = #expect(throws: SmoothingError.self) { try ScaleMatrix(dimension: n, entries: entries) }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.message.contains(fragment) == true, "\(entries): \(error?.message ?? "")")
        }
        // Badly scaled but far from singular is fine.
        #expect(throws: Never.self) { try ScaleMatrix(dimension: 2, entries: [1e-6, 0, 0, 1e6]) }
    }

    @Test("bad combinations with a scale matrix are usage errors")
    func invalidCombinations() throws {
        let box = linearThresholds(Self.normals, Self.offsets)
        let matrix = try ScaleMatrix(dimension: 3, entries: Self.l)
        let configurations = [
            SmoothingConfiguration(scale: [2], seed: 1, scaleMatrix: matrix),
            SmoothingConfiguration(seed: 1, scaleMatrix: try ScaleMatrix.diagonal([1, 2])),
            SmoothingConfiguration(distribution: .cauchy, seed: 1, scaleMatrix: matrix, differentiatesScale: true),
        ]
        for configuration in configurations {
            let error = #expect(throws: SmoothingError.self) { try Smoother(configuration: configuration).estimate(box, at: Self.x) }
            #expect(error?.code == .invalidConfiguration)
        }
    }
}
