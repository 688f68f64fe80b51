import RealModule

/// The k-sample median smoothing of the paper's appendix C (Lemma 13), estimated from s scalar
/// samples g_i = f(x + ε_i) by U-statistics over all k-subsets — in closed form from ranks, in
/// O(s log s) time and O(s) memory, never enumerating subsets.
///
/// ## Value
/// f^(k)(x) = E[median{g_1, …, g_k}] is estimated by the mean over all k-subsets,
/// Σ_i q_i g_(i) with q_r = C(r−1, (k−1)/2) · C(s−r, (k−1)/2) / C(s, k) for odd k and the
/// ascending rank r (eq. 113). For even k the median of a set is the mean of its two middle
/// values, so q_r = ½[C(r−1, k/2−1) C(s−r, k/2) + C(r−1, k/2) C(s−r, k/2−1)] / C(s, k).
/// Ties need no rule: the median of a subset is a value, whichever tied sample "holds" it.
/// (By the order-statistics recurrence E[X₍ⱼ:ₙ₎](n − j) + j E[X₍ⱼ₊₁:ₙ₎] = n E[X₍ⱼ:ₙ₋₁₎], the value
/// for k = 2h + 2 equals that for 2h + 1 — in expectation and as U-statistics on the same samples.)
///
/// ## Gradient (a correction of eq. 98/112)
/// Differentiating E[median{f(x + ε_1), …, f(x + ε_k)}] through the product density of the k
/// draws gives ∇f^(k)(x) = E[median{g_1..g_k} · Σ_{j≤k} Φ(ε_j)], with Φ the score features.
/// The paper's eq. 98 keeps only the median's own score, E[g_r Φ(ε_r)], which drops the other
/// k − 1 terms: for f(x) = x, Gaussian noise and k = 3 it gives E[med²] ≈ 0.449 instead of 1.
/// The U-statistic of the correct form is (k/s) Σ_i (H_i − c) Φ_i, where H_i is the mean of the
/// median over the C(s−1, k−1) subsets that contain sample i — also closed form from ranks.
///
/// ## Baselines
/// Any baseline independent of sample i keeps the estimate unbiased (E[Φ_i] = 0): a constant
/// (0, or f(x)), or the leave-one-out k-sample median smoothing U₋ᵢ of the other s − 1 samples,
/// computed for every i in O(s) (needs k ≤ s − 1). Since k·H_i = s·U − (s − k)·U₋ᵢ, the
/// leave-one-out estimate is Σ_i (U − U₋ᵢ) Φ_i, a jackknife influence times the score.
///
/// ## Standard errors
/// Sen's estimator for U-statistics: Var ≈ (k²/s) · sample variance of the structural
/// components V_i = mean of the kernel over the subsets containing i. For the value V_i = H_i;
/// for the gradient V_i needs sums over pairs of samples, which are separable in ranks, so prefix
/// sums give all of them in O(s·p). Samples are assumed independent (mc); with Latin-hypercube
/// points the dependence between samples leaves an O(k²/s) bias.
public struct KSampleMedian: Sendable {
    /// k, the size of the subsets whose median is averaged (2 ≤ k ≤ s).
    public let k: Int
    /// s, the number of samples.
    public let sampleCount: Int
    /// Sample indices in ascending order of value (ties by index): order[r] has rank r + 1.
    public let order: [Int]
    /// The estimate Σ q_r g_(r) of f^(k)(x).
    public let value: Double
    /// Its standard error, k · sd(H) / √s.
    public let valueStderr: Double
    /// H by rank: the mean median over the subsets containing the sample of that rank.
    let conditionalMedian: [Double]
    /// By rank: H2(a, c) = φ_a + ψ_c is the mean median over the subsets holding ranks a < c.
    let pairLower: [Double]
    let pairUpper: [Double]
    /// The values in rank order.
    let sortedValues: [Double]

    /// The position weights of the median inside a sorted k-subset (1-based positions).
    static func positions(k: Int) -> [(position: Int, weight: Double)] {
        k % 2 == 1 ? [(k / 2 + 1, 1)] : [(k / 2, 0.5), (k / 2 + 1, 0.5)]
    }

