/// Streaming sums for score-function estimates of the form E[(R − c) Φᵀ], where each sample i
/// brings a response vector R_i (q numbers, e.g. f's outputs) and a feature vector Φ_i (p numbers,
/// e.g. the scores ∇ −log μ(ε_i)), and c is a baseline (the covariate).
///
/// Memory is O(q·p), independent of the number of samples. The baseline may be a constant or
/// the leave-one-out mean, because Σ(R_i − R̄)Φ_iᵀ = ΣR_iΦ_iᵀ − R̄ ΣΦ_iᵀ needs only running sums.
///
/// Standard errors treat each *unit* as independent: a single sample, or an antithetic pair
/// (unitSize 2, samples 2j and 2j+1). Per unit u with U_u = Σ_{i∈u} R_iΦ_iᵀ and V_u = Σ_{i∈u} Φ_i,
/// the contribution is h_u = U_u − c V_u, so Σh_u² = ΣU_u² − 2c ΣU_uV_u + c² ΣV_u², entry by entry.
public struct MomentSums: Sendable, Equatable {
    public let responseCount: Int
    public let featureCount: Int
    public let unitSize: Int
    public private(set) var samples = 0

    /// ΣR (q), Σ(unit sums of R)² (q), ΣΦ (p), Σ(unit sums of Φ)² (p).
    public private(set) var sumR: [Double]
    public private(set) var sumUnitR2: [Double]
    public private(set) var sumPhi: [Double]
    public private(set) var sumUnitPhi2: [Double]
    /// ΣRΦᵀ, ΣU², ΣU·V — each q × p, row-major (response-major).
    public private(set) var sumRPhi: [Double]
    public private(set) var sumU2: [Double]
    public private(set) var sumUV: [Double]

    public init(responseCount: Int, featureCount: Int, unitSize: Int) {
        precondition(unitSize == 1 || unitSize == 2, "units are single samples or pairs")
        self.responseCount = responseCount
        self.featureCount = featureCount
        self.unitSize = unitSize
        sumR = Array(repeating: 0, count: responseCount)
        sumUnitR2 = sumR
        sumPhi = Array(repeating: 0, count: featureCount)
        sumUnitPhi2 = sumPhi
        sumRPhi = Array(repeating: 0, count: responseCount * featureCount)
        sumU2 = sumRPhi
        sumUV = sumRPhi
    }

    public var units: Int { samples / unitSize }

    /// Adds `rows` samples: responses rows × q and features rows × p, both row-major.
    /// `rows` must be a multiple of unitSize, and units must not straddle calls.
    public mutating func add(
        responses: UnsafePointer<Double>, features: UnsafePointer<Double>, rows: Int
    ) {
        precondition(rows % unitSize == 0, "a batch must hold whole units")
        let q = responseCount
        let p = featureCount
        let unitSize = self.unitSize
        sumR.withUnsafeMutableBufferPointer { sumR in
        sumUnitR2.withUnsafeMutableBufferPointer { sumUnitR2 in
        sumPhi.withUnsafeMutableBufferPointer { sumPhi in
        sumUnitPhi2.withUnsafeMutableBufferPointer { sumUnitPhi2 in
        sumRPhi.withUnsafeMutableBufferPointer { sumRPhi in
        sumU2.withUnsafeMutableBufferPointer { sumU2 in
        sumUV.withUnsafeMutableBufferPointer { sumUV in
            var row = 0
            while row < rows {
                let r0 = responses + row * q
                let f0 = features + row * p
                if unitSize == 1 {
                    for b in 0..<p {
                        let phi = f0[b]
                        sumPhi[b] += phi
                        sumUnitPhi2[b] += phi * phi
                    }
                    for a in 0..<q {
                        let r = r0[a]
                        // A zero response adds exact zeros (features are finite): skipping it is
                        // bit-identical and saves most of the work for sparse 0/1 outputs.
                        if r == 0 { continue }
                        sumR[a] += r
                        sumUnitR2[a] += r * r
                        let base = a * p
                        for b in 0..<p {
                            let phi = f0[b]
                            let u = r * phi
                            sumRPhi[base + b] += u
                            sumU2[base + b] += u * u
                            sumUV[base + b] += u * phi
                        }
                    }
                } else {
                    let r1 = r0 + q
                    let f1 = f0 + p
                    for b in 0..<p {
                        let v = f0[b] + f1[b]
                        sumPhi[b] += v
                        sumUnitPhi2[b] += v * v
                    }
                    for a in 0..<q {
                        if r0[a] == 0 && r1[a] == 0 { continue }  // exact zeros, as above
                        let w = r0[a] + r1[a]
                        sumR[a] += w
                        sumUnitR2[a] += w * w
                        let base = a * p
                        for b in 0..<p {
                            let u0 = r0[a] * f0[b]
                            let u = u0 + r1[a] * f1[b]
                            sumRPhi[base + b] += u
                            sumU2[base + b] += u * u
                            sumUV[base + b] += u * (f0[b] + f1[b])
                        }
                    }
                }
                row += unitSize
            }
        }}}}}}}
        samples += rows
    }

