/// How the s points in (0, 1)^n are placed before the inverse CDF turns them into noise
/// (the paper's section 2.2 and Figure 2).
public enum SamplingStrategy: String, CaseIterable, Sendable, Codable {
    /// Independent uniforms (plain Monte Carlo).
    case mc
    /// Latin hypercube, each point at its stratum's centre (deterministic given the permutations; biased).
    case qmcLatin = "qmc-latin"
    /// Latin hypercube, each point uniform inside its stratum (randomised QMC; unbiased).
    case rqmcLatin = "rqmc-latin"
}

/// Stream identifiers under one seed, so that different uses of randomness never share bits.
enum RandomStream: UInt32 {
    case monteCarlo = 1
    case latinPermutation = 2
    case latinJitter = 3
    case latinOrientation = 4
}
