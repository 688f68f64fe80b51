/// Streaming sums for the output covariance G = Cov[f(x + Lε)] and its score-function
/// derivatives ∂G/∂θ (the paper's Theorem 8, eq. 14–16), for responses R (m numbers, f's
/// outputs, possibly shifted by a constant) and features Φ (p numbers with E[Φ] = 0, such as
/// L^{−T}z or L^{−T}(zεᵀ − I)).
///
/// ## The estimators
/// Both are U-statistics of order 2 over pairs of samples i ≠ j from different units, with
/// d = R_i − R_j:
/// - G_ab ≈ mean of ½ d_a d_b — the unbiased sample covariance (Q − S Sᵀ/s)/(s − 1);
/// - ∂G_ab/∂θ ≈ mean of d_a d_b Φ_i, unbiased for E[(R − μ)_a (R − μ)_b Φ] = ∇E[R_aR_b] − μ_a∇μ_b
///   − μ_b∇μ_a, which is eq. 15/16 (E[Φ] = 0 makes the two forms equal).
///
/// Expanded, with S = ΣR, Q = ΣRRᵀ, V = ΣΦ, T = ΣRΦᵀ and P_ab = ΣR_aR_bΦ (products F_aF_b as
/// responses), the pair sums are s·P_ab − S_b T_a − S_a T_b + Q_ab V and s·Q − S Sᵀ: running
/// sums, so memory is O(m²p) whatever s. Both are invariant to shifting R by a constant, so no
/// covariate is needed (the pair difference is its own baseline). With antithetic units the two
/// mirrored samples of a unit are not paired (their sums are removed), which keeps both
/// estimators unbiased; with Latin-hypercube points the weak dependence between samples leaves
/// an O(1/s) bias, far below the standard error.
///
/// ## Standard errors
/// By batch means: consecutive chunks are grouped into batches of at least
/// `minimumBatchSamples` samples, each batch's own U-statistic X_c (b_c samples) is computed as
/// it is merged, and Var(X̂) ≈ Σ_c b_c (X_c − X̂)² / ((C − 1) · s). A U-statistic over b samples
/// has variance 4ζ₁/b + O(1/b²), so this is the first-order variance, slightly conservative
/// for small batches; it is NaN with fewer than two batches (s < 64).
///
/// Pairs (a, b) are stored once, a ≤ b, since everything is symmetric in them.
public struct CovarianceSums: Sendable, Equatable {
    /// m, the number of responses (outputs of f).
    public let responseCount: Int
    /// p, the number of features per sample.
    public let featureCount: Int
    /// Samples per independent unit: 1, or 2 for antithetic pairs.
    public let unitSize: Int
    /// Samples per batch at least (the last batch may be smaller).
    public static let minimumBatchSamples = 32

    var total: RawCovarianceSums
    var pending: RawCovarianceSums
    var batchStatistics: BatchStatistics

    /// Empty sums for m responses and p features; memory O(m²p).
    public init(responseCount m: Int, featureCount p: Int, unitSize: Int) {
        precondition(unitSize == 1 || unitSize == 2, "units are single samples or pairs")
        responseCount = m
        featureCount = p
        self.unitSize = unitSize
        total = RawCovarianceSums(responseCount: m, featureCount: p, unitSize: unitSize)
        pending = RawCovarianceSums(responseCount: 0, featureCount: 0, unitSize: unitSize)
        batchStatistics = BatchStatistics(pairCount: 0, featureCount: 0)
    }

    /// Samples added so far.
    public var samples: Int { total.samples }
    /// Batches sealed so far (the standard errors need at least 2).
    public var batches: Int { batchStatistics.batches }

    /// Adds `rows` samples (responses rows × m, features rows × p, row-major; whole units only).
    public mutating func add(responses: UnsafePointer<Double>, features: UnsafePointer<Double>, rows: Int) {
        total.add(responses: responses, features: features, rows: rows)
    }

