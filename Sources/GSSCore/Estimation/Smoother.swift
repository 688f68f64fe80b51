import CGSSVectorMath
import Synchronization

/// The smoothed value and Jacobian of a black box at one point, with standard errors, and the
/// extra derivatives a `SmoothingConfiguration` asked for.
public struct SmoothedEstimate: Sendable, Equatable {
    /// n, the black box's input count.
    public let inputCount: Int
    /// m, its output count.
    public let outputCount: Int
    /// s, the number of samples used.
    public let samples: Int
    /// The seed that reproduces these bits.
    public let seed: UInt64
    /// k when this is k-sample median smoothing (Lemma 13); nil for the mean.
    public internal(set) var medianSampleCount: Int? = nil
    /// Estimate of f_ε(x) = E[f(x + γε)] (m numbers), or of the k-sample median smoothing.
    public let value: [Double]
    /// Per-entry standard error of `value`.
    public let valueStderr: [Double]
    /// Estimate of the Jacobian of f_ε at x: m rows of n, row-major (entry [i·n + j] = ∂ value_i / ∂ x_j).
    public let jacobian: [Double]
    /// Per-entry standard error of `jacobian` (NaN with fewer than 2 independent units).
    public let jacobianStderr: [Double]
    /// ∂ value_i / ∂γ_j for a diagonal scale (Lemma 6, eq. 11): m × n row-major; when asked for.
    public internal(set) var scaleGradient: [Double]? = nil
    /// Per-entry standard error of `scaleGradient`.
    public internal(set) var scaleGradientStderr: [Double]? = nil
    /// ∂ value_i / ∂L_jk for a scale matrix (Theorem 7, eq. 13): m × n × n, entry [(i·n + j)·n + k];
    /// when asked for.
    public internal(set) var scaleMatrixGradient: [Double]? = nil
    /// Per-entry standard error of `scaleMatrixGradient`.
    public internal(set) var scaleMatrixGradientStderr: [Double]? = nil
    /// The output covariance and its derivatives (Theorem 8), when asked for.
    public internal(set) var covariance: CovarianceEstimate? = nil

    /// Row i of an m × n matrix stored row-major.
    public func rows(of matrix: [Double]) -> [[Double]] {
        (0..<outputCount).map { i in Array(matrix[i * inputCount..<(i + 1) * inputCount]) }
    }
}

/// The output covariance G = Cov[f(x + γε)] (or f(x + Lε)) and its derivatives (Theorem 8),
/// estimated by U-statistics over pairs of samples (see `CovarianceSums`).
public struct CovarianceEstimate: Sendable, Equatable {
    /// G, m × m row-major (the unbiased sample covariance of the outputs).
    public let matrix: [Double]
    /// Batch-means standard errors of `matrix`.
    public let matrixStderr: [Double]
    /// ∂G_ij/∂x_k (eq. 15): m × m × n, entry [(i·m + j)·n + k].
    public let gradient: [Double]
    /// Standard errors by batch means over consecutive chunks (see `CovarianceSums`).
    public let gradientStderr: [Double]
    /// ∂G_ij/∂γ_k for a diagonal scale (m × m × n, entry [(i·m + j)·n + k]), or ∂G_ij/∂L_kl for a
    /// scale matrix (eq. 16; m × m × n × n, entry [((i·m + j)·n + k)·n + l]); nil unless asked for.
    public let scaleGradient: [Double]?
    /// Batch-means standard errors of `scaleGradient`.
    public let scaleGradientStderr: [Double]?
}

/// Estimates f_ε(x) = E[f(x + γ∘ε)] and its Jacobian by the score-function estimator
/// (the paper's eq. 7–10): J = E[(f(x + γε) − c) · score(ε)ᵀ] / γ, column by column — and, when
/// the configuration asks, the derivative in the scale (eq. 11), smoothing with a scale matrix
/// (eq. 12–13), the output covariance and its derivatives (eq. 14–16), or the k-sample median
/// (Lemma 13).
///
/// Samples are split into fixed chunks (their size depends on n, m and s only, never on the
/// thread count), each chunk's sums are computed independently and merged in chunk order, so the
/// same seed gives bit-identical results for any number of threads, in memory independent of s
/// (the k-sample median alone keeps s scalars).
public struct Smoother: Sendable {
    /// What to estimate and how (distribution, scale, samples, sampler, covariate, seed, extras).
    public var configuration: SmoothingConfiguration
    /// Worker threads evaluating chunks (each with its own evaluator from the black box).
    public var threads: Int
    /// Called after every merged chunk with (samples done, samples total), in order, from a worker
    /// (on the coordinator only, when the executor spans several processes).
    public var progress: (@Sendable (Int, Int) -> Void)?
    /// Where the black box's calls run: this process's threads (the default), or several processes.
    /// Never changes the results.
    public var executor: any ChunkExecutor
    /// The workers' scratch memory, kept between estimates (freed with the last copy of the smoother).
    private let lanePool = LaneBufferPool()

