import GSSCore

/// The reference Jacobian a study measures errors against, with an estimate of its own error
/// (the root-mean-square Frobenius distance to the true Jacobian).
public struct OracleJacobian: Codable, Sendable, Equatable {
    public enum Method: String, Codable, Sendable {
        /// The exact smoothed permutation matrix differentiated by Richardson central differences.
        case exact
        /// The mean of independent scrambled-Sobol' estimates with the LOO covariate.
        case sobolLOO = "sobol-loo"
    }

    public let problem: StudyProblem
    public let size: Int
    public let distribution: Distribution
    public let scale: Double
    public let inputDigest: String
    public let seed: UInt64
    public let method: Method
    /// Total samples over all scrambles (0 for the exact oracle).
    public let samples: Int
    public let scrambles: Int
    /// Exact: ‖J(h) − J(2h)‖_F, which bounds the finer difference's error. Sobol': the standard
    /// error of the mean over scrambles, sqrt(Σ_ij var_ij / K).
    public let error: Double
    /// m × n, row-major.
    public let jacobian: [Double]

    /// Identifies this oracle in the journal: results measured against another oracle are stale.
    public var digest: String { bitDigest(jacobian + [error]) }

    /// "exact" or "sobol-loo".
    public var methodName: String { method.rawValue }
}

/// Computes oracles.
enum OracleBuilder {
    /// Richardson step of the exact oracle; its error is estimated against twice the step.
    static let exactStep = 1e-3

    static func exact(
        problem: StudyProblem, size: Int, distribution: Distribution, scale: Double, x: [Double], seed: UInt64
    ) -> OracleJacobian {
        let sorting = SmoothedSorting(distribution: distribution, scale: [scale])
        let fine = sorting.jacobian(at: x, step: exactStep)
        let coarse = sorting.jacobian(at: x, step: 2 * exactStep)
        return OracleJacobian(
            problem: problem, size: size, distribution: distribution, scale: scale, inputDigest: bitDigest(x),
            seed: seed, method: .exact, samples: 0, scrambles: 0, error: frobeniusDistance(fine, coarse),
            jacobian: fine)
    }

    /// K independent Owen scrambles of s/K Sobol' points each, LOO covariate; each scramble runs
    /// on all threads (bit-identical for any thread count), and they are averaged in order.
    static func sobolLOO(
        problem: StudyProblem, size: Int, distribution: Distribution, scale: Double, x: [Double],
        blackBox: some BlackBox, samples: Int, scrambles: Int, seed: UInt64, threads: Int,
        executor: any ChunkExecutor = LocalChunkExecutor(), progress: (@Sendable (Int) -> Void)? = nil
    ) throws -> OracleJacobian {
        let perScramble = samples / scrambles
        var estimates: [[Double]] = []
        for k in 0..<scrambles {
            let configuration = SmoothingConfiguration(
                distribution: distribution, scale: [scale], samples: perScramble, sampler: .sobol,
                antithetic: false, covariate: .loo, seed: StudySeeds.oracle(base: seed, samples: samples, scramble: k))
            estimates.append(try Smoother(configuration: configuration, threads: threads, executor: executor).estimate(blackBox, at: x).jacobian)
            progress?(k + 1)
        }
        let count = Double(scrambles)
        var mean = [Double](repeating: 0, count: estimates[0].count)
        for estimate in estimates {
            for i in mean.indices { mean[i] += estimate[i] }
        }
        for i in mean.indices { mean[i] /= count }
        // Σ_ij of the sample variance across scrambles (two passes), divided by K: the squared standard error.
        var totalVariance = 0.0
        for estimate in estimates {
            for i in mean.indices {
                let d = estimate[i] - mean[i]
                totalVariance += d * d
            }
        }
        totalVariance /= count - 1
        return OracleJacobian(
            problem: problem, size: size, distribution: distribution, scale: scale, inputDigest: bitDigest(x),
            seed: seed, method: .sobolLOO, samples: samples, scrambles: scrambles,
            error: (totalVariance / count).squareRoot(), jacobian: mean)
    }
}

/// ‖a − b‖ over all entries (the Frobenius norm of the difference of two matrices).
public func frobeniusDistance(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "matrices of different sizes")
    var sum = 0.0
    for i in a.indices {
        let d = a[i] - b[i]
        sum += d * d
    }
    return sum.squareRoot()
}
