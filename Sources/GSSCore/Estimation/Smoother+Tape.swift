import CGSSVectorMath

/// Estimates for a training step's backward pass, which needs only gᵀJ for the cotangent g that
/// arrives later, never J itself. The Jacobian estimate is E[(f − c) Φᵀ] / γ column by column, so
/// gᵀJ = E[(gᵀf − gᵀc) Φᵀ] / γ: keeping each sample's outputs and features (s·(m + p) numbers)
/// turns the m·p products per sample of the full Jacobian into m + p once g is known. A 144-output,
/// 144-input shortest path spent most of its estimate in those products.
///
/// The tape's value and products equal the full estimate's value and gᵀJ for the same seed, but
/// not bit for bit: the sums run in another order.
extension Smoother {
    /// Kept samples cost 8·s·(m + p) bytes per point; above this many bytes for a whole batch, the
    /// tape keeps each point's Jacobian instead (m·p numbers, computed now).
    public static let tapeSampleBytesLimit = 512 << 20

    /// The value at `count` points (row-major in `points`) and a tape for their vector–Jacobian
    /// products, with point b's seed `pointSeed(seed, point: b)` as `estimate(_:atPoints:count:)`.
    /// The tape keeps the samples (when that is faster, they fit `sampleBytesLimit`, and this is the
    /// mean smoothing without the covariance) or else the full estimates.
    public func estimateWithTape(
        _ blackBox: some BlackBox, atPoints points: [Double], count: Int,
        evaluators given: [any BatchEvaluator]? = nil, sampleBytesLimit: Int = Smoother.tapeSampleBytesLimit
    ) throws -> VJPTape {
        let n = blackBox.inputCount
        let m = blackBox.outputCount
        try configuration.validate(inputCount: n, outputCount: m)
        let p = try scoreFeatures(inputCount: n).featureCount
        let perPoint = configuration.samples.multipliedReportingOverflow(by: m + p)
        let total = perPoint.partialValue.multipliedReportingOverflow(by: 8 * max(count, 1))
        // Kept samples cost a round trip through memory, ~3 ns per number here; the full sums
        // ~0.4·m·p ns per sample in cache: below m·p = 8(m + p) (a 5-item sorter: 125 against
        // 240) the full estimate is as fast.
        let keepsSamples = m * p > 8 * (m + p)
            && configuration.medianSampleCount == nil && !configuration.estimatesCovariance
            && executor.processCount == 1 && !perPoint.overflow && !total.overflow && total.partialValue <= sampleBytesLimit
        guard keepsSamples else {
            let estimates = try estimate(blackBox, atPoints: points, count: count, evaluators: given)
            return VJPTape(points: .estimates(estimates), inputCount: n, outputCount: m, threads: threads)
        }
        // One block for the whole batch, point after point: a block this size is taken from (and
        // freed to) the heap the next steps reuse, where one per point is faulted in afresh each time.
        let storage = TapeStorage(count: count * perPoint.partialValue)
        let records = try forEachPoint(of: blackBox, atPoints: points, count: count, evaluators: given) { b, smoother, x, evaluators in
            try smoother.withLanes(blackBox, at: x, evaluators: evaluators) { run in
                try smoother.record(run, blackBox: blackBox, into: storage, at: b * perPoint.partialValue)
            }
        }
        return VJPTape(points: .samples(records), inputCount: n, outputCount: m, threads: threads)
    }

    /// Evaluates every sample of one point on its lanes and keeps them.
    private func record(_ run: PointRun, blackBox: some BlackBox, into storage: TapeStorage, at offset: Int) throws -> SampleRecord {
        let (features, plan, group, lanes) = (run.features, run.plan, run.group, run.lanes)
        let m = blackBox.outputCount
        let s = plan.samples
        let shift = try lanes[0].firstOutput()
        let fx: [Double]? = configuration.covariate == .fx ? try lanes[0].evaluateUnperturbed() : nil
        // Every call writes its own samples' rows: nothing to merge, and no order to keep.
        nonisolated(unsafe) let responses = storage.numbers.baseAddress! + offset
        nonisolated(unsafe) let keptFeatures = responses + s * m
        let calls = (plan.chunkCount + group - 1) / group
        try OrderedParallelReduction.run(
            chunks: calls, workers: lanes.count, window: lanes.count,
            compute: { worker, call in
                let chunks = call * group..<min(plan.chunkCount, (call + 1) * group)
                try lanes[worker].record(chunks: chunks, plan: plan, shift: shift, responses: responses, features: keptFeatures)
            },
            merge: { _, _ in })
        let baseline: SampleRecord.Baseline
        switch configuration.covariate {
        case .none: baseline = .constant(shift.map { -$0 })
        case .fx: baseline = .constant(zip(fx!, shift).map { $0 - $1 })
        case .loo: baseline = .leaveOneOut
        }
        return SampleRecord(
            outputCount: m, features: features, samples: s, unitSize: lanes[0].points.unitSize, shift: shift,
            storage: storage, offset: offset, baseline: baseline)
    }
}

