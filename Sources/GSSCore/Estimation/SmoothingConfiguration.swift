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
    /// μ, the standardised noise distribution.
    public var distribution: Distribution
    /// γ: one positive number for every coordinate, or one per coordinate (a diagonal scale).
    /// Must stay [1] when `scaleMatrix` is set.
    public var scale: [Double]
    /// s ≥ 2, the number of samples.
    public var samples: Int
    /// How the uniforms are placed before the inverse CDF.
    public var sampler: SamplingStrategy
    /// Pair every sample with its mirror 1 − u.
    public var antithetic: Bool
    /// The control variate c subtracted from f.
    public var covariate: Covariate
    /// The same seed and configuration give the same bits, for any thread count.
    public var seed: UInt64
    /// A full scale matrix L: smooth f(x + Lε) instead of f(x + γ∘ε) (Theorem 7).
    public var scaleMatrix: ScaleMatrix?
    /// Also estimate the derivative of the value in the scale: ∂/∂γ_j (Lemma 6, eq. 11) for a
    /// diagonal scale, ∂/∂L_jk (Theorem 7, eq. 13) for a scale matrix.
    public var differentiatesScale: Bool
    /// Also estimate the output covariance G and its derivatives (Theorem 8, eq. 14–16).
    public var estimatesCovariance: Bool
    /// k for k-sample median smoothing of a scalar f (Lemma 13) instead of the mean; nil for the mean.
    public var medianSampleCount: Int?

    /// A configuration; nothing is checked until `validate(inputCount:outputCount:)` (which
    /// `Smoother.estimate` calls).
    public init(
        distribution: Distribution = .logistic, scale: [Double] = [1], samples: Int = 1024,
        sampler: SamplingStrategy = .rqmcLatin, antithetic: Bool = false,
        covariate: Covariate = .loo, seed: UInt64 = 0, scaleMatrix: ScaleMatrix? = nil,
        differentiatesScale: Bool = false, estimatesCovariance: Bool = false, medianSampleCount: Int? = nil
    ) {
        self.distribution = distribution
        self.scale = scale
        self.samples = samples
        self.sampler = sampler
        self.antithetic = antithetic
        self.covariate = covariate
        self.seed = seed
        self.scaleMatrix = scaleMatrix
        self.differentiatesScale = differentiatesScale
        self.estimatesCovariance = estimatesCovariance
        self.medianSampleCount = medianSampleCount
    }

    /// The most numbers one requested extra output (a scale or covariance derivative) may hold.
    /// A 4096-pixel image's covariance gradient (4096² · n) is far beyond it; 144 outputs of
    /// 144 inputs (m²n ≈ 3.0 M) are within.
    public static let maximumExtraOutputEntries = 1 << 22

    /// Checks the combination of options for a black box f: R^n → R^m.
    /// - Throws: `SmoothingError.invalidConfiguration` naming what was wrong and what was expected.
    public func validate(inputCount n: Int, outputCount m: Int) throws(SmoothingError) {
        if let scaleMatrix {
            guard scale == [1] else {
                throw .invalidConfiguration(
                    "--scale and --scale-matrix cannot be combined: give the whole scale as one matrix L (use diag(γ)·L for both)")
            }
            guard scaleMatrix.dimension == n else {
                throw .invalidConfiguration(
                    "--scale-matrix must be \(n)×\(n) for this black box (n = \(n)), got \(scaleMatrix.dimension)×\(scaleMatrix.dimension)")
            }
            if differentiatesScale && distribution == .cauchy && n > 1 {
                throw .invalidConfiguration(
                    "--wrt scale with --scale-matrix needs E[f·z_j·ε_k] for j ≠ k, which does not exist for --dist cauchy (ε has no mean); use another distribution or a diagonal --scale")
            }
        } else {
            _ = try diagonalScale(dimension: n)
        }
        let scaleFeatures = scaleMatrix == nil ? n : n * n
        if differentiatesScale && m * scaleFeatures > Self.maximumExtraOutputEntries {
            throw .invalidConfiguration(
                "--wrt scale would produce \(m)·\(scaleFeatures) = \(m * scaleFeatures) numbers, more than the limit of \(Self.maximumExtraOutputEntries); use fewer outputs or a diagonal --scale")
        }
        if antithetic && (2...3).contains(samples) {
            throw .invalidConfiguration(
                "--antithetic needs --samples of at least 4: the standard errors compare independent pairs, and \(samples) samples make one")
        }
        if estimatesCovariance && samples <= CovarianceSums.minimumBatchSamples {
            throw .invalidConfiguration(
                "--covariance needs more than \(CovarianceSums.minimumBatchSamples) samples: its standard errors compare batches of \(CovarianceSums.minimumBatchSamples), and --samples \(samples) makes one")
        }
        if estimatesCovariance {
            let features = n + (differentiatesScale ? scaleFeatures : 0)
            let (squared, overflow1) = m.multipliedReportingOverflow(by: m)
            let (entries, overflow2) = squared.multipliedReportingOverflow(by: features)
            if overflow1 || overflow2 || entries > Self.maximumExtraOutputEntries {
                throw .invalidConfiguration(
                    "--covariance would produce m·m·p = \(m)·\(m)·\(features) numbers (∂G/∂x\(differentiatesScale ? " and ∂G/∂scale" : "")), more than the limit of \(Self.maximumExtraOutputEntries); it is meant for a few outputs")
            }
        }
        if let k = medianSampleCount {
            guard m == 1 else {
                throw .invalidConfiguration(
                    "--median smooths a scalar function (m = 1), but this black box has m = \(m) outputs")
            }
            guard k >= 2 && k <= samples else {
                throw .invalidConfiguration("--median K needs 2 ≤ K ≤ --samples (\(samples)), got \(k)")
            }
            guard !estimatesCovariance else {
                throw .invalidConfiguration("--median and --covariance cannot be combined: the covariance is defined for mean smoothing")
            }
            guard !antithetic else {
                throw .invalidConfiguration(
                    "--median needs independent samples, but --antithetic pairs mirrored ones (a k-subset holding both would bias the median); drop --antithetic")
            }
            if covariate == .loo && k >= samples {
                throw .invalidConfiguration(
                    "the leave-one-out covariate needs --median K below --samples (K = s = \(k)); use --covariate fx or none, or more samples")
            }
        }
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
