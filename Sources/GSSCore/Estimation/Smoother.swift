/// The smoothed value and Jacobian of a black box at one point, with standard errors.
public struct SmoothedEstimate: Sendable, Equatable {
    public let inputCount: Int
    public let outputCount: Int
    public let samples: Int
    public let seed: UInt64
    /// Estimate of f_ε(x) = E[f(x + γε)] (m numbers).
    public let value: [Double]
    public let valueStderr: [Double]
    /// Estimate of the Jacobian of f_ε at x: m rows of n, row-major (entry [i·n + j] = ∂ value_i / ∂ x_j).
    public let jacobian: [Double]
    /// Per-entry standard error of `jacobian` (NaN with fewer than 2 independent units).
    public let jacobianStderr: [Double]

    /// Row i of an m × n matrix stored row-major.
    public func rows(of matrix: [Double]) -> [[Double]] {
        (0..<outputCount).map { i in Array(matrix[i * inputCount..<(i + 1) * inputCount]) }
    }
}

/// Estimates f_ε(x) = E[f(x + γ∘ε)] and its Jacobian by the score-function estimator
/// (the paper's eq. 7–10): J = E[(f(x + γε) − c) · score(ε)ᵀ] / γ, column by column.
///
/// Samples are split into fixed chunks (their size depends on n, m and s only, never on the
/// thread count), each chunk's sums are computed independently and merged in chunk order, so the
/// same seed gives bit-identical results for any number of threads, in memory independent of s.
public struct Smoother: Sendable {
    public var configuration: SmoothingConfiguration
    /// Worker threads evaluating chunks (each with its own evaluator from the black box).
    public var threads: Int
    /// Called after every merged chunk with (samples done, samples total), in order, from a worker.
    public var progress: (@Sendable (Int, Int) -> Void)?

    public init(
        configuration: SmoothingConfiguration, threads: Int = 1,
        progress: (@Sendable (Int, Int) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.threads = max(1, threads)
        self.progress = progress
    }

    public func estimate(_ blackBox: some BlackBox, at x: [Double]) throws -> SmoothedEstimate {
        let n = blackBox.inputCount
        let m = blackBox.outputCount
        try Self.validate(point: x, inputCount: n)
        let gamma = try configuration.diagonalScale(dimension: n)
        let points = try PointSet(
            strategy: configuration.sampler, antithetic: configuration.antithetic,
            count: configuration.samples, dimension: n, seed: configuration.seed)
        let plan = ChunkPlan(samples: configuration.samples, inputCount: n, outputCount: m)
        let workerCount = max(1, min(threads, plan.chunkCount))
        let evaluators = try blackBox.makeEvaluators(count: workerCount)
        precondition(evaluators.count == workerCount, "\(blackBox.displayName) made the wrong number of evaluators")
        let lanes = evaluators.map {
            ChunkLane(
                evaluator: $0, blackBox: blackBox, point: x, scale: gamma, points: points,
                distribution: configuration.distribution, rowsPerChunk: plan.rowsPerChunk)
        }

        let fx: [Double]? = configuration.covariate == .fx ? try lanes[0].evaluateUnperturbed() : nil

        // Chunk 0 runs first: its first output row becomes the shift that keeps the sums of
        // squares well conditioned when outputs are large (it cancels exactly in the estimate).
        var shift = [Double](repeating: 0, count: m)
        let firstChunk = try lanes[0].sums(chunk: 0, plan: plan, shift: nil, firstRow: &shift)
        let total = SumsBox(firstChunk)
        progress?(plan.range(chunk: 0).count, plan.samples)
        let shiftValue = shift
        let reportProgress = progress
        try OrderedParallelReduction.run(
            chunks: plan.chunkCount - 1, workers: workerCount, window: 4 * workerCount,
            compute: { worker, index in
                var unused: [Double] = []
                return try lanes[worker].sums(chunk: index + 1, plan: plan, shift: shiftValue, firstRow: &unused)
            },
            merge: { index, partial in
                total.sums.merge(partial)
                reportProgress?(plan.range(chunk: index + 1).upperBound, plan.samples)
            })

        let baseline: MomentSums.Baseline
        switch configuration.covariate {
        case .none: baseline = .constant(shift.map { -$0 })
        case .fx: baseline = .constant(zip(fx!, shift).map { $0 - $1 })
        case .loo: baseline = .leaveOneOut
        }
        let moments = total.sums.estimate(baseline: baseline)
        var jacobian = moments.gradient
        var jacobianStderr = moments.gradientStderr
        for i in 0..<m {
            for j in 0..<n {
                jacobian[i * n + j] /= gamma[j]
                jacobianStderr[i * n + j] /= gamma[j]
            }
        }
        return SmoothedEstimate(
            inputCount: n, outputCount: m, samples: plan.samples, seed: configuration.seed,
            value: zip(moments.mean, shift).map { $0 + $1 }, valueStderr: moments.meanStderr,
            jacobian: jacobian, jacobianStderr: jacobianStderr)
    }

    static func validate(point x: [Double], inputCount n: Int) throws(SmoothingError) {
        guard x.count == n else {
            throw .invalidConfiguration("--x needs \(n) numbers for this black box, got \(x.count)")
        }
        if let bad = x.firstIndex(where: { !$0.isFinite }) {
            throw .invalidConfiguration("--x must hold finite numbers, but entry \(bad) is \(x[bad])")
        }
    }
}

/// How s samples are cut into chunks. The chunk size depends only on (s, n, m): small enough to
/// stay in cache and to spread few, costly samples over workers, large enough to amortise calls.
struct ChunkPlan: Sendable {
    let samples: Int
    let rowsPerChunk: Int
    let chunkCount: Int

