import GSSCore
import RealModule

/// Exact references for the estimator tests: closed forms and their finite differences.
enum ClosedForms {
    /// Var(ε) of the standardised distributions (nil for Cauchy, whose variance is infinite).
    static func variance(_ distribution: Distribution) -> Double? {
        switch distribution {
        case .gaussian: return 1
        case .logistic: return Double.pi * Double.pi / 3
        case .gumbel: return Double.pi * Double.pi / 6
        case .cauchy: return nil
        case .laplace: return 2
        case .triangular: return 1.0 / 6
        case .wigner: return 0.25
        }
    }

    /// E[ε] (nil for Cauchy): 0 for the symmetric ones, the Euler–Mascheroni constant for Gumbel.
    static func mean(_ distribution: Distribution) -> Double? {
        switch distribution {
        case .cauchy: return nil
        case .gumbel: return 0.577_215_664_901_532_9
        default: return 0
        }
    }

    /// Central difference of a vector function g(t) at t, Richardson-extrapolated (error O(h⁴)).
    static func derivative(step h: Double = 1e-3, _ g: (Double) -> [Double]) -> [Double] {
        func central(_ h: Double) -> [Double] {
            let plus = g(h)
            let minus = g(-h)
            return zip(plus, minus).map { ($0 - $1) / (2 * h) }
        }
        let coarse = central(h)
        let fine = central(h / 2)
        return zip(coarse, fine).map { (4 * $1 - $0) / 3 }
    }

    /// P(B ≥ j) for B ~ Binomial(k, p).
    static func binomialTail(k: Int, p: Double, atLeast j: Int) -> Double {
        (max(j, 0)...k).reduce(0.0) { $0 + binomialProbability(k: k, p: p, exactly: $1) }
    }

    static func binomialProbability(k: Int, p: Double, exactly j: Int) -> Double {
        guard j >= 0 && j <= k else { return 0 }
        var choose = 1.0
        for i in 0..<j { choose = choose * Double(k - i) / Double(i + 1) }
        return choose * Double.pow(p, j) * Double.pow(1 - p, k - j)
    }

    /// The k-sample median of Bernoulli(p) values: E = P(more than half are 1) (+ ½ P(exactly half)
    /// for even k, where the median is the mean of the two middle values).
    static func medianOfBernoulli(k: Int, p: Double) -> Double {
        if k % 2 == 1 { return binomialTail(k: k, p: p, atLeast: k / 2 + 1) }
        return binomialTail(k: k, p: p, atLeast: k / 2 + 1) + 0.5 * binomialProbability(k: k, p: p, exactly: k / 2)
    }

    /// E[median of k draws] of a discrete g with ascending values v_0 < v_1 < … and upper tails
    /// P(g ≥ v_i): the j-th smallest draw is ≥ v iff at least k − j + 1 draws are, and the median
    /// is the middle order statistic (the mean of the two middle ones for even k).
    static func medianOfDiscrete(k: Int, values: [Double], upperTails: [Double]) -> Double {
        func orderStatistic(_ j: Int) -> Double {
            var expectation = values[0]
            for i in 1..<values.count {
                expectation += (values[i] - values[i - 1]) * binomialTail(k: k, p: upperTails[i], atLeast: k - j + 1)
            }
            return expectation
        }
        return k % 2 == 1 ? orderStatistic(k / 2 + 1) : 0.5 * (orderStatistic(k / 2) + orderStatistic(k / 2 + 1))
    }

    /// P(Z₁ > t₁, Z₂ > t₂) for standard normals with correlation ρ (|ρ| < 1), by quadrature of
    /// ∫_{t₁}^∞ φ(z) Φ̄((t₂ − ρz)/√(1 − ρ²)) dz.
    static func bivariateNormalUpper(_ t1: Double, _ t2: Double, correlation rho: Double) -> Double {
        let root = (1 - rho * rho).squareRoot()
        return Quadrature.integrate(from: t1, to: max(t1, 0) + 40) { z in
            Distribution.gaussian.density(z) * (1 - Distribution.gaussian.cdf((t2 - rho * z) / root))
        }
    }

    /// Lᵀa for L n × n row-major.
    static func transposeApply(_ l: [Double], _ a: [Double]) -> [Double] {
        let n = a.count
        return (0..<n).map { k in (0..<n).reduce(0.0) { $0 + l[$1 * n + k] * a[$1] } }
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0.0) { $0 + $1.0 * $1.1 } }
}

/// A black box that counts 1[aᵣᵀu > bᵣ] for every row r of thresholds: f: Rⁿ → {0,1}^m.
func linearThresholds(_ normals: [[Double]], _ offsets: [Double]) -> ClosureBlackBox {
    let n = normals[0].count
    return ClosureBlackBox(inputCount: n, outputCount: normals.count, name: "linear thresholds") { u in
        normals.indices.map { ClosedForms.dot(normals[$0], u) > offsets[$0] ? 1 : 0 }
    }
}

/// f(u) = A u for A m × n row-major.
func linearMap(_ a: [Double], rows m: Int, columns n: Int) -> ClosureBlackBox {
    ClosureBlackBox(inputCount: n, outputCount: m, name: "linear map") { u in
        (0..<m).map { i in (0..<n).reduce(0.0) { $0 + a[i * n + $1] * u[$1] } }
    }
}