    /// A smoother; `threads` is clamped to at least 1 and never changes the results.
    public init(
        configuration: SmoothingConfiguration, threads: Int = 1,
        progress: (@Sendable (Int, Int) -> Void)? = nil, executor: any ChunkExecutor = LocalChunkExecutor()
    ) {
        self.configuration = configuration
        self.threads = max(1, threads)
        self.progress = progress
        self.executor = executor
    }

    /// Estimates at x what the configuration asks for.
    /// - Throws: `SmoothingError` with code `.invalidConfiguration` for a bad request (wrong
    ///   length of x, a bad scale, a bad combination of options) and `.evaluationFailed` when the
    ///   black box fails or returns a non-finite output.
    public func estimate(_ blackBox: some BlackBox, at x: [Double]) throws -> SmoothedEstimate {
        try estimate(blackBox, at: x, evaluators: nil)
    }

    /// `estimate(_:at:)` on the first evaluators of `given` (made by this black box and kept by
    /// the caller for reuse across estimates), or on fresh ones when nil.
    func estimate(_ blackBox: some BlackBox, at x: [Double], evaluators given: ArraySlice<any BatchEvaluator>?) throws -> SmoothedEstimate {
        try withLanes(blackBox, at: x, evaluators: given) { run in
            try estimate(run, blackBox: blackBox)
        }
    }

    /// What an estimate at one point sets up before its samples run: the features, the chunks,
    /// and one lane (evaluator and scratch) per worker.
    struct PointRun {
        let features: ScoreFeatures
        let plan: ChunkPlan
        /// Consecutive chunks per call of the black box.
        let group: Int
        let lanes: [ChunkLane]
    }

    /// Validates the request and calls `body` with the point's lanes, on the first evaluators of
    /// `given` or on fresh ones; the lanes' buffers go back to the pool afterwards.
    func withLanes<T>(
        _ blackBox: some BlackBox, at x: [Double], evaluators given: ArraySlice<any BatchEvaluator>?,
        _ body: (PointRun) throws -> T
    ) throws -> T {
        let n = blackBox.inputCount
        let m = blackBox.outputCount
        try Self.validate(point: x, inputCount: n)
        try configuration.validate(inputCount: n, outputCount: m)
        let features = try scoreFeatures(inputCount: n)
        let points = try PointSet(
            strategy: configuration.sampler, antithetic: configuration.antithetic,
            count: configuration.samples, dimension: n, seed: configuration.seed)
        let plan = ChunkPlan(samples: configuration.samples, inputCount: n, outputCount: m)
        let workerCount = max(1, min(threads, plan.chunkCount, given?.count ?? .max))
        let executor = self.executor
        // Every process must cut calls alike: the coordinator's choice, for the workers of all processes.
        let group = try executor.fromCoordinator(.integer, recorded: false) {
            plan.chunksPerCall(preferredRows: blackBox.preferredBatchRows, workers: workerCount * executor.processCount, width: n + m)
        }
        let evaluators = try given.map { Array($0.prefix(workerCount)) }
            ?? executor.onEveryProcess { try blackBox.makeEvaluators(count: workerCount) }
        precondition(evaluators.count == workerCount, "\(blackBox.displayName) made the wrong number of evaluators")
        let rowsPerCall = plan.rowsPerChunk * group
        let sizes = LaneBuffers.Sizes(
            perInput: rowsPerCall * n, outputs: rowsPerCall * m,
            featureRows: features.featuresAreScores ? 0 : rowsPerCall * features.featureCount)
        let lanes = evaluators.map {
            ChunkLane(
                evaluator: $0, blackBox: blackBox, point: x, features: features, points: points,
                distribution: configuration.distribution, buffers: lanePool.take(sizes))
        }
        defer { lanePool.give(lanes.map(\.buffers)) }
        return try body(PointRun(features: features, plan: plan, group: group, lanes: lanes))
    }