    init(samples: Int, inputCount n: Int, outputCount m: Int) {
        // About 64 Ki doubles of inputs and outputs per chunk, at most 4096 rows, and at least
        // 64 chunks when s allows; always even, so antithetic pairs never straddle chunks.
        let cacheRows = max(2, min(4096, (1 << 16) / max(1, n + m)))
        let spreadRows = max(2, (samples + 63) / 64)
        var rows = 2
        while rows * 2 <= min(cacheRows, spreadRows) { rows *= 2 }
        self.samples = samples
        rowsPerChunk = rows
        chunkCount = (samples + rows - 1) / rows
    }

    func range(chunk: Int) -> Range<Int> {
        let start = chunk * rowsPerChunk
        return start..<min(samples, start + rowsPerChunk)
    }
}

/// Mutable total owned by the merge callback, which the reduction calls under its lock.
private final class SumsBox: @unchecked Sendable {
    var sums: MomentSums
    init(_ sums: MomentSums) { self.sums = sums }
}

/// One worker's evaluator and scratch buffers: uniforms → noise and scores → inputs → outputs.
private final class ChunkLane: @unchecked Sendable {
    let evaluator: any BatchEvaluator
    let blackBoxName: String
    let n: Int
    let m: Int
    let point: [Double]
    let scale: [Double]
    let points: PointSet
    let distribution: Distribution
    var uniforms: [Double]
    var noise: [Double]
    var scores: [Double]
    var inputs: [Double]
    var outputs: [Double]

    init(
        evaluator: any BatchEvaluator, blackBox: some BlackBox, point: [Double], scale: [Double],
        points: PointSet, distribution: Distribution, rowsPerChunk: Int
    ) {
        self.evaluator = evaluator
        blackBoxName = blackBox.displayName
        n = blackBox.inputCount
        m = blackBox.outputCount
        self.point = point
        self.scale = scale
        self.points = points
        self.distribution = distribution
        uniforms = Array(repeating: 0, count: rowsPerChunk * n)
        noise = uniforms
        scores = uniforms
        inputs = uniforms
        outputs = Array(repeating: 0, count: rowsPerChunk * m)
    }

    /// f(x) at the unperturbed point (the fx covariate).
    func evaluateUnperturbed() throws -> [Double] {
        var y = [Double](repeating: .nan, count: m)
        try run(inputs: point, rows: 1, outputs: &y, firstSample: nil)
        return y
    }

    /// The sums of one chunk. With `shift` nil, the chunk's first output row is used as the shift
    /// and returned through `firstRow`.
    func sums(chunk: Int, plan: ChunkPlan, shift: [Double]?, firstRow: inout [Double]) throws -> MomentSums {
        let range = plan.range(chunk: chunk)
        let rows = range.count
        uniforms.withUnsafeMutableBufferPointer { u in
            points.fill(start: range.lowerBound, rows: rows, into: u.baseAddress!)
        }
        uniforms.withUnsafeBufferPointer { u in
            noise.withUnsafeMutableBufferPointer { e in
                scores.withUnsafeMutableBufferPointer { z in
                    distribution.transform(
                        uniforms: u.baseAddress!, count: rows * n, noise: e.baseAddress!, score: z.baseAddress!)
                }
            }
        }
        for r in 0..<rows {
            for j in 0..<n { inputs[r * n + j] = point[j] + scale[j] * noise[r * n + j] }
        }
        try run(inputs: inputs, rows: rows, outputs: &outputs, firstSample: range.lowerBound)
        let reference = shift ?? Array(outputs[0..<m])
        if shift == nil { firstRow = reference }
        for r in 0..<rows {
            for i in 0..<m { outputs[r * m + i] -= reference[i] }
        }
        var sums = MomentSums(responseCount: m, featureCount: n, unitSize: points.unitSize)
        outputs.withUnsafeBufferPointer { y in
            scores.withUnsafeBufferPointer { z in
                sums.add(responses: y.baseAddress!, features: z.baseAddress!, rows: rows)
            }
        }
        return sums
    }

    /// Evaluates and checks: a thrown failure or a non-finite output becomes a SmoothingError that
    /// names the black box, the sample and its input row.
    private func run(inputs: [Double], rows: Int, outputs: inout [Double], firstSample: Int?) throws {
        func failure(row: Int, reason: String) -> SmoothingError {
            let input = Array(inputs[row * n..<(row + 1) * n])
            let which = firstSample.map { "sample \($0 + row)" } ?? "the unperturbed x"
            return SmoothingError(
                code: .evaluationFailed,
                message: "\(blackBoxName) failed at \(which) (input \(formatRow(input))): \(reason)",
                sampleIndex: firstSample.map { $0 + row }, input: input)
        }
        do {
            try inputs.withUnsafeBufferPointer { x in
                try outputs.withUnsafeMutableBufferPointer { y in
                    try evaluator.evaluate(x.baseAddress!, rows: rows, into: y.baseAddress!)
                }
            }
        } catch let error as SmoothingError {
            throw error
        } catch {
            // Blame the first row the black box marked with NaN (the ABI's convention), else row 0.
            let row = (0..<rows).first { r in (0..<m).contains { outputs[r * m + $0].isNaN } } ?? 0
            throw failure(row: row, reason: "\(error)")
        }
        for r in 0..<rows {
            for i in 0..<m where !outputs[r * m + i].isFinite {
                throw failure(row: r, reason: "it returned a non-finite output (\(outputs[r * m + i]) in output \(i))")
            }
        }
    }
}

/// "[0.1, -2, 3.5]" with at most 8 entries shown, for messages about an input row.
public func formatRow(_ row: [Double]) -> String {
    let shown = row.prefix(8).map { "\($0)" }.joined(separator: ", ")
    return "[" + shown + (row.count > 8 ? ", … (\(row.count) numbers)]" : "]")
}
