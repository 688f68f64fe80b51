import GSSCore

/// One cell of the study: everything that defines an estimator run at one problem size.
public struct StudyConfiguration: Hashable, Sendable, Codable {
    public var problem: StudyProblem
    public var size: Int
    public var distribution: Distribution
    public var sampler: SamplingStrategy
    public var covariate: Covariate
    public var antithetic: Bool
    /// s for this configuration (a k^n grid for rqmc-cartesian, the requested s otherwise).
    public var samples: Int

    public init(
        problem: StudyProblem, size: Int, distribution: Distribution, sampler: SamplingStrategy,
        covariate: Covariate, antithetic: Bool, samples: Int
    ) {
        self.problem = problem
        self.size = size
        self.distribution = distribution
        self.sampler = sampler
        self.covariate = covariate
        self.antithetic = antithetic
        self.samples = samples
    }

    /// "rqmc-latin, loo, antithetic" for messages.
    public var label: String {
        "\(sampler.rawValue), \(covariate.rawValue)\(antithetic ? ", antithetic" : "")"
    }
}

/// A configuration of the plan, with the reason when it cannot run (the sampler refuses it).
public struct PlannedConfiguration: Sendable {
    public let configuration: StudyConfiguration
    public let skippedReason: String?
}

/// Which configurations a study runs: the paper's samplers (MC, Latin QMC and RQMC, Cartesian
/// RQMC) plus scrambled Sobol', each with every covariate, regular and antithetic.
public enum StudyPlan {
    /// Cartesian QMC is left out, as in the paper (its bias dominates).
    public static let samplers: [SamplingStrategy] = [.mc, .qmcLatin, .rqmcLatin, .rqmcCartesian, .sobol]
    public static let covariates: [Covariate] = [.none, .fx, .loo]

    /// A Cartesian grid needs s = k^n; the paper uses the largest grid below s when it is close
    /// (10³ = 1000 for s = 1024 at n = 3). Closer than this fraction of s counts as close.
    public static let cartesianTolerance = 0.05

    /// Every configuration of one (problem, size, distribution), regular before antithetic, then
    /// by covariate and sampler, each with its skip reason if the sampler refuses it.
    public static func configurations(
        problem: StudyProblem, size: Int, distribution: Distribution, samples: Int
    ) -> [PlannedConfiguration] {
        let n = problem.inputCount(size: size)
        var plan: [PlannedConfiguration] = []
        for antithetic in [false, true] {
            for covariate in covariates {
                for sampler in samplers {
                    var count = samples
                    var reason: String?
                    if sampler == .rqmcCartesian {
                        switch cartesianSamples(near: samples, dimension: n) {
                        case .success(let grid): count = grid
                        case .failure(let refusal): reason = refusal.message
                        }
                    }
                    if reason == nil {
                        // The sampler's own checks (powers of two, even k for mirrored cells, ...).
                        do {
                            _ = try PointSet(strategy: sampler, antithetic: antithetic, count: count, dimension: n, seed: 0)
                        } catch {
                            reason = error.message
                        }
                    }
                    plan.append(
                        PlannedConfiguration(
                            configuration: StudyConfiguration(
                                problem: problem, size: size, distribution: distribution, sampler: sampler,
                                covariate: covariate, antithetic: antithetic, samples: count),
                            skippedReason: reason))
                }
            }
        }
        return plan
    }

    public struct Refusal: Error {
        public let message: String
    }

    /// The largest k^n ≤ s if it is within `cartesianTolerance` of s, else why there is none.
    public static func cartesianSamples(near samples: Int, dimension n: Int) -> Result<Int, Refusal> {
        var k = 1
        while let next = power(k + 1, n), next <= samples { k += 1 }
        if k >= 2, let grid = power(k, n), Double(grid) >= (1 - cartesianTolerance) * Double(samples) {
            return .success(grid)
        }
        let above = power(k + 1, n).map { "\($0) = \(k + 1)^\(n)" } ?? "\(k + 1)^\(n) (beyond 64-bit counts)"
        let below = k >= 2 ? "\(power(k, n)!) = \(k)^\(n) and " : ""
        return .failure(
            Refusal(
                message: "rqmc-cartesian needs s = k^\(n) samples for n = \(n) inputs, and the nearest grids, "
                    + "\(below)\(above), are not within \(Int(cartesianTolerance * 100))% of s = \(samples)"))
    }

    static func power(_ base: Int, _ exponent: Int) -> Int? {
        var result = 1
        for _ in 0..<exponent {
            let (product, overflow) = result.multipliedReportingOverflow(by: base)
            if overflow { return nil }
            result = product
        }
        return result
    }
}