    /// Adds another partial sum (e.g. one chunk's), element by element.
    public mutating func merge(_ other: MomentSums) {
        precondition(
            other.responseCount == responseCount && other.featureCount == featureCount
                && other.unitSize == unitSize, "merging sums of different shapes")
        samples += other.samples
        Self.addInPlace(&sumR, other.sumR)
        Self.addInPlace(&sumUnitR2, other.sumUnitR2)
        Self.addInPlace(&sumPhi, other.sumPhi)
        Self.addInPlace(&sumUnitPhi2, other.sumUnitPhi2)
        Self.addInPlace(&sumRPhi, other.sumRPhi)
        Self.addInPlace(&sumU2, other.sumU2)
        Self.addInPlace(&sumUV, other.sumUV)
    }

    private static func addInPlace(_ target: inout [Double], _ source: [Double]) {
        target.withUnsafeMutableBufferPointer { t in
            source.withUnsafeBufferPointer { s in
                for i in 0..<t.count { t[i] += s[i] }
            }
        }
    }

    /// The baseline c of the covariate, in the same (possibly shifted) units as R.
    public enum Baseline: Sendable {
        /// A constant c per response (0 for no covariate, f(x) for the fx covariate).
        case constant([Double])
        /// The leave-one-out mean: c_i = mean of the other s − 1 samples.
        case leaveOneOut
    }

    /// The mean of R with standard errors, and E[(R − c)Φᵀ] with per-entry standard errors.
    public func estimate(baseline: Baseline) -> MomentEstimate {
        let q = responseCount
        let p = featureCount
        let s = Double(samples)
        let n = Double(units)
        var mean = [Double](repeating: 0, count: q)
        var meanStderr = [Double](repeating: .nan, count: q)
        for a in 0..<q {
            mean[a] = sumR[a] / s
            if units >= 2 {
                let variance = (sumUnitR2[a] - sumR[a] * sumR[a] / n) / (n - 1)
                meanStderr[a] = (n * Swift.max(variance, 0)).squareRoot() / s
            }
        }
        let c: [Double]
        let denominator: Double
        switch baseline {
        case .constant(let values):
            precondition(values.count == q, "one baseline per response")
            c = values
            denominator = s
        case .leaveOneOut:
            // Σ(R_i − (ΣR − R_i)/(s−1))Φ_i = s/(s−1) · Σ(R_i − R̄)Φ_i, so divide by s − 1.
            c = mean
            denominator = s - 1
        }
        var gradient = [Double](repeating: 0, count: q * p)
        var gradientStderr = [Double](repeating: .nan, count: q * p)
        for a in 0..<q {
            let ca = c[a]
            for b in 0..<p {
                let index = a * p + b
                let sumH = sumRPhi[index] - ca * sumPhi[b]
                gradient[index] = sumH / denominator
                if units >= 2 {
                    let sumH2 = sumU2[index] - 2 * ca * sumUV[index] + ca * ca * sumUnitPhi2[b]
                    let variance = (sumH2 - sumH * sumH / n) / (n - 1)
                    gradientStderr[index] = (n * Swift.max(variance, 0)).squareRoot() / denominator
                }
            }
        }
        return MomentEstimate(
            responseCount: q, featureCount: p, mean: mean, meanStderr: meanStderr,
            gradient: gradient, gradientStderr: gradientStderr)
    }
}

/// What MomentSums.estimate returns. Standard errors are NaN when fewer than 2 units were seen.
public struct MomentEstimate: Sendable, Equatable {
    public let responseCount: Int
    public let featureCount: Int
    public let mean: [Double]
    public let meanStderr: [Double]
    /// q × p, row-major.
    public let gradient: [Double]
    public let gradientStderr: [Double]
}
