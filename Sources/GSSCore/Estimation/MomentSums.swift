import CBLAS

/// Streaming sums for score-function estimates of the form E[(R − c) Φᵀ], where each sample i
/// brings a response vector R_i (q numbers, e.g. f's outputs) and a feature vector Φ_i (p numbers,
/// e.g. the scores ∇ −log μ(ε_i)), and c is a baseline (the covariate).
///
/// Memory is O(q·p), independent of the number of samples. The baseline may be a constant or
/// the leave-one-out mean, because Σ(R_i − R̄)Φ_iᵀ = ΣR_iΦ_iᵀ − R̄ ΣΦ_iᵀ needs only running sums.
///
/// Standard errors treat each *unit* as independent: a single sample, or an antithetic pair
/// (unitSize 2, samples 2j and 2j+1). Per unit u with U_u = Σ_{i∈u} R_iΦ_iᵀ and V_u = Σ_{i∈u} Φ_i,
/// the contribution is h_u = U_u − c V_u, so Σh_u² = ΣU_u² − 2c ΣU_uV_u + c² ΣV_u², entry by entry.
public struct MomentSums: Sendable, Equatable {
    public let responseCount: Int
    public let featureCount: Int
    public let unitSize: Int
    public private(set) var samples = 0

    /// Per response a (row a, q rows), in the layout the matrix products write into:
    /// `first`: [ΣRΦᵀ (p) | ΣU·V (p) | ΣR (1)], `second`: [ΣU² (p) | Σ(unit sums of R)² (1)].
    private var first: [Double]
    private var second: [Double]
    /// ΣΦ (p) and Σ(unit sums of Φ)² (p).
    public private(set) var sumPhi: [Double]
    public private(set) var sumUnitPhi2: [Double]

    private var firstWidth: Int { 2 * featureCount + 1 }
    private var secondWidth: Int { featureCount + 1 }

    public init(responseCount: Int, featureCount: Int, unitSize: Int) {
        precondition(unitSize == 1 || unitSize == 2, "units are single samples or pairs")
        self.responseCount = responseCount
        self.featureCount = featureCount
        self.unitSize = unitSize
        first = Array(repeating: 0, count: responseCount * (2 * featureCount + 1))
        second = Array(repeating: 0, count: responseCount * (featureCount + 1))
        sumPhi = Array(repeating: 0, count: featureCount)
        sumUnitPhi2 = sumPhi
    }

    public var units: Int { samples / unitSize }

    /// ΣR (q).
    public var sumR: [Double] { column(of: first, width: firstWidth, at: 2 * featureCount) }
    /// Σ(unit sums of R)² (q).
    public var sumUnitR2: [Double] { column(of: second, width: secondWidth, at: featureCount) }
    /// ΣRΦᵀ, q × p row-major (response-major).
    public var sumRPhi: [Double] { block(of: first, width: firstWidth, from: 0) }
    /// ΣU², q × p.
    public var sumU2: [Double] { block(of: second, width: secondWidth, from: 0) }
    /// ΣU·V, q × p.
    public var sumUV: [Double] { block(of: first, width: firstWidth, from: featureCount) }

    private func column(of matrix: [Double], width: Int, at index: Int) -> [Double] {
        (0..<responseCount).map { matrix[$0 * width + index] }
    }

    private func block(of matrix: [Double], width: Int, from offset: Int) -> [Double] {
        (0..<(responseCount * featureCount)).map { matrix[($0 / featureCount) * width + offset + $0 % featureCount] }
    }

    /// Adds `rows` samples: responses rows × q and features rows × p, both row-major.
    /// `rows` must be a multiple of unitSize, and units must not straddle calls.
    public mutating func add(responses: UnsafePointer<Double>, features: UnsafePointer<Double>, rows: Int) {
        add(responses: responses, features: features, rows: rows, workspace: MomentWorkspace())
    }