/// What a backward pass needs of a batch's estimates: each point's kept samples, or its estimate.
public struct VJPTape: Sendable {
    public enum Points: Sendable {
        case samples([SampleRecord])
        case estimates([SmoothedEstimate])
    }

    public let points: Points
    public let inputCount: Int
    public let outputCount: Int
    /// Threads for the products (the smoother's).
    let threads: Int

    public var count: Int {
        switch points {
        case .samples(let records): records.count
        case .estimates(let estimates): estimates.count
        }
    }

    /// Whether the tape holds the samples (else the full estimates).
    public var keepsSamples: Bool {
        if case .samples = points { return true }
        return false
    }

    /// The numbers the tape holds, in bytes.
    public var bytes: Int {
        switch points {
        case .samples(let records): 8 * (records.first?.storage.numbers.count ?? 0)
        case .estimates(let estimates):
            estimates.reduce(0) { $0 + 8 * ($1.jacobian.count + ($1.scaleGradient?.count ?? $1.scaleMatrixGradient?.count ?? 0)) }
        }
    }

    /// Each point's smoothed value, m numbers per point.
    public var value: [Double] {
        switch points {
        case .samples(let records): records.flatMap(\.value)
        case .estimates(let estimates): estimates.flatMap(\.value)
        }
    }

    /// The value's standard errors, m numbers per point.
    public var valueStderr: [Double] {
        switch points {
        case .samples(let records): records.flatMap(\.valueStderr)
        case .estimates(let estimates): estimates.flatMap(\.valueStderr)
        }
    }

    /// Whether the products include the scale's (the configuration asked for the scale derivative).
    public var differentiatesScale: Bool {
        switch points {
        case .samples(let records): records.first?.features.includesScale ?? false
        case .estimates(let estimates): estimates.first.map { $0.scaleGradient != nil || $0.scaleMatrixGradient != nil } ?? false
        }
    }

    /// How many numbers the scale's product has per point: n for a diagonal scale, n² for a matrix.
    public var scaleCount: Int {
        switch points {
        case .samples(let records):
            if case .matrix = records.first?.features.scale { return inputCount * inputCount }
            return inputCount
        case .estimates(let estimates):
            return estimates.first?.scaleMatrixGradient != nil ? inputCount * inputCount : inputCount
        }
    }

    /// gᵀJ for every point (`cotangent`: count × m; `input`: count × n) and, when the tape
    /// differentiates the scale and `scale` is given, gᵀ ∂value/∂γ (count × scaleCount).
    public func vectorJacobianProducts(
        cotangent: UnsafePointer<Double>, input: UnsafeMutablePointer<Double>, scale: UnsafeMutablePointer<Double>?
    ) {
        let (n, m, q) = (inputCount, outputCount, scaleCount)
        let scaleOut = differentiatesScale ? scale : nil
        nonisolated(unsafe) let (g, x, gamma) = (cotangent, input, scaleOut)
        let points = self.points
        let workers = min(threads, count, max(1, bytes >> 20))  // a thread per MiB of tape
        WorkerThreads.run(count: workers) { worker in
            var b = worker
            while b < count {
                switch points {
                case .samples(let records):
                    records[b].vectorJacobianProduct(g + b * m, input: x + b * n, scale: gamma.map { $0 + b * q })
                case .estimates(let estimates):
                    estimates[b].vectorJacobianProduct(g + b * m, input: x + b * n, scale: gamma.map { $0 + b * q })
                }
                b += workers
            }
        }
    }
}

/// The samples of one point kept for vector–Jacobian products: each sample's outputs minus the
/// first sample's (the shift the estimate uses too) and its score features.
public struct SampleRecord: Sendable {
    /// The baseline c of E[(f − c) Φᵀ], in shifted outputs.
    enum Baseline: Sendable {
        case constant([Double])
        case leaveOneOut
    }