    /// Merges the raw sums of the next chunk, in chunk order; chunks accumulate into a batch
    /// until it holds `minimumBatchSamples` samples, and each completed batch adds its own
    /// estimate to the batch-means statistics.
    public mutating func mergeChunk(_ chunk: CovarianceSums) {
        precondition(
            chunk.responseCount == responseCount && chunk.featureCount == featureCount && chunk.unitSize == unitSize,
            "merging sums of different shapes")
        total.merge(chunk.total)
        if pending.samples == 0 {
            pending = chunk.total
        } else {
            pending.merge(chunk.total)
        }
        if pending.samples >= Self.minimumBatchSamples { sealPendingBatch() }
    }

    private mutating func sealPendingBatch() {
        guard pending.samples > 0 else { return }
        if let statistics = pending.statistics() {
            if batchStatistics.pairCount == 0 {
                batchStatistics = BatchStatistics(pairCount: total.pairCount, featureCount: featureCount)
            }
            batchStatistics.add(statistics, weight: Double(pending.samples))
        }
        pending = RawCovarianceSums(responseCount: 0, featureCount: 0, unitSize: unitSize)
    }

    /// G (m × m), ∂G/∂θ (m × m × p, entry [(a·m + b)·p + k] = ∂G_ab/∂θ_k) and standard errors.
    /// Estimates are NaN with fewer than two samples from different units, standard errors with
    /// fewer than two batches. Only chunks merged with `mergeChunk` count.
    public func estimate() -> CovarianceEstimateMoments {
        var sealed = self
        sealed.sealPendingBatch()
        let m = responseCount
        let p = featureCount
        let pairs = total.pairCount
        let point = total.statistics()
        let s = Double(total.samples)
        var covariance = [Double](repeating: .nan, count: m * m)
        var covarianceStderr = covariance
        var gradient = [Double](repeating: .nan, count: m * m * p)
        var gradientStderr = gradient
        let batch = sealed.batchStatistics
        let canSpread = batch.batches >= 2
        var pair = 0
        for a in 0..<m {
            for b in a..<m {
                if let point {
                    covariance[a * m + b] = point.covariance[pair]
                    covariance[b * m + a] = point.covariance[pair]
                    if canSpread {
                        let error = batch.standardError(
                            of: point.covariance[pair], sum: batch.sumCovariance[pair],
                            sumOfSquares: batch.sumCovariance2[pair], samples: s)
                        covarianceStderr[a * m + b] = error
                        covarianceStderr[b * m + a] = error
                    }
                    for k in 0..<p {
                        let index = pair * p + k
                        let value = point.gradient[index]
                        gradient[(a * m + b) * p + k] = value
                        gradient[(b * m + a) * p + k] = value
                        if canSpread {
                            let error = batch.standardError(
                                of: value, sum: batch.sumGradient[index], sumOfSquares: batch.sumGradient2[index], samples: s)
                            gradientStderr[(a * m + b) * p + k] = error
                            gradientStderr[(b * m + a) * p + k] = error
                        }
                    }
                }
                pair += 1
            }
        }
        precondition(pair == pairs)
        return CovarianceEstimateMoments(
            responseCount: m, featureCount: p, covariance: covariance, covarianceStderr: covarianceStderr,
            gradient: gradient, gradientStderr: gradientStderr)
    }
}

/// What `CovarianceSums.estimate` returns; NaN where too few samples (or batches) were seen.
public struct CovarianceEstimateMoments: Sendable, Equatable {
    /// m.
    public let responseCount: Int
    /// p.
    public let featureCount: Int
    /// G, m × m row-major.
    public let covariance: [Double]
    /// Batch-means standard errors of `covariance`.
    public let covarianceStderr: [Double]
    /// ∂G/∂θ, m × m × p: entry [(a·m + b)·p + k] = ∂G_ab/∂θ_k.
    public let gradient: [Double]
    /// Batch-means standard errors of `gradient`.
    public let gradientStderr: [Double]
}