    /// Ranks the values and computes the value, its standard error and the per-rank weights.
    /// - Throws: `SmoothingError.invalidConfiguration` unless 2 ≤ k ≤ s and all values are finite.
    public init(values: [Double], k: Int) throws(SmoothingError) {
        let s = values.count
        guard k >= 2 && k <= s else {
            throw .invalidConfiguration("--median K needs 2 ≤ K ≤ s (the number of samples, \(s)), got \(k)")
        }
        guard values.allSatisfy(\.isFinite) else { throw .invalidConfiguration("median smoothing needs finite values") }
        self.k = k
        sampleCount = s
        let order = (0..<s).sorted { values[$0] < values[$1] || (values[$0] == values[$1] && $0 < $1) }
        self.order = order
        let g = order.map { values[$0] }
        sortedValues = g
        let binomial = LogBinomial(upTo: s)
        let positions = Self.positions(k: k)
        // Σ_p ω_p C(r − 1 − lowOffset, p − 1 − lowOffset) C(s − r − highOffset, k − p − highOffset) / norm,
        // for rank r (1-based): the counts of subsets that place rank r at the median position p,
        // with some lower (higher) slots already taken by other fixed samples.
        func weight(_ r: Int, lowTaken: Int, highTaken: Int, logNorm: Double) -> Double {
            var total = 0.0
            for (p, w) in positions {
                let log = binomial(r - 1 - lowTaken, p - 1 - lowTaken)
                    + binomial(s - r - highTaken, k - p - highTaken) - logNorm
                if log > -.infinity { total += w * Double.exp(log) }
            }
            return total
        }
        let logSubsetsWithOne = binomial(s - 1, k - 1)
        let logSubsetsWithTwo = binomial(s - 2, k - 2)

        // H_a = g_a A(a) + Σ_{b>a} g_b Bup(b) + Σ_{b<a} g_b Bdn(b), all over C(s−1, k−1).
        var conditional = [Double](repeating: 0, count: s)
        var below = 0.0
        for a in 0..<s {
            let r = a + 1
            conditional[a] = g[a] * weight(r, lowTaken: 0, highTaken: 0, logNorm: logSubsetsWithOne) + below
            below += g[a] * weight(r, lowTaken: 0, highTaken: 1, logNorm: logSubsetsWithOne)
        }
        var above = 0.0
        for a in stride(from: s - 1, through: 0, by: -1) {
            conditional[a] += above
            above += g[a] * weight(a + 1, lowTaken: 1, highTaken: 0, logNorm: logSubsetsWithOne)
        }
        conditionalMedian = conditional

        // H2(a, c) for ranks a < c splits into φ(a) + ψ(c): the median's rank b relative to a
        // and c selects which slots a and c take, and the middle range a < b < c telescopes.
        var lower = [Double](repeating: 0, count: s)
        var upper = [Double](repeating: 0, count: s)
        var belowBoth = 0.0  // Σ_{b<a} g_b E1(b)
        var between = 0.0  // W3(a) = Σ_{b≤a} g_b E3(b)
        for a in 0..<s {
            let r = a + 1
            upper[a] = between  // W3(a − 1)
            between += g[a] * weight(r, lowTaken: 1, highTaken: 1, logNorm: logSubsetsWithTwo)
            lower[a] = belowBoth + g[a] * weight(r, lowTaken: 0, highTaken: 1, logNorm: logSubsetsWithTwo) - between
            belowBoth += g[a] * weight(r, lowTaken: 0, highTaken: 2, logNorm: logSubsetsWithTwo)
        }
        var aboveBoth = 0.0  // Σ_{b>c} g_b E5(b)
        for c in stride(from: s - 1, through: 0, by: -1) {
            let r = c + 1
            upper[c] += g[c] * weight(r, lowTaken: 1, highTaken: 0, logNorm: logSubsetsWithTwo) + aboveBoth
            aboveBoth += g[c] * weight(r, lowTaken: 2, highTaken: 0, logNorm: logSubsetsWithTwo)
        }
        pairLower = lower
        pairUpper = upper

        // The value is the mean of H (each subset counted k times over s samples), and Sen's
        // variance estimate is k² Var(H) / s.
        let mean = conditional.reduce(0, +) / Double(s)
        var squares = 0.0
        for h in conditional { squares += (h - mean) * (h - mean) }
        value = mean
        valueStderr = s >= 2 ? Double(k) * (squares / Double(s - 1) / Double(s)).squareRoot() : .nan
    }

    /// The value weights q_i of eq. 113 (generalised to even k), by sample index; Σ q_i = 1.
    public func valueWeights() -> [Double] {
        let s = sampleCount
        let binomial = LogBinomial(upTo: s)
        let logNorm = binomial(s, k)
        var weights = [Double](repeating: 0, count: s)
        for (a, index) in order.enumerated() {
            let r = a + 1
            var total = 0.0
            for (p, w) in Self.positions(k: k) {
                let log = binomial(r - 1, p - 1) + binomial(s - r, k - p) - logNorm
                if log > -.infinity { total += w * Double.exp(log) }
            }
            weights[index] = total
        }
        return weights
    }

