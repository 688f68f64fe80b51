/// How the s points in (0, 1)^n are placed before the inverse CDF turns them into noise
/// (the paper's section 2.2 and Figure 2).
///
/// Every strategy combines with every distribution and covariate. `--antithetic` (samples 2j and
/// 2j + 1 mirrored, u and 1 − u) combines as follows:
/// - `mc`: s/2 independent points, each followed by its mirror.
/// - `qmc-latin`, `rqmc-latin`: the design stays a Latin hypercube (stratum pairs k, s − 1 − k).
/// - `qmc-cartesian`: refused; the centre grid is already its own mirror image.
/// - `rqmc-cartesian`: each cell paired with its mirror cell; needs an even k.
/// - `sobol`: s/2 scrambled Sobol' points, each followed by its mirror.
public enum SamplingStrategy: String, CaseIterable, Sendable, Codable {
    /// Independent uniforms (plain Monte Carlo).
    case mc
    /// Latin hypercube, each point at its stratum's centre (deterministic given the permutations; biased).
    case qmcLatin = "qmc-latin"
    /// Latin hypercube, each point uniform inside its stratum (randomised QMC; unbiased).
    case rqmcLatin = "rqmc-latin"
    /// A k^n Cartesian grid with each point at its cell's centre (deterministic; biased).
    /// s must equal k^n for an integer k ≥ 2. Refuses `--antithetic`: the grid is symmetric already.
    case qmcCartesian = "qmc-cartesian"
    /// A k^n Cartesian grid with one uniform point per cell, independently jittered (randomised
    /// QMC; unbiased). s must equal k^n for an integer k ≥ 2. With `--antithetic` every cell is
    /// paired with its mirror cell (k − 1 − c in each dimension) and k must be even, because for
    /// odd k the centre cell is its own mirror.
    case rqmcCartesian = "rqmc-cartesian"
    /// Sobol' points (Joe–Kuo direction numbers, n ≤ 1024) with Owen's nested uniform scrambling
    /// (randomised QMC; unbiased). s must be a power of two. With `--antithetic` the first sample of
    /// every pair runs through the s/2 scrambled points and the second is its mirror.
    case sobol
}

/// Stream identifiers under one seed, so that different uses of randomness never share bits.
enum RandomStream: UInt32 {
    case monteCarlo = 1
    case latinPermutation = 2
    case latinJitter = 3
    case latinOrientation = 4
    case cartesianJitter = 5
    case sobolScramble = 6
}