/// The raw running sums of one batch or of everything (pairs a ≤ b packed row by row).
struct RawCovarianceSums: Sendable, Equatable {
    let responseCount: Int
    let featureCount: Int
    let unitSize: Int
    private(set) var samples = 0
    /// S = ΣR (m), Q = ΣR_aR_b (pairs), V = ΣΦ (p), T = ΣRΦᵀ (m × p), P = ΣR_aR_bΦ (pairs × p).
    private(set) var sumR: [Double]
    private(set) var sumPairs: [Double]
    private(set) var sumPhi: [Double]
    private(set) var sumRPhi: [Double]
    private(set) var sumPairsPhi: [Double]
    /// Σ over antithetic units of d_a d_b and d_a d_b (Φ_i + Φ_i'), d = R_i − R_i' (empty for single samples).
    private(set) var unitPairs: [Double]
    private(set) var unitPairsPhi: [Double]

    var pairCount: Int { responseCount * (responseCount + 1) / 2 }

    init(responseCount m: Int, featureCount p: Int, unitSize: Int) {
        responseCount = m
        featureCount = p
        self.unitSize = unitSize
        let pairs = m * (m + 1) / 2
        sumR = Array(repeating: 0, count: m)
        sumPairs = Array(repeating: 0, count: pairs)
        sumPhi = Array(repeating: 0, count: p)
        sumRPhi = Array(repeating: 0, count: m * p)
        sumPairsPhi = Array(repeating: 0, count: pairs * p)
        unitPairs = unitSize == 2 ? sumPairs : []
        unitPairsPhi = unitSize == 2 ? sumPairsPhi : []
    }

    mutating func add(responses: UnsafePointer<Double>, features: UnsafePointer<Double>, rows: Int) {
        precondition(rows % unitSize == 0, "a batch must hold whole units")
        let m = responseCount
        let p = featureCount
        let mirrored = unitSize == 2
        sumR.withUnsafeMutableBufferPointer { sumR in
        sumPairs.withUnsafeMutableBufferPointer { sumPairs in
        sumPhi.withUnsafeMutableBufferPointer { sumPhi in
        sumRPhi.withUnsafeMutableBufferPointer { sumRPhi in
        sumPairsPhi.withUnsafeMutableBufferPointer { sumPairsPhi in
        unitPairs.withUnsafeMutableBufferPointer { unitPairs in
        unitPairsPhi.withUnsafeMutableBufferPointer { unitPairsPhi in
            for row in 0..<rows {
                let r = responses + row * m
                let w = features + row * p
                for k in 0..<p { sumPhi[k] += w[k] }
                for a in 0..<m {
                    let ra = r[a]
                    sumR[a] += ra
                    let base = a * p
                    for k in 0..<p { sumRPhi[base + k] += ra * w[k] }
                }
                var pair = 0
                for a in 0..<m {
                    let ra = r[a]
                    for b in a..<m {
                        let product = ra * r[b]
                        sumPairs[pair] += product
                        let base = pair * p
                        for k in 0..<p { sumPairsPhi[base + k] += product * w[k] }
                        pair += 1
                    }
                }
                if mirrored && row % 2 == 1 {
                    let r0 = r - m
                    let w0 = w - p
                    pair = 0
                    for a in 0..<m {
                        let da = r0[a] - r[a]
                        for b in a..<m {
                            let product = da * (r0[b] - r[b])
                            unitPairs[pair] += product
                            let base = pair * p
                            for k in 0..<p { unitPairsPhi[base + k] += product * (w0[k] + w[k]) }
                            pair += 1
                        }
                    }
                }
            }
        }}}}}}}
        samples += rows
    }

    mutating func merge(_ other: RawCovarianceSums) {
        samples += other.samples
        Self.addInPlace(&sumR, other.sumR)
        Self.addInPlace(&sumPairs, other.sumPairs)
        Self.addInPlace(&sumPhi, other.sumPhi)
        Self.addInPlace(&sumRPhi, other.sumRPhi)
        Self.addInPlace(&sumPairsPhi, other.sumPairsPhi)
        Self.addInPlace(&unitPairs, other.unitPairs)
        Self.addInPlace(&unitPairsPhi, other.unitPairsPhi)
    }

