/// The control variate c subtracted from f in the score-function estimator (section 2.2):
/// E[(f(x+γε) − c) · score(ε)] has the same mean for any c independent of ε, less variance for a good c.
public enum Covariate: String, CaseIterable, Sendable, Codable {
    /// c = 0: the plain estimator of eq. 7–8.
    case none
    /// c = f(x), one extra evaluation at the unperturbed input.
    case fx
    /// c = the mean of the other s − 1 samples (leave-one-out), computed in streaming form.
    case loo
}

/// Everything that defines one smoothed estimate besides the black box and the point x.
public struct SmoothingConfiguration: Sendable, Equatable {
    public var distribution: Distribution
    /// γ: one positive number for every coordinate, or one per coordinate (a diagonal scale).
    public var scale: [Double]
    public var samples: Int
    public var sampler: SamplingStrategy
    public var antithetic: Bool
    public var covariate: Covariate
    public var seed: UInt64

    public init(
        distribution: Distribution = .logistic, scale: [Double] = [1], samples: Int = 1024,
        sampler: SamplingStrategy = .rqmcLatin, antithetic: Bool = false,
        covariate: Covariate = .loo, seed: UInt64 = 0
    ) {
        self.distribution = distribution
        self.scale = scale
        self.samples = samples
        self.sampler = sampler
        self.antithetic = antithetic
        self.covariate = covariate
        self.seed = seed
    }

    /// γ expanded to one entry per coordinate, validated.
    public func diagonalScale(dimension n: Int) throws(SmoothingError) -> [Double] {
        guard scale.count == 1 || scale.count == n else {
            throw .invalidConfiguration(
                "--scale needs 1 or \(n) values (one per input), got \(scale.count)")
        }
        for value in scale where !(value.isFinite && value > 0) {
            throw .invalidConfiguration("--scale values must be finite and positive, got \(value)")
        }
        return scale.count == n ? scale : Array(repeating: scale[0], count: n)
    }
}