    /// H_i by sample index: the mean of the k-sample median over the subsets containing sample i.
    public func conditionalMedians() -> [Double] {
        var result = [Double](repeating: 0, count: sampleCount)
        for (a, index) in order.enumerated() { result[index] = conditionalMedian[a] }
        return result
    }

    /// The leave-one-out values by rank: the k-sample median smoothing of the other s − 1
    /// samples (nil when k = s).
    func leaveOneOutValuesByRank() -> [Double]? {
        let s = sampleCount
        guard k <= s - 1 else { return nil }
        let binomial = LogBinomial(upTo: s)
        let logNorm = binomial(s - 1, k)
        // Among s − 1 samples rank r keeps its rank below the removed one and loses one above it.
        func weight(_ r: Int) -> Double {
            var total = 0.0
            for (p, w) in Self.positions(k: k) {
                let log = binomial(r - 1, p - 1) + binomial(s - 1 - r, k - p) - logNorm
                if log > -.infinity { total += w * Double.exp(log) }
            }
            return total
        }
        var result = [Double](repeating: 0, count: s)
        var below = 0.0
        for a in 0..<s {
            result[a] = below
            below += sortedValues[a] * weight(a + 1)
        }
        var above = 0.0
        for a in stride(from: s - 1, through: 0, by: -1) {
            result[a] += above
            above += sortedValues[a] * weight(a)  // rank a + 1 becomes a without the sample below
        }
        return result
    }

    /// The leave-one-out values by sample index (nil when k = s).
    public func leaveOneOutValues() -> [Double]? {
        guard let byRank = leaveOneOutValuesByRank() else { return nil }
        var result = [Double](repeating: 0, count: sampleCount)
        for (a, index) in order.enumerated() { result[index] = byRank[a] }
        return result
    }

    /// The baseline subtracted from the median in the gradient estimator.
    public enum Baseline: Sendable, Equatable {
        /// A constant c (0 for none, f(x) for the fx covariate), in the units of the values.
        case constant(Double)
        /// Sample i's baseline is the k-sample median smoothing of the other s − 1 samples.
        case leaveOneOut
    }

    /// Per-rank baselines b_r and the constant c₀ about which the standard errors are computed.
    func baselines(_ baseline: Baseline) throws(SmoothingError) -> (byRank: [Double], centre: Double) {
        switch baseline {
        case .constant(let c):
            return (Array(repeating: c, count: sampleCount), c)
        case .leaveOneOut:
            guard let values = leaveOneOutValuesByRank() else {
                throw .invalidConfiguration(
                    "the leave-one-out covariate needs --median K below the number of samples (K = s = \(sampleCount)); use --covariate fx or none, or more samples")
            }
            return (values, value)
        }
    }

    /// ∇f^(k) from features Φ_i (s × p, by sample index) in one sequential sweep: the
    /// gradient (k/s) Σ_i (H_i − b_i) Φ_i and its standard error (Sen). The `Smoother` runs the
    /// same two sweeps over blocks of ranks in parallel, regenerating Φ instead of storing it.
    /// - Throws: `SmoothingError.invalidConfiguration` for the leave-one-out baseline when k = s.
    public func gradient(features: [Double], featureCount p: Int, baseline: Baseline) throws(SmoothingError)
        -> (gradient: [Double], stderr: [Double])
    {
        precondition(features.count == sampleCount * p, "features must be s × p")
        let (baselines, centre) = try self.baselines(baseline)
        var ranked = [Double](repeating: 0, count: sampleCount * p)
        for (a, index) in order.enumerated() {
            for j in 0..<p { ranked[a * p + j] = features[index * p + j] }
        }
        let ranks = 0..<sampleCount
        var totals = MedianRankTotals(featureCount: p)
        ranked.withUnsafeBufferPointer { totals.add(ranks: ranks, features: $0.baseAddress!, median: self, baselines: baselines) }
        var components = MedianComponentSums(featureCount: p)
        ranked.withUnsafeBufferPointer {
            components.add(
                ranks: ranks, features: $0.baseAddress!, median: self, prefix: MedianRankTotals(featureCount: p),
                totals: totals, centre: centre)
        }
        return (gradient(from: totals), standardErrors(from: components))
    }

    /// (k/s) Σ_r (H_r − b_r) Φ_r.
    func gradient(from totals: MedianRankTotals) -> [Double] {
        totals.weighted.map { Double(k) / Double(sampleCount) * $0 }
    }