    private static func addInPlace(_ target: inout [Double], _ source: [Double]) {
        precondition(target.count == source.count, "merging sums of different shapes")
        target.withUnsafeMutableBufferPointer { t in
            source.withUnsafeBufferPointer { s in
                for i in 0..<t.count { t[i] += s[i] }
            }
        }
    }

    /// The two U-statistics over ordered pairs from different units, or nil without such pairs.
    func statistics() -> (covariance: [Double], gradient: [Double])? {
        let m = responseCount
        let p = featureCount
        let s = Double(samples)
        // Ordered pairs (i, j), i ≠ j, from different units: s(s − 1) minus s mirrored pairs.
        let pairCountOrdered = s * (s - Double(unitSize))
        guard pairCountOrdered > 0 else { return nil }
        var covariance = [Double](repeating: 0, count: pairCount)
        var gradient = [Double](repeating: 0, count: pairCount * p)
        let mirrored = unitSize == 2
        var pair = 0
        for a in 0..<m {
            for b in a..<m {
                var sum = s * sumPairs[pair] - sumR[a] * sumR[b]
                if mirrored { sum -= unitPairs[pair] }
                covariance[pair] = sum / pairCountOrdered
                let q = sumPairs[pair]
                for k in 0..<p {
                    var d = s * sumPairsPhi[pair * p + k] - sumR[b] * sumRPhi[a * p + k] - sumR[a] * sumRPhi[b * p + k]
                        + q * sumPhi[k]
                    if mirrored { d -= unitPairsPhi[pair * p + k] }
                    gradient[pair * p + k] = d / pairCountOrdered
                }
                pair += 1
            }
        }
        return (covariance, gradient)
    }
}

/// Σ_c b_c X_c and Σ_c b_c X_c² over batches c, for the batch-means standard errors.
struct BatchStatistics: Sendable, Equatable {
    let pairCount: Int
    private(set) var batches = 0
    private(set) var sumCovariance: [Double]
    private(set) var sumCovariance2: [Double]
    private(set) var sumGradient: [Double]
    private(set) var sumGradient2: [Double]
    private(set) var weight = 0.0

    init(pairCount: Int, featureCount p: Int) {
        self.pairCount = pairCount
        sumCovariance = Array(repeating: 0, count: pairCount)
        sumCovariance2 = sumCovariance
        sumGradient = Array(repeating: 0, count: pairCount * p)
        sumGradient2 = sumGradient
    }

    mutating func add(_ statistics: (covariance: [Double], gradient: [Double]), weight b: Double) {
        batches += 1
        weight += b
        for i in 0..<statistics.covariance.count {
            let x = statistics.covariance[i]
            sumCovariance[i] += b * x
            sumCovariance2[i] += b * x * x
        }
        sumGradient.withUnsafeMutableBufferPointer { sum in
            sumGradient2.withUnsafeMutableBufferPointer { sum2 in
                statistics.gradient.withUnsafeBufferPointer { x in
                    for i in 0..<x.count {
                        sum[i] += b * x[i]
                        sum2[i] += b * x[i] * x[i]
                    }
                }
            }
        }
    }

    /// √(Σ b_c (X_c − X̂)² / ((C − 1) s)), expanded in the running sums.
    func standardError(of estimate: Double, sum: Double, sumOfSquares: Double, samples s: Double) -> Double {
        let spread = sumOfSquares - 2 * estimate * sum + estimate * estimate * weight
        return (max(spread, 0) / (Double(batches - 1) * s)).squareRoot()
    }
}

extension CovarianceSums {
    /// Every number of the sums (the total, the batch being filled, the sealed batches' statistics),
    /// bit for bit: a partial that crosses processes or goes into a journal merges exactly as the
    /// original would.
    public func write(to writer: inout ExchangeWriter) {
        writer.append(responseCount)
        writer.append(featureCount)
        writer.append(unitSize)
        total.write(to: &writer)
        pending.write(to: &writer)
        batchStatistics.write(to: &writer)
    }

