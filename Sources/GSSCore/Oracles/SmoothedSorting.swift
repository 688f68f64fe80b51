/// The exact smoothed permutation matrix of the hard sorter, an oracle for tests and studies.
///
/// With independent noise, x_i + γ_i ε_i has rank j iff exactly j of the other perturbed values
/// lie below it, so P_ij(x) = ∫ μ(ε) · PB_j(x_i + γ_i ε) dε, where PB_j(t) is the Poisson-binomial
/// probability that exactly j of the others fall below t, each with probability F((t − x_k)/γ_k).
/// Substituting ε = F⁻¹(u) turns this into a 1-D integral over u ∈ (0, 1).
public struct SmoothedSorting: Sendable {
    public let distribution: Distribution
    public let scale: [Double]

    public init(distribution: Distribution, scale: [Double]) {
        self.distribution = distribution
        self.scale = scale
    }

    /// P(x) as n × n row-major: entry [i·n + j] = P(x_i + γ_i ε_i has ascending rank j).
    public func permutationMatrix(at x: [Double]) -> [Double] {
        let n = x.count
        let gamma = scale.count == n ? scale : Array(repeating: scale[0], count: n)
        var result = [Double](repeating: 0, count: n * n)
        var rankProbabilities = [Double](repeating: 0, count: n)
        for i in 0..<n {
            for j in 0..<n {
                result[i * n + j] = Quadrature.integrate(from: 0, to: 1) { u in
                    guard u > 0 && u < 1 else { return 0 }
                    let t = x[i] + gamma[i] * distribution.quantile(u)
                    poissonBinomial(below: t, excluding: i, x: x, gamma: gamma, into: &rankProbabilities)
                    return rankProbabilities[j]
                }
            }
        }
        return result
    }

    /// The Jacobian of the flattened P (n·n rows of n) by Richardson-extrapolated central
    /// differences with step h and h/2 (error O(h⁴) plus quadrature error / h).
    public func jacobian(at x: [Double], step: Double = 1e-3) -> [Double] {
        let n = x.count
        var jacobian = [Double](repeating: 0, count: n * n * n)
        func difference(_ k: Int, _ h: Double) -> [Double] {
            var plus = x
            var minus = x
            plus[k] += h
            minus[k] -= h
            let p = permutationMatrix(at: plus)
            let q = permutationMatrix(at: minus)
            return (0..<(n * n)).map { (p[$0] - q[$0]) / (2 * h) }
        }
        for k in 0..<n {
            let coarse = difference(k, step)
            let fine = difference(k, step / 2)
            for row in 0..<(n * n) {
                jacobian[row * n + k] = (4 * fine[row] - coarse[row]) / 3
            }
        }
        return jacobian
    }

    /// PB_j(t) for j = 0..<n: the probability that exactly j of the x_k + γ_k ε_k (k ≠ i) are below t.
    private func poissonBinomial(
        below t: Double, excluding i: Int, x: [Double], gamma: [Double], into probabilities: inout [Double]
    ) {
        let n = x.count
        for j in 0..<n { probabilities[j] = 0 }
        probabilities[0] = 1
        var seen = 0
        for k in 0..<n where k != i {
            let p = distribution.cdf((t - x[k]) / gamma[k])
            var j = seen + 1
            while j > 0 {
                probabilities[j] = probabilities[j] * (1 - p) + probabilities[j - 1] * p
                j -= 1
            }
            probabilities[0] *= 1 - p
            seen += 1
        }
    }
}
