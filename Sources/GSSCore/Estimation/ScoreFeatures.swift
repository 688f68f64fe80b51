import CGSSVectorMath

/// How the noise enters the black box's input, and which score features Φ(ε) each sample
/// carries into the estimators E[(f − c) Φᵀ]. Every feature has expectation 0 under μ, so any
/// baseline c independent of the sample keeps every estimate unbiased.
///
/// Feature layout (p numbers per sample), with z = ∇ −log μ(ε) the score:
/// - diagonal γ, value and Jacobian: z (p = n), divided by γ_j at the end (eq. 10);
/// - diagonal γ, also ∂/∂γ: then z_j ε_j − 1 (p = 2n), divided by γ_j at the end (eq. 11);
/// - scale matrix L: w = L^{−T} z (p = n; eq. 12 with the transpose that finite differences
///   confirm), and with ∂/∂L also vec(w εᵀ − L^{−T}) = vec(L^{−T}(z εᵀ − I)) (p = n + n²; eq. 13).
struct ScoreFeatures: Sendable {
    enum Scale: Sendable {
        case diagonal([Double])
        case matrix(ScaleMatrix)
    }

    let scale: Scale
    let inputCount: Int
    let includesScale: Bool
    let featureCount: Int
    /// Feature columns are divided by these at the end (γ for a diagonal scale); nil for none.
    let divisors: [Double]?

    init(scale: Scale, inputCount n: Int, includesScale: Bool) {
        self.scale = scale
        inputCount = n
        self.includesScale = includesScale
        switch scale {
        case .diagonal(let gamma):
            featureCount = includesScale ? 2 * n : n
            divisors = includesScale ? gamma + gamma : gamma
        case .matrix:
            featureCount = includesScale ? n + n * n : n
            divisors = nil
        }
    }

    /// The plain path: the features are the scores themselves, no copy needed.
    var featuresAreScores: Bool {
        if case .diagonal = scale, !includesScale { return true }
        return false
    }

    /// inputs[r] = x + γ∘ε_r or x + L ε_r for `rows` rows.
    func perturb(
        point x: [Double], noise: UnsafePointer<Double>, rows: Int, into inputs: UnsafeMutablePointer<Double>
    ) {
        let n = inputCount
        switch scale {
        case .diagonal(let gamma):
            gss_perturb_rows(x, gamma, noise, rows, n, inputs)
        case .matrix(let matrix):
            matrix.entries.withUnsafeBufferPointer { l in
                for r in 0..<rows {
                    let e = noise + r * n
                    for j in 0..<n {
                        var sum = x[j]
                        for k in 0..<n { sum += l[j * n + k] * e[k] }
                        inputs[r * n + j] = sum
                    }
                }
            }
        }
    }

    /// Writes `rows` × featureCount features (only needed when `featuresAreScores` is false).
    func fill(
        noise: UnsafePointer<Double>, scores: UnsafePointer<Double>, rows: Int,
        into features: UnsafeMutablePointer<Double>
    ) {
        let n = inputCount
        let p = featureCount
        switch scale {
        case .diagonal:
            for r in 0..<rows {
                let e = noise + r * n
                let z = scores + r * n
                let out = features + r * p
                for j in 0..<n { out[j] = z[j] }
                if includesScale {
                    for j in 0..<n { out[n + j] = z[j] * e[j] - 1 }
                }
            }
        case .matrix(let matrix):
            matrix.inverseTranspose.withUnsafeBufferPointer { t in
                for r in 0..<rows {
                    let e = noise + r * n
                    let z = scores + r * n
                    let out = features + r * p
                    for j in 0..<n {
                        var w = 0.0
                        for k in 0..<n { w += t[j * n + k] * z[k] }
                        out[j] = w
                    }
                    if includesScale {
                        for j in 0..<n {
                            let w = out[j]
                            let row = out + n + j * n
                            for k in 0..<n { row[k] = w * e[k] - t[j * n + k] }
                        }
                    }
                }
            }
        }
    }

    /// Divides feature column b of a q × p row-major array by divisors[b], in place.
    func applyDivisors(_ values: inout [Double], rows q: Int) {
        guard let divisors else { return }
        let p = featureCount
        for a in 0..<q {
            for b in 0..<p { values[a * p + b] /= divisors[b] }
        }
    }

    /// Splits a q × p row-major array into its Jacobian columns (q × n) and its scale columns
    /// (q × n for a diagonal scale, q × n² for a matrix), the latter nil without ∂/∂scale.
    func split(_ values: [Double], rows q: Int) -> (x: [Double], scale: [Double]?) {
        let n = inputCount
        let p = featureCount
        if p == n { return (values, nil) }
        var x = [Double](repeating: 0, count: q * n)
        var rest = [Double](repeating: 0, count: q * (p - n))
        for a in 0..<q {
            for b in 0..<n { x[a * n + b] = values[a * p + b] }
            for b in n..<p { rest[a * (p - n) + b - n] = values[a * p + b] }
        }
        return (x, rest)
    }
}
