import Foundation
import GSSCore
import Testing

/// Helpers shared by the Cartesian and Sobol' tests.
enum SamplerTestSupport {
    /// All points of a set, row-major.
    static func points(_ set: PointSet) -> [Double] {
        var values = [Double](repeating: 0, count: set.count * set.dimension)
        set.fill(start: 0, rows: set.count, into: &values)
        return values
    }

    /// A smooth test integrand on (0, 1)^n with a known integral: Π_d u_d e^(u_d), whose integral is 1
    /// and whose variance under one uniform point is ((e² − 1)/4)^n − 1.
    static func productOfExponentials(_ u: ArraySlice<Double>) -> Double {
        u.reduce(1.0) { $0 * $1 * Foundation.exp($1) }
    }

    static func productOfExponentialsVariance(dimension: Int) -> Double {
        Foundation.pow((Foundation.exp(2) - 1) / 4, Double(dimension)) - 1
    }

    /// The point set's estimate of ∫ f for each seed: (mean over seeds, variance over seeds).
    static func replicatedIntegrals(
        strategy: SamplingStrategy, antithetic: Bool = false, count: Int, dimension: Int, seeds: Range<UInt64>,
        integrand: (ArraySlice<Double>) -> Double
    ) throws -> (mean: Double, variance: Double) {
        var estimates: [Double] = []
        for seed in seeds {
            let set = try PointSet(strategy: strategy, antithetic: antithetic, count: count, dimension: dimension, seed: seed)
            let values = points(set)
            var sum = 0.0
            for i in 0..<count { sum += integrand(values[(i * dimension)..<((i + 1) * dimension)]) }
            estimates.append(sum / Double(count))
        }
        let mean = estimates.reduce(0, +) / Double(estimates.count)
        let variance = estimates.reduce(0.0) { $0 + ($1 - mean) * ($1 - mean) } / Double(estimates.count - 1)
        return (mean, variance)
    }

    /// The usage error a configuration raises (nil if it is accepted).
    static func configurationError(
        _ strategy: SamplingStrategy, antithetic: Bool = false, count: Int, dimension: Int
    ) -> SmoothingError? {
        do {
            _ = try PointSet(strategy: strategy, antithetic: antithetic, count: count, dimension: dimension, seed: 0)
            return nil
        } catch {
            return error
        }
    }
}