    /// The estimate of `estimate(_:at:)` on prepared lanes.
    private func estimate(_ run: PointRun, blackBox: some BlackBox) throws -> SmoothedEstimate {
        let (features, plan, group, lanes) = (run.features, run.plan, run.group, run.lanes)
        let m = blackBox.outputCount
        let n = blackBox.inputCount
        let workerCount = lanes.count
        let executor = self.executor
        let fx: [Double]? =
            configuration.covariate == .fx
            ? try executor.fromCoordinator(.doubles, recorded: true) { try lanes[0].evaluateUnperturbed() } : nil
        if let k = configuration.medianSampleCount {
            return try estimateMedian(k: k, lanes: lanes, plan: plan, fx: fx?[0])
        }

        let withCovariance = configuration.estimatesCovariance
        // Sample 0 runs first, alone: its output becomes the shift that keeps the sums of squares
        // well conditioned when outputs are large (it cancels exactly in the estimate). Then every
        // chunk runs in parallel, chunk 0 reusing that output instead of evaluating it again.
        let shift = try executor.fromCoordinator(.doubles, recorded: true) { try lanes[0].firstOutput() }
        let total = SumsBox()
        let reportProgress = progress
        // Finished calls wait for their turn to merge; bound the memory they hold (~512 MiB).
        let partialBytes = 8 * (3 * m * features.featureCount + (withCovariance ? (m * (m + 1) / 2) * (features.featureCount + 1) * 2 : 0))
        let window = max(workerCount, min(4 * workerCount, (512 << 20) / max(partialBytes * group, 1)))
        // Each call of the black box covers `group` consecutive chunks; their sums still merge
        // chunk by chunk, in order, so the bits do not depend on the grouping.
        let calls = (plan.chunkCount + group - 1) / group
        try executor.run(
            calls: calls, layout: group, workers: workerCount, window: window, codec: ChunkSums.callCodec,
            compute: { worker, call in
                let chunks = call * group..<min(plan.chunkCount, (call + 1) * group)
                return try lanes[worker].sums(chunks: chunks, plan: plan, shift: shift, covariance: withCovariance)
            },
            merge: { call, partials in
                for (offset, partial) in partials.enumerated() {
                    total.merge(partial)
                    reportProgress?(plan.range(chunk: call * group + offset).upperBound, plan.samples)
                }
            })
        // Every process finishes from the coordinator's merged sums, so all return the same estimate.
        let merged = try executor.fromCoordinator(ChunkSums.codec, recorded: false) {
            ChunkSums(moments: total.moments!, covariance: total.covariance)
        }

        let baseline: MomentSums.Baseline
        switch configuration.covariate {
        case .none: baseline = .constant(shift.map { -$0 })
        case .fx: baseline = .constant(zip(fx!, shift).map { $0 - $1 })
        case .loo: baseline = .leaveOneOut
        }
        let moments = merged.moments.estimate(baseline: baseline)
        var gradient = moments.gradient
        var gradientStderr = moments.gradientStderr
        features.applyDivisors(&gradient, rows: m)
        features.applyDivisors(&gradientStderr, rows: m)
        let (jacobian, scaleGradient) = features.split(gradient, rows: m)
        let (jacobianStderr, scaleGradientStderr) = features.split(gradientStderr, rows: m)
        var result = SmoothedEstimate(
            inputCount: n, outputCount: m, samples: plan.samples, seed: configuration.seed,
            value: zip(moments.mean, shift).map { $0 + $1 }, valueStderr: moments.meanStderr,
            jacobian: jacobian, jacobianStderr: jacobianStderr)
        result.attachScaleGradient(scaleGradient, stderr: scaleGradientStderr, isMatrix: configuration.scaleMatrix != nil)
        if let covarianceSums = merged.covariance {
            let covariance = covarianceSums.estimate()
            var derivative = covariance.gradient
            var derivativeStderr = covariance.gradientStderr
            features.applyDivisors(&derivative, rows: m * m)
            features.applyDivisors(&derivativeStderr, rows: m * m)
            let (inX, inScale) = features.split(derivative, rows: m * m)
            let (inXStderr, inScaleStderr) = features.split(derivativeStderr, rows: m * m)
            result.covariance = CovarianceEstimate(
                matrix: covariance.covariance, matrixStderr: covariance.covarianceStderr,
                gradient: inX, gradientStderr: inXStderr, scaleGradient: inScale, scaleGradientStderr: inScaleStderr)
        }
        return result
    }