    let outputCount: Int
    let features: ScoreFeatures
    let samples: Int
    /// s × m and s × p, row-major.
    /// The batch's block, and where this point's s × m responses start (its s × p features follow).
    let storage: TapeStorage
    let offset: Int
    let baseline: Baseline
    public let value: [Double]
    public let valueStderr: [Double]

    private var responses: UnsafePointer<Double> { UnsafePointer(storage.numbers.baseAddress! + offset) }
    private var featureRows: UnsafePointer<Double> { responses + samples * outputCount }

    init(
        outputCount m: Int, features: ScoreFeatures, samples s: Int, unitSize: Int, shift: [Double],
        storage: TapeStorage, offset: Int, baseline: Baseline
    ) {
        (outputCount, self.features, samples) = (m, features, s)
        (self.storage, self.offset, self.baseline) = (storage, offset, baseline)
        // The mean and its standard error over independent units (single samples or antithetic pairs).
        var sum = [Double](repeating: 0, count: m)
        var unitSquares = [Double](repeating: 0, count: m)
        gss_tape_unit_moments(storage.numbers.baseAddress! + offset, s - s % unitSize, m, unitSize, &sum, &unitSquares)
        let units = Double(s / unitSize)
        value = (0..<m).map { sum[$0] / Double(s) + shift[$0] }
        valueStderr = (0..<m).map { a in
            guard units >= 2 else { return .nan }
            let variance = (unitSquares[a] - sum[a] * sum[a] / units) / (units - 1)
            return (units * Swift.max(variance, 0)).squareRoot() / Double(s)
        }
    }

    /// gᵀJ (n numbers into `input`) and, with `scale`, gᵀ ∂value/∂γ or ∂/∂L (n or n² numbers):
    /// Σ_i (gᵀR_i − gᵀc) Φ_i / (s or s − 1), column b divided by its divisor, as the full estimate's
    /// Jacobian is (Smoother.estimate) before the product.
    func vectorJacobianProduct(_ g: UnsafePointer<Double>, input: UnsafeMutablePointer<Double>, scale: UnsafeMutablePointer<Double>?) {
        let (m, p, s, n) = (outputCount, features.featureCount, samples, features.inputCount)
        let projected = [Double](unsafeUninitializedCapacity: s) { projected, initialized in
            gss_tape_project_rows(responses, s, m, g, projected.baseAddress!)
            initialized = s
        }
        let c: Double
        let denominator: Double
        switch baseline {
        case .leaveOneOut:
            // Σ(r_i − (Σr − r_i)/(s − 1))Φ_i = s/(s − 1) · Σ(r_i − r̄)Φ_i: the mean, over s − 1.
            c = projected.reduce(0, +) / Double(s)
            denominator = Double(s - 1)
        case .constant(let values):
            c = (0..<m).reduce(0) { $0 + g[$1] * values[$1] }
            denominator = Double(s)
        }
        var sums = [Double](repeating: 0, count: p)
        gss_tape_weighted_rows(featureRows, s, p, projected, c, &sums)
        for b in 0..<p {
            sums[b] /= denominator
            if let divisors = features.divisors { sums[b] /= divisors[b] }
        }
        for j in 0..<n { input[j] = sums[j] }
        if let scale, p > n {
            for j in n..<p { scale[j - n] = sums[j] }
        }
    }
}

extension SmoothedEstimate {
    /// gᵀJ from the full Jacobian (and gᵀ of the scale gradient, when estimated and `scale` given).
    func vectorJacobianProduct(_ g: UnsafePointer<Double>, input: UnsafeMutablePointer<Double>, scale: UnsafeMutablePointer<Double>?) {
        let (m, n) = (outputCount, inputCount)
        for j in 0..<n { input[j] = 0 }
        for i in 0..<m {
            for j in 0..<n { input[j] += g[i] * jacobian[i * n + j] }
        }
        guard let scale, let gradient = scaleGradient ?? scaleMatrixGradient else { return }
        let q = gradient.count / m
        for k in 0..<q { scale[k] = 0 }
        for i in 0..<m {
            for k in 0..<q { scale[k] += g[i] * gradient[i * q + k] }
        }
    }
}

/// A tape's kept samples: one block of doubles for a whole batch, freed with the tape.
final class TapeStorage: @unchecked Sendable {  // points write disjoint parts, then it is only read
    let numbers: UnsafeMutableBufferPointer<Double>

    init(count: Int) { numbers = .allocate(capacity: count) }

    deinit { numbers.deallocate() }
}