    /// Adds `rows` samples as `add(responses:features:rows:)` does, with scratch memory reused
    /// from `workspace` (one per worker: a workspace must not be shared between threads).
    public mutating func add(
        responses: UnsafePointer<Double>, features: UnsafePointer<Double>, rows: Int, workspace: MomentWorkspace
    ) {
        precondition(rows % unitSize == 0, "a batch must hold whole units")
        guard rows > 0 else { return }
        if unitSize == 1 {
            addSingles(responses: responses, features: features, rows: rows, workspace: workspace)
        } else {
            addPairs(responses: responses, features: features, rows: rows)
        }
        samples += rows
    }

    /// Single samples as two matrix products over the batch (OpenBLAS dgemm):
    /// first += Rᵀ[Φ | Φ∘Φ | 1] and second += (R∘R)ᵀ[Φ∘Φ | 1], since U = RΦᵀ entry by entry and,
    /// for single samples, V = Φ. Responses that are zero in every row of the batch (most pixels of
    /// an image, most cells of a path mask, once the first row is subtracted) add nothing, so the
    /// products run over the other responses only when that saves at least a quarter of the work.
    private mutating func addSingles(
        responses: UnsafePointer<Double>, features: UnsafePointer<Double>, rows: Int, workspace: MomentWorkspace
    ) {
        _ = blasRunsOnCallersThread
        let q = responseCount
        let p = featureCount
        let width = 2 * p + 1
        workspace.reserve(rows: rows, responses: q, features: p)
        let design = workspace.design.base
        for row in 0..<rows {
            let phi = features + row * p
            let out = design + row * width
            for b in 0..<p {
                let value = phi[b]
                out[b] = value
                out[p + b] = value * value
            }
            out[2 * p] = 1
        }
        sumPhi.withUnsafeMutableBufferPointer { sumPhi in
        sumUnitPhi2.withUnsafeMutableBufferPointer { sumUnitPhi2 in
            for row in 0..<rows {
                let out = design + row * width
                for b in 0..<p {
                    sumPhi[b] += out[b]
                    sumUnitPhi2[b] += out[p + b]
                }
            }
        }}

        let active = workspace.activeResponses(responses, rows: rows, count: q)
        let compact = active.count * 4 <= q * 3
        let columns = compact ? active.count : q
        guard columns > 0 else { return }
        // R (or its active columns) and R∘R, rows × columns.
        let selected = compact ? UnsafePointer(workspace.compacted) : responses
        let squares = workspace.squares
        if compact {
            let target = workspace.compacted
            for row in 0..<rows {
                let source = responses + row * q
                let destination = target + row * columns
                for (k, a) in active.enumerated() { destination[k] = source[a] }
            }
        }
        for k in 0..<(rows * columns) { squares[k] = selected[k] * selected[k] }

        let (columns32, rows32, width32, secondWidth32) = (Int32(columns), Int32(rows), Int32(width), Int32(p + 1))
        func products(into first: UnsafeMutablePointer<Double>, _ second: UnsafeMutablePointer<Double>, beta: Double) {
            cblas_dgemm(
                CblasRowMajor, CblasTrans, CblasNoTrans, columns32, width32, rows32, 1, selected, columns32, design,
                width32, beta, first, width32)
            cblas_dgemm(
                CblasRowMajor, CblasTrans, CblasNoTrans, columns32, secondWidth32, rows32, 1, squares, columns32,
                design + p, width32, beta, second, secondWidth32)
        }
        if !compact {
            first.withUnsafeMutableBufferPointer { first in
                second.withUnsafeMutableBufferPointer { second in
                    products(into: first.baseAddress!, second.baseAddress!, beta: 1)
                }
            }
            return
        }
        let firstProducts = workspace.products
        let secondProducts = firstProducts + columns * width
        products(into: firstProducts, secondProducts, beta: 0)
        first.withUnsafeMutableBufferPointer { first in
            second.withUnsafeMutableBufferPointer { second in
                for (k, a) in active.enumerated() {
                    for b in 0..<width { first[a * width + b] += firstProducts[k * width + b] }
                    for b in 0...p { second[a * (p + 1) + b] += secondProducts[k * (p + 1) + b] }
                }
            }
        }
    }