    /// How many samples one chunk (one black-box call, one partial sum) holds for these sizes: a
    /// function of s, n and m alone, never of the thread count. For tools that replay the same
    /// batches (e.g. a benchmark of the black box alone).
    public static func rowsPerChunk(samples: Int, inputCount n: Int, outputCount m: Int) -> Int {
        ChunkPlan(samples: samples, inputCount: n, outputCount: m).rowsPerChunk
    }

    /// The noise model and score features the configuration implies (validated).
    func scoreFeatures(inputCount n: Int) throws(SmoothingError) -> ScoreFeatures {
        let scale: ScoreFeatures.Scale
        if let matrix = configuration.scaleMatrix {
            scale = .matrix(matrix)
        } else {
            scale = .diagonal(try configuration.diagonalScale(dimension: n))
        }
        return ScoreFeatures(scale: scale, inputCount: n, includesScale: configuration.differentiatesScale)
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

extension SmoothedEstimate {
    /// Stores the scale columns as ∂/∂γ (diagonal) or ∂/∂L (matrix).
    mutating func attachScaleGradient(_ gradient: [Double]?, stderr: [Double]?, isMatrix: Bool) {
        guard let gradient else { return }
        if isMatrix {
            scaleMatrixGradient = gradient
            scaleMatrixGradientStderr = stderr
        } else {
            scaleGradient = gradient
            scaleGradientStderr = stderr
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
        // About 16 Ki doubles of inputs and outputs per chunk (with the sums' scratch, within L2),
        // but at least 64 rows (so that each chunk's fixed costs, O(m·p) sums to allocate and
        // merge, are spread over enough rows) unless that would need more than 2 Mi doubles
        // (16 MiB) of rows; at most 4096 rows; always even, so antithetic pairs never straddle
        // chunks. Spread over workers: at least 64 chunks while they keep 32 rows or more (below
        // that a chunk's fixed costs outweigh its rows: a batch of 100 points at s = 256 ran 6×
        // slower in 4-row chunks), else at least 8 chunks (a few costly samples still spread).
        let width = max(1, n + m)
        let cacheRows = max(2, min(4096, (1 << 14) / width))
        let memoryRows = max(2, (1 << 21) / width)
        let targetRows = min(max(cacheRows, 64), memoryRows)
        // Divisions rounded up as a quotient plus a remainder bit: (s + d − 1) / d overflows near Int.max.
        func dividedRoundingUp(_ value: Int, _ divisor: Int) -> Int { value / divisor + (value % divisor == 0 ? 0 : 1) }
        let spreadRows = samples >= 8 * 32 ? max(32, dividedRoundingUp(samples, 64)) : max(2, dividedRoundingUp(samples, 8))
        // Nor fewer rows than fill as many numbers as a chunk's sums (about m·(3n + 2), zeroed and
        // merged per chunk): a 144-output, 144-input shortest path at s = 100 spent 36% of its time
        // zeroing and merging the sums of 8-row chunks.
        let (sumsSize, overflow) = m.multipliedReportingOverflow(by: 3 * n + 2)
        let sumsRows = overflow ? targetRows : sumsSize / width
        var rows = 2
        while rows * 2 <= min(targetRows, max(spreadRows, sumsRows)) { rows *= 2 }
        self.samples = samples
        rowsPerChunk = rows
        chunkCount = dividedRoundingUp(samples, rows)
    }

    func range(chunk: Int) -> Range<Int> {
        let start = chunk * rowsPerChunk
        return start..<start + min(rowsPerChunk, samples - start)  // start + rowsPerChunk may overflow
    }

    /// How many consecutive chunks one evaluate call covers for a black box that prefers batches
    /// of at least `preferredRows`: enough for that, while each of several workers keeps at least
    /// four calls (a lone worker has no one to share with) and a call's rows stay within 2 Mi
    /// doubles of inputs and outputs (as a chunk's do).
    func chunksPerCall(preferredRows: Int, workers: Int, width: Int) -> Int {
        let wanted = (preferredRows + rowsPerChunk - 1) / rowsPerChunk
        let spread = workers > 1 ? chunkCount / (4 * workers) : chunkCount
        let memory = max(rowsPerChunk, (1 << 21) / max(1, width)) / rowsPerChunk
        return max(1, min(wanted, spread, memory))
    }
}

/// One chunk's sums: the moments always, the covariance sums when asked for.
struct ChunkSums: Sendable {
    var moments: MomentSums
    var covariance: CovarianceSums?

    /// One chunk's sums (or merged ones) as exact numbers.
    static let codec = ExchangeCodec<ChunkSums>(
        encode: { sums in
            var writer = ExchangeWriter()
            sums.write(to: &writer)
            return writer.values
        },
        decode: { values in
            var reader = ExchangeReader(values)
            let sums = try ChunkSums(reading: &reader)
            try reader.finish()
            return sums
        })

    /// One call's chunks, in order, as exact numbers.
    static let callCodec = ExchangeCodec<[ChunkSums]>(
        encode: { chunks in
            var writer = ExchangeWriter()
            writer.append(chunks.count)
            for sums in chunks { sums.write(to: &writer) }
            return writer.values
        },
        decode: { values in
            var reader = ExchangeReader(values)
            let count = try reader.count(atMost: values.count)
            var chunks: [ChunkSums] = []
            for _ in 0..<count { chunks.append(try ChunkSums(reading: &reader)) }
            try reader.finish()
            return chunks
        })

    func write(to writer: inout ExchangeWriter) {
        moments.write(to: &writer)
        writer.append(covariance != nil)
        covariance?.write(to: &writer)
    }

    init(moments: MomentSums, covariance: CovarianceSums?) {
        self.moments = moments
        self.covariance = covariance
    }

    init(reading reader: inout ExchangeReader) throws(SmoothingError) {
        moments = try MomentSums(reading: &reader)
        covariance = try reader.bool() ? CovarianceSums(reading: &reader) : nil
    }
}

/// Mutable total owned by the merge callback, which the reduction calls under its lock.
private final class SumsBox: @unchecked Sendable {
    var moments: MomentSums?
    var covariance: CovarianceSums?

    func merge(_ partial: ChunkSums) {
        if moments == nil {
            moments = partial.moments
        } else {
            moments!.merge(partial.moments)
        }
        if let chunk = partial.covariance {
            if covariance == nil {
                covariance = CovarianceSums(responseCount: chunk.responseCount, featureCount: chunk.featureCount, unitSize: chunk.unitSize)
            }
            covariance!.mergeChunk(chunk)
        }
    }
}

/// One lane's scratch: rows × n uniforms, noise, scores and inputs, rows × p feature rows (none when
/// the features are the scores), rows × m outputs, and the moment sums' workspace.
struct LaneBuffers: @unchecked Sendable {  // handed whole from one lane to the next, never shared
    /// How many numbers the arrays hold: each input-sized one, the outputs, the feature rows.
    struct Sizes: Equatable {
        let perInput, outputs, featureRows: Int
    }

    var uniforms, noise, scores, featureRows, inputs, outputs: [Double]
    let workspace: MomentWorkspace

    var sizes: Sizes { Sizes(perInput: uniforms.count, outputs: outputs.count, featureRows: featureRows.count) }

    init(
        uniforms: [Double], noise: [Double], scores: [Double], featureRows: [Double], inputs: [Double],
        outputs: [Double], workspace: MomentWorkspace
    ) {
        (self.uniforms, self.noise, self.scores, self.featureRows) = (uniforms, noise, scores, featureRows)
        (self.inputs, self.outputs, self.workspace) = (inputs, outputs, workspace)
    }

    init(sizes: Sizes) {
        let perInput = [Double](repeating: 0, count: sizes.perInput)
        self.init(
            uniforms: perInput, noise: perInput, scores: perInput,
            featureRows: [Double](repeating: 0, count: sizes.featureRows), inputs: perInput,
            outputs: [Double](repeating: 0, count: sizes.outputs), workspace: MomentWorkspace())
    }
}

/// Lanes' buffers kept from one estimate of a smoother (or its copies) to the next, so that a loop
/// of estimates reuses them: fresh pages cost ~2 µs each to fault in on this project's machines, and
/// a 64 × 64 image's lanes and workspaces take ~3,000 of them per estimate.
final class LaneBufferPool: Sendable {
    /// More than any machine's worker count needs; older buffers are dropped first, and buffers of
    /// other sizes than the latest estimate's as soon as it ends.
    private static let kept = 64
    private let spare = Mutex<[LaneBuffers]>([])

    func take(_ sizes: LaneBuffers.Sizes) -> LaneBuffers {
        let found = spare.withLock { pool -> LaneBuffers? in
            pool.lastIndex { $0.sizes == sizes }.map { pool.remove(at: $0) }
        }
        return found ?? LaneBuffers(sizes: sizes)
    }

    func give(_ buffers: [LaneBuffers]) {
        guard let latest = buffers.first?.sizes else { return }
        spare.withLock { pool in
            pool.removeAll { $0.sizes != latest }
            pool += buffers
            if pool.count > Self.kept { pool.removeFirst(pool.count - Self.kept) }
        }
    }
}

/// One worker's evaluator and scratch buffers: uniforms → noise and scores → inputs → outputs.
final class ChunkLane: @unchecked Sendable {
    let evaluator: any BatchEvaluator
    let blackBoxName: String
    let n: Int
    let m: Int
    let point: [Double]
    let features: ScoreFeatures
    let points: PointSet
    let distribution: Distribution
    var uniforms: [Double]
    var noise: [Double]
    var scores: [Double]
    /// rows × p features; empty when the features are the scores themselves.
    var featureRows: [Double]
    var inputs: [Double]
    var outputs: [Double]
    let workspace: MomentWorkspace

    /// A lane working in `buffers` (fresh, or a finished lane's).
    init(
        evaluator: any BatchEvaluator, blackBox: some BlackBox, point: [Double], features: ScoreFeatures,
        points: PointSet, distribution: Distribution, buffers: LaneBuffers
    ) {
        self.evaluator = evaluator
        blackBoxName = blackBox.displayName
        n = blackBox.inputCount
        m = blackBox.outputCount
        self.point = point
        self.features = features
        self.points = points
        self.distribution = distribution
        (uniforms, noise, scores) = (buffers.uniforms, buffers.noise, buffers.scores)
        (featureRows, inputs, outputs) = (buffers.featureRows, buffers.inputs, buffers.outputs)
        workspace = buffers.workspace
    }

    /// The lane's arrays and workspace, for a later estimate's lane.
    var buffers: LaneBuffers {
        LaneBuffers(
            uniforms: uniforms, noise: noise, scores: scores, featureRows: featureRows, inputs: inputs,
            outputs: outputs, workspace: workspace)
    }

    /// f(x) at the unperturbed point (the fx covariate).
    func evaluateUnperturbed() throws -> [Double] {
        var y = [Double](repeating: .nan, count: m)
        try run(inputs: point, rows: 1, outputs: &y, firstSample: nil)
        if let bad = y.firstIndex(where: { !$0.isFinite }) {
            throw failure(inputs: point, row: 0, firstSample: nil, reason: "it returned a non-finite output (\(y[bad]) in output \(bad))")
        }
        return y
    }

    /// Turns the uniforms of `rows` rows into noise, scores and (when they differ) features.
    private func transformUniforms(rows: Int) {
        uniforms.withUnsafeBufferPointer { u in
            noise.withUnsafeMutableBufferPointer { e in
                scores.withUnsafeMutableBufferPointer { z in
                    distribution.transform(
                        uniforms: u.baseAddress!, count: rows * n, noise: e.baseAddress!, score: z.baseAddress!)
                    if !features.featuresAreScores {
                        featureRows.withUnsafeMutableBufferPointer { f in
                            features.fill(noise: e.baseAddress!, scores: z.baseAddress!, rows: rows, into: f.baseAddress!)
                        }
                    }
                }
            }
        }
    }

    /// Calls `body` with the current rows' features (the scores, or the filled feature rows).
    private func withFeatures<T>(_ body: (UnsafePointer<Double>) throws -> T) rethrows -> T {
        if features.featuresAreScores {
            return try scores.withUnsafeBufferPointer { try body($0.baseAddress!) }
        }
        return try featureRows.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    /// Generates the samples of one chunk and evaluates the black box on them (outputs unshifted).
    /// `knownFirstOutput`, when given, is the output of the range's first sample, not evaluated again.
    private func evaluate(range: Range<Int>, knownFirstOutput: [Double]? = nil, checksOutputs: Bool = true) throws {
        let rows = range.count
        uniforms.withUnsafeMutableBufferPointer { u in
            points.fill(start: range.lowerBound, rows: rows, into: u.baseAddress!)
        }
        transformUniforms(rows: rows)
        noise.withUnsafeBufferPointer { e in
            inputs.withUnsafeMutableBufferPointer { x in
                features.perturb(point: point, noise: e.baseAddress!, rows: rows, into: x.baseAddress!)
            }
        }
        if let knownFirstOutput {
            for i in 0..<m { outputs[i] = knownFirstOutput[i] }
        }
        try run(inputs: inputs, rows: rows, outputs: &outputs, firstSample: range.lowerBound, fromRow: knownFirstOutput == nil ? 0 : 1)
        if checksOutputs { try checkFinite(rows: rows, firstSample: range.lowerBound) }
    }

    /// f at sample 0 alone (the shift of every chunk's outputs).
    func firstOutput() throws -> [Double] {
        try evaluate(range: 0..<1)
        return Array(outputs[0..<m])
    }

    /// The sums of consecutive chunks, in order, their samples generated and evaluated in one call
    /// of the black box, the outputs shifted by `shift` (the output of sample 0).
    func sums(chunks: Range<Int>, plan: ChunkPlan, shift reference: [Double], covariance: Bool) throws -> [ChunkSums] {
        let range = plan.range(chunk: chunks.lowerBound).lowerBound..<plan.range(chunk: chunks.upperBound - 1).upperBound
        try evaluate(range: range, knownFirstOutput: chunks.lowerBound == 0 ? reference : nil, checksOutputs: false)
        return try chunks.map { chunk in
            let rows = plan.range(chunk: chunk)
            return try sums(
                rows: (rows.lowerBound - range.lowerBound)..<(rows.upperBound - range.lowerBound), of: range,
                shift: reference, covariance: covariance)
        }
    }

    /// The sums of rows `local` of the evaluated samples `range` (one chunk).
    private func sums(rows local: Range<Int>, of range: Range<Int>, shift reference: [Double], covariance: Bool) throws -> ChunkSums {
        let rows = local.count
        let p = features.featureCount
        var sums = MomentSums(responseCount: m, featureCount: p, unitSize: points.unitSize)
        // The moment sums shift the outputs and check them in the same pass, keeping the shifted
        // outputs in the workspace only for the covariance sums.
        let added = outputs.withUnsafeBufferPointer { y in
            reference.withUnsafeBufferPointer { shift in
                withFeatures { phi in
                    sums.add(
                        responses: y.baseAddress! + local.lowerBound * m, shiftedBy: shift.baseAddress!,
                        features: phi + local.lowerBound * p, rows: rows, workspace: workspace, keepingShifted: covariance)
                }
            }
        }
        if !added {
            // The rows before these were added, so they are finite: a non-finite output is here.
            try checkFinite(rows: local.upperBound, firstSample: range.lowerBound)
            // Every output is finite, but one minus sample 0's output is not.
            let row = (local.lowerBound * m..<local.upperBound * m).first { !(outputs[$0] - reference[$0 % m]).isFinite }! / m
            throw failure(
                inputs: inputs, row: row, firstSample: range.lowerBound,
                reason: "its output differs from sample 0's by more than a double can hold")
        }
        if covariance {
            var covarianceSums = CovarianceSums(responseCount: m, featureCount: p, unitSize: points.unitSize)
            withFeatures { phi in
                covarianceSums.add(responses: workspace.shiftedResponses, features: phi + local.lowerBound * p, rows: rows)
            }
            return ChunkSums(moments: sums, covariance: covarianceSums)
        }
        return ChunkSums(moments: sums, covariance: nil)
    }

    /// Evaluates the samples of consecutive chunks in one call of the black box and keeps them for
    /// a vector–Jacobian product: each sample's outputs minus `shift` (rows × m) and its features
    /// (rows × p), at the samples' rows of `responses` and `features`.
    func record(
        chunks: Range<Int>, plan: ChunkPlan, shift reference: [Double],
        responses: UnsafeMutablePointer<Double>, features kept: UnsafeMutablePointer<Double>
    ) throws {
        let range = plan.range(chunk: chunks.lowerBound).lowerBound..<plan.range(chunk: chunks.upperBound - 1).upperBound
        try evaluate(range: range, knownFirstOutput: chunks.lowerBound == 0 ? reference : nil)
        let rows = range.count
        let p = features.featureCount
        let allFinite = outputs.withUnsafeBufferPointer { y in
            gss_tape_shift_rows(y.baseAddress!, reference, rows, m, responses + range.lowerBound * m) != 0
        }
        if !allFinite {
            let row = (0..<rows * m).first { !(outputs[$0] - reference[$0 % m]).isFinite }! / m
            throw failure(
                inputs: inputs, row: row, firstSample: range.lowerBound,
                reason: "its output differs from sample 0's by more than a double can hold")
        }
        withFeatures { phi in (kept + range.lowerBound * p).update(from: phi, count: rows * p) }
    }

    /// Evaluates one chunk of a scalar black box: its values, in sample order (the median's first pass).
    func evaluateScalars(chunk: Int, plan: ChunkPlan) throws -> [Double] {
        precondition(m == 1, "only scalar black boxes are median-smoothed")
        let range = plan.range(chunk: chunk)
        try evaluate(range: range)
        return Array(outputs[0..<range.count])
    }

    /// Regenerates the features of the given samples (by index, in the given order) and calls
    /// `body` with them, rows × p row-major (at most rowsPerChunk samples).
    func regeneratedFeatures<T>(of samples: ArraySlice<Int>, _ body: (UnsafePointer<Double>) throws -> T) rethrows -> T {
        let rows = samples.count
        uniforms.withUnsafeMutableBufferPointer { u in
            for (row, sample) in samples.enumerated() {
                points.fill(start: sample, rows: 1, into: u.baseAddress! + row * n)
            }
        }
        transformUniforms(rows: rows)
        return try withFeatures(body)
    }

    /// A failure of `sample` (nil: the unperturbed x) as a SmoothingError naming the black box,
    /// the sample and its input row.
    private func failure(inputs: [Double], row: Int, firstSample: Int?, reason: String) -> SmoothingError {
        let input = Array(inputs[row * n..<(row + 1) * n])
        let which = firstSample.map { "sample \($0 + row)" } ?? "the unperturbed x"
        return SmoothingError(
            code: .evaluationFailed,
            message: "\(blackBoxName) failed at \(which) (input \(formatRow(input))): \(reason)",
            sampleIndex: firstSample.map { $0 + row }, input: input)
    }

    /// Evaluates rows start..<rows: a thrown failure becomes a SmoothingError that names the
    /// black box, the sample and its input row.
    private func run(inputs: [Double], rows: Int, outputs: inout [Double], firstSample: Int?, fromRow start: Int = 0) throws {
        guard start < rows else { return }
        do {
            try inputs.withUnsafeBufferPointer { x in
                try outputs.withUnsafeMutableBufferPointer { y in
                    try evaluator.evaluate(x.baseAddress! + start * n, rows: rows - start, into: y.baseAddress! + start * m)
                }
            }
        } catch let error as SmoothingError {
            throw error
        } catch {
            // Blame the first row the black box marked with NaN (the ABI's convention), else the first.
            let row = (start..<rows).first { r in (0..<m).contains { outputs[r * m + $0].isNaN } } ?? start
            throw failure(inputs: inputs, row: row, firstSample: firstSample, reason: "\(error)")
        }
    }

    /// Fails on the first non-finite output among the first `rows` rows of `outputs`.
    private func checkFinite(rows: Int, firstSample: Int?) throws {
        // y·0 is 0 for finite y and NaN otherwise: one branch-free pass, and a search only on failure.
        let allFinite = outputs.withUnsafeBufferPointer { y in
            var probes = SIMD4<Double>()  // four independent sums, so the adds overlap
            let total = rows * m
            var k = 0
            while k + 4 <= total {
                probes += SIMD4(y[k], y[k + 1], y[k + 2], y[k + 3]) * 0
                k += 4
            }
            while k < total {
                probes[0] += y[k] * 0
                k += 1
            }
            return probes.sum() == 0
        }
        if allFinite { return }
        for r in 0..<rows {
            for i in 0..<m where !outputs[r * m + i].isFinite {
                throw failure(
                    inputs: inputs, row: r, firstSample: firstSample,
                    reason: "it returned a non-finite output (\(outputs[r * m + i]) in output \(i))")
            }
        }
    }
}

/// "[0.1, -2, 3.5]" with at most 8 entries shown, for messages about an input row.
public func formatRow(_ row: [Double]) -> String {
    let shown = row.prefix(8).map { "\($0)" }.joined(separator: ", ")
    return "[" + shown + (row.count > 8 ? ", … (\(row.count) numbers)]" : "]")
}