    /// The sums `write(to:)` wrote.
    public init(reading reader: inout ExchangeReader) throws(SmoothingError) {
        let m = try reader.count(atMost: 1 << 20)
        let p = try reader.count(atMost: 1 << 30)
        let unitSize = try reader.int()
        guard unitSize == 1 || unitSize == 2 else { throw ExchangeReader.malformed("unit size \(unitSize)") }
        self.init(responseCount: m, featureCount: p, unitSize: unitSize)
        total = try RawCovarianceSums(reading: &reader)
        pending = try RawCovarianceSums(reading: &reader)
        batchStatistics = try BatchStatistics(reading: &reader)
        guard total.responseCount == m, total.featureCount == p, total.unitSize == unitSize, pending.unitSize == unitSize else {
            throw ExchangeReader.malformed("covariance sums of mixed shapes")
        }
    }
}

extension RawCovarianceSums {
    func write(to writer: inout ExchangeWriter) {
        writer.append(responseCount)
        writer.append(featureCount)
        writer.append(unitSize)
        writer.append(samples)
        for part in [sumR, sumPairs, sumPhi, sumRPhi, sumPairsPhi, unitPairs, unitPairsPhi] {
            writer.append(contentsOf: part)
        }
    }

    init(reading reader: inout ExchangeReader) throws(SmoothingError) {
        let m = try reader.count(atMost: 1 << 20)
        let p = try reader.count(atMost: 1 << 30)
        let unitSize = try reader.int()
        guard unitSize == 1 || unitSize == 2 else { throw ExchangeReader.malformed("unit size \(unitSize)") }
        let samples = try reader.count()
        let pairs = m * (m + 1) / 2
        let (pairFeatures, overflow) = pairs.multipliedReportingOverflow(by: p)
        guard !overflow else { throw ExchangeReader.malformed("covariance sums too large") }
        let sumR = try reader.doubles(count: m)
        let sumPairs = try reader.doubles(count: pairs)
        let sumPhi = try reader.doubles(count: p)
        let sumRPhi = try reader.doubles(count: m * p)
        let sumPairsPhi = try reader.doubles(count: pairFeatures)
        let unitPairs = try reader.doubles(count: unitSize == 2 ? pairs : 0)
        let unitPairsPhi = try reader.doubles(count: unitSize == 2 ? pairFeatures : 0)
        self.init(responseCount: m, featureCount: p, unitSize: unitSize)
        self.samples = samples
        (self.sumR, self.sumPairs, self.sumPhi, self.sumRPhi, self.sumPairsPhi) = (sumR, sumPairs, sumPhi, sumRPhi, sumPairsPhi)
        (self.unitPairs, self.unitPairsPhi) = (unitPairs, unitPairsPhi)
    }
}

extension BatchStatistics {
    func write(to writer: inout ExchangeWriter) {
        writer.append(pairCount)
        writer.append(batches)
        writer.append(contentsOf: [weight])
        writer.append(counted: sumCovariance)
        writer.append(counted: sumCovariance2)
        writer.append(counted: sumGradient)
        writer.append(counted: sumGradient2)
    }

    init(reading reader: inout ExchangeReader) throws(SmoothingError) {
        let pairCount = try reader.count(atMost: 1 << 40)
        let batches = try reader.count()
        let weight = try reader.double()
        let sumCovariance = try reader.countedDoubles()
        let sumCovariance2 = try reader.countedDoubles()
        let sumGradient = try reader.countedDoubles()
        let sumGradient2 = try reader.countedDoubles()
        guard sumCovariance.count == pairCount, sumCovariance2.count == pairCount, sumGradient2.count == sumGradient.count,
            pairCount == 0 ? sumGradient.isEmpty : sumGradient.count % pairCount == 0
        else { throw ExchangeReader.malformed("batch statistics of mixed shapes") }
        self.init(pairCount: pairCount, featureCount: 0)
        self.batches = batches
        self.weight = weight
        (self.sumCovariance, self.sumCovariance2, self.sumGradient, self.sumGradient2) = (sumCovariance, sumCovariance2, sumGradient, sumGradient2)
    }
}