    /// Antithetic pairs, unit by unit: U_u = r₀φ₀ᵀ + r₁φ₁ᵀ does not split into per-row products.
    private mutating func addPairs(responses: UnsafePointer<Double>, features: UnsafePointer<Double>, rows: Int) {
        let q = responseCount
        let p = featureCount
        let (firstWidth, secondWidth) = (self.firstWidth, self.secondWidth)
        first.withUnsafeMutableBufferPointer { first in
        second.withUnsafeMutableBufferPointer { second in
        sumPhi.withUnsafeMutableBufferPointer { sumPhi in
        sumUnitPhi2.withUnsafeMutableBufferPointer { sumUnitPhi2 in
            for row in stride(from: 0, to: rows, by: 2) {
                let r0 = responses + row * q
                let f0 = features + row * p
                let r1 = r0 + q
                let f1 = f0 + p
                for b in 0..<p {
                    let v = f0[b] + f1[b]
                    sumPhi[b] += v
                    sumUnitPhi2[b] += v * v
                }
                for a in 0..<q {
                    // A pair of zero responses adds exact zeros (features are finite): skipping it
                    // is bit-identical and saves most of the work for sparse 0/1 outputs.
                    if r0[a] == 0 && r1[a] == 0 { continue }
                    let w = r0[a] + r1[a]
                    let sums = first.baseAddress! + a * firstWidth
                    let squares = second.baseAddress! + a * secondWidth
                    sums[2 * p] += w
                    squares[p] += w * w
                    for b in 0..<p {
                        let u = r0[a] * f0[b] + r1[a] * f1[b]
                        sums[b] += u
                        sums[p + b] += u * (f0[b] + f1[b])
                        squares[b] += u * u
                    }
                }
            }
        }}}}
    }

    /// Adds another partial sum (e.g. one chunk's), element by element.
    public mutating func merge(_ other: MomentSums) {
        precondition(
            other.responseCount == responseCount && other.featureCount == featureCount
                && other.unitSize == unitSize, "merging sums of different shapes")
        samples += other.samples
        Self.addInPlace(&first, other.first)
        Self.addInPlace(&second, other.second)
        Self.addInPlace(&sumPhi, other.sumPhi)
        Self.addInPlace(&sumUnitPhi2, other.sumUnitPhi2)
    }

    private static func addInPlace(_ target: inout [Double], _ source: [Double]) {
        target.withUnsafeMutableBufferPointer { t in
            source.withUnsafeBufferPointer { s in
                for i in 0..<t.count { t[i] += s[i] }
            }
        }
    }

    /// The baseline c of the covariate, in the same (possibly shifted) units as R.
    public enum Baseline: Sendable {
        /// A constant c per response (0 for no covariate, f(x) for the fx covariate).
        case constant([Double])
        /// The leave-one-out mean: c_i = mean of the other s − 1 samples.
        case leaveOneOut
    }

    /// The mean of R with standard errors, and E[(R − c)Φᵀ] with per-entry standard errors.
    public func estimate(baseline: Baseline) -> MomentEstimate {
        let q = responseCount
        let p = featureCount
        let s = Double(samples)
        let n = Double(units)
        let (sumR, sumUnitR2, sumRPhi, sumU2, sumUV) = (self.sumR, self.sumUnitR2, self.sumRPhi, self.sumU2, self.sumUV)
        var mean = [Double](repeating: 0, count: q)
        var meanStderr = [Double](repeating: .nan, count: q)
        for a in 0..<q {
            mean[a] = sumR[a] / s
            if units >= 2 {
                let variance = (sumUnitR2[a] - sumR[a] * sumR[a] / n) / (n - 1)
                meanStderr[a] = (n * Swift.max(variance, 0)).squareRoot() / s
            }
        }
        let c: [Double]
        let denominator: Double
        switch baseline {
        case .constant(let values):
            precondition(values.count == q, "one baseline per response")
            c = values
            denominator = s
        case .leaveOneOut:
            // Σ(R_i − (ΣR − R_i)/(s−1))Φ_i = s/(s−1) · Σ(R_i − R̄)Φ_i, so divide by s − 1.
            c = mean
            denominator = s - 1
        }
        var gradient = [Double](repeating: 0, count: q * p)
        var gradientStderr = [Double](repeating: .nan, count: q * p)
        for a in 0..<q {
            let ca = c[a]
            for b in 0..<p {
                let index = a * p + b
                let sumH = sumRPhi[index] - ca * sumPhi[b]
                gradient[index] = sumH / denominator
                if units >= 2 {
                    let sumH2 = sumU2[index] - 2 * ca * sumUV[index] + ca * ca * sumUnitPhi2[b]
                    let variance = (sumH2 - sumH * sumH / n) / (n - 1)
                    gradientStderr[index] = (n * Swift.max(variance, 0)).squareRoot() / denominator
                }
            }
        }
        return MomentEstimate(
            responseCount: q, featureCount: p, mean: mean, meanStderr: meanStderr,
            gradient: gradient, gradientStderr: gradientStderr)
    }
}

