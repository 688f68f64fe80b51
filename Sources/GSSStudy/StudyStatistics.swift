import Glibc

/// A sample mean with its two-sided confidence interval from Student's t distribution.
public struct MeanInterval: Sendable, Equatable, Codable {
    public let mean: Double
    public let low: Double
    public let high: Double

    /// The mean of `values` (at least two) and the t interval at `level` (0.95 by default).
    public init(_ values: [Double], level: Double = 0.95) {
        precondition(values.count >= 2, "a confidence interval needs at least two values")
        let count = Double(values.count)
        let mean = values.reduce(0, +) / count
        let variance = values.reduce(0.0) { $0 + ($1 - mean) * ($1 - mean) } / (count - 1)
        let halfWidth = StudentT.quantile(0.5 + level / 2, degreesOfFreedom: count - 1) * (variance / count).squareRoot()
        self.mean = mean
        low = mean - halfWidth
        high = mean + halfWidth
    }

    public init(mean: Double, low: Double, high: Double) {
        self.mean = mean
        self.low = low
        self.high = high
    }
}

/// Student's t distribution: the CDF through the regularised incomplete beta function, the
/// quantile by bisection on it (accurate to ~1e-12, plenty for confidence intervals).
public enum StudentT {
    public static func cdf(_ t: Double, degreesOfFreedom nu: Double) -> Double {
        let x = nu / (nu + t * t)
        let tail = 0.5 * regularizedIncompleteBeta(x, a: nu / 2, b: 0.5)
        return t >= 0 ? 1 - tail : tail
    }

    public static func quantile(_ p: Double, degreesOfFreedom nu: Double) -> Double {
        precondition(p > 0 && p < 1 && nu > 0, "t quantile needs p in (0, 1) and positive degrees of freedom")
        if p == 0.5 { return 0 }
        if p < 0.5 { return -quantile(1 - p, degreesOfFreedom: nu) }
        var low = 0.0
        var high = 1.0
        while cdf(high, degreesOfFreedom: nu) < p { high *= 2 }
        for _ in 0..<200 where high - low > 1e-13 * high {
            let middle = 0.5 * (low + high)
            if cdf(middle, degreesOfFreedom: nu) < p { low = middle } else { high = middle }
        }
        return 0.5 * (low + high)
    }

    /// I_x(a, b) by the continued fraction of Numerical Recipes (Lentz's method).
    static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logGammas: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let logPowers: Double = a * log(x) + b * log(1 - x)
        let logFront = logGammas + logPowers
        // The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
        if x > (a + 1) / (a + b + 2) {
            return 1 - regularizedIncompleteBeta(1 - x, a: b, b: a)
        }
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var fraction = d
        for m in 1...10_000 {
            let m = Double(m)
            let even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + even * d
            if abs(d) < tiny { d = tiny }
            c = 1 + even / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            fraction *= d * c
            let odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + odd * d
            if abs(d) < tiny { d = tiny }
            c = 1 + odd / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            fraction *= step
            if abs(step - 1) < 1e-15 { break }
        }
        return exp(logFront) * fraction / a
    }
}