    /// k · sd(V) / √s per feature.
    func standardErrors(from components: MedianComponentSums) -> [Double] {
        let s = Double(sampleCount)
        return zip(components.sum, components.sumOfSquares).map { sum, squares in
            guard sampleCount >= 2 else { return .nan }
            let variance = max(squares - sum * sum / s, 0) / (s - 1)
            return Double(k) * (variance / s).squareRoot()
        }
    }
}

/// Sums over a block of ranks r of Φ_r, φ_r Φ_r, ψ_r Φ_r and (H_r − b_r) Φ_r; merged in rank
/// order they give the prefix sums that the structural components need.
struct MedianRankTotals: Sendable {
    var features: [Double]
    var lowerWeighted: [Double]
    var upperWeighted: [Double]
    var weighted: [Double]

    init(featureCount p: Int) {
        features = Array(repeating: 0, count: p)
        lowerWeighted = features
        upperWeighted = features
        weighted = features
    }

    mutating func add(
        ranks: Range<Int>, features phi: UnsafePointer<Double>, median: KSampleMedian, baselines: [Double]
    ) {
        let p = features.count
        for (row, r) in ranks.enumerated() {
            let f = phi + row * p
            let lower = median.pairLower[r]
            let upper = median.pairUpper[r]
            let own = median.conditionalMedian[r] - baselines[r]
            for j in 0..<p {
                features[j] += f[j]
                lowerWeighted[j] += lower * f[j]
                upperWeighted[j] += upper * f[j]
                weighted[j] += own * f[j]
            }
        }
    }

    mutating func merge(_ other: MedianRankTotals) {
        for j in features.indices {
            features[j] += other.features[j]
            lowerWeighted[j] += other.lowerWeighted[j]
            upperWeighted[j] += other.upperWeighted[j]
            weighted[j] += other.weighted[j]
        }
    }
}

/// Σ V_r and Σ V_r² over a block of ranks, V_r the structural component of the gradient kernel
/// (M(S) − c₀) Σ_{j∈S} Φ_j at rank r.
struct MedianComponentSums: Sendable {
    var sum: [Double]
    var sumOfSquares: [Double]

    init(featureCount p: Int) {
        sum = Array(repeating: 0, count: p)
        sumOfSquares = sum
    }

    /// V_a = (H_a − c₀) Φ_a + κ Σ_{l≠a} (H2(a, l) − c₀) Φ_l with κ = (k − 1)/(s − 1) and
    /// H2 = φ(lower rank) + ψ(upper rank), evaluated with running prefix sums from `prefix`
    /// (the totals of all lower ranks) and the grand `totals`.
    mutating func add(
        ranks: Range<Int>, features phi: UnsafePointer<Double>, median: KSampleMedian,
        prefix: MedianRankTotals, totals: MedianRankTotals, centre c0: Double
    ) {
        let p = sum.count
        let kappa = Double(median.k - 1) / Double(median.sampleCount - 1)
        var below = prefix.features
        var belowLower = prefix.lowerWeighted
        var belowUpper = prefix.upperWeighted
        for (row, r) in ranks.enumerated() {
            let f = phi + row * p
            let own = median.conditionalMedian[r] - c0
            let lower = median.pairLower[r]
            let upper = median.pairUpper[r]
            for j in 0..<p {
                let aboveFeatures = totals.features[j] - below[j] - f[j]
                let aboveUpper = totals.upperWeighted[j] - belowUpper[j] - upper * f[j]
                let pairs = belowLower[j] + (upper - c0) * below[j] + (lower - c0) * aboveFeatures + aboveUpper
                let v = own * f[j] + kappa * pairs
                sum[j] += v
                sumOfSquares[j] += v * v
                below[j] += f[j]
                belowLower[j] += lower * f[j]
                belowUpper[j] += upper * f[j]
            }
        }
    }

    mutating func merge(_ other: MedianComponentSums) {
        for j in sum.indices {
            sum[j] += other.sum[j]
            sumOfSquares[j] += other.sumOfSquares[j]
        }
    }
}

/// log C(a, b) from a table of log-factorials (−∞ outside 0 ≤ b ≤ a).
struct LogBinomial: Sendable {
    private let logFactorial: [Double]

    init(upTo n: Int) {
        logFactorial = (0...max(n, 1)).map { Double.logGamma(Double($0) + 1) }
    }

    func callAsFunction(_ a: Int, _ b: Int) -> Double {
        guard a >= 0 && b >= 0 && b <= a else { return -.infinity }
        return logFactorial[a] - logFactorial[b] - logFactorial[a - b]
    }
}