/// What MomentSums.estimate returns. Standard errors are NaN when fewer than 2 units were seen.
public struct MomentEstimate: Sendable, Equatable {
    public let responseCount: Int
    public let featureCount: Int
    public let mean: [Double]
    public let meanStderr: [Double]
    /// q × p, row-major.
    public let gradient: [Double]
    public let gradientStderr: [Double]
}

/// Our workers already use every core: OpenBLAS must compute each product on the calling thread,
/// and its idle pool (started when the library loads) must not spin on our cores. Once, before
/// the first product.
let blasRunsOnCallersThread: Void = {
    openblas_set_num_threads(1)
    _ = blas_thread_shutdown_()
}()

/// Scratch memory for `MomentSums.add`, grown on demand and reused batch after batch by one
/// worker (never shared between threads).
public final class MomentWorkspace {
    /// rows × (2p + 1): [Φ | Φ∘Φ | 1].
    private(set) var design = Buffer<Double>()
    /// rows × (active) responses: R∘R.
    private(set) var squaresBuffer = Buffer<Double>()
    /// rows × active responses: the nonzero columns of R.
    private(set) var compactedBuffer = Buffer<Double>()
    /// Products over the active responses before they are added into the sums.
    private(set) var productsBuffer = Buffer<Double>()
    private var activeFlags = Buffer<UInt8>()
    private var activeIndices = Buffer<Int>()

    public init() {}

    var squares: UnsafeMutablePointer<Double> { squaresBuffer.base }
    var compacted: UnsafeMutablePointer<Double> { compactedBuffer.base }
    var products: UnsafeMutablePointer<Double> { productsBuffer.base }

    func reserve(rows: Int, responses q: Int, features p: Int) {
        design.reserve(rows * (2 * p + 1))
        squaresBuffer.reserve(rows * q)
        compactedBuffer.reserve(rows * q)
        productsBuffer.reserve(q * (3 * p + 2))
        activeFlags.reserve(q)
        activeIndices.reserve(q)
    }

    /// The responses (columns of a rows × q matrix) that are nonzero in at least one row.
    func activeResponses(_ responses: UnsafePointer<Double>, rows: Int, count q: Int) -> UnsafeBufferPointer<Int> {
        let flags = activeFlags.base
        flags.update(repeating: 0, count: q)
        for row in 0..<rows {
            let values = responses + row * q
            for a in 0..<q { flags[a] |= values[a] != 0 ? 1 : 0 }
        }
        var count = 0
        for a in 0..<q where flags[a] != 0 {
            activeIndices.base[count] = a
            count += 1
        }
        return UnsafeBufferPointer(start: activeIndices.base, count: count)
    }

    /// A growable manually managed array: reused chunk after chunk without reallocation.
    struct Buffer<Element> {
        private(set) var base = UnsafeMutablePointer<Element>.allocate(capacity: 1)
        private var capacity = 1

        mutating func reserve(_ count: Int) {
            guard count > capacity else { return }
            base.deallocate()
            base = .allocate(capacity: count)
            capacity = count
        }

        func deallocate() { base.deallocate() }
    }

    deinit {
        design.deallocate()
        squaresBuffer.deallocate()
        compactedBuffer.deallocate()
        productsBuffer.deallocate()
        activeFlags.deallocate()
        activeIndices.deallocate()
    }
}
