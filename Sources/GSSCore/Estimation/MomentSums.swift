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
        workspace.reserve(rows: rows, responses: responseCount, features: featureCount)
        addUnits(responses: responses, features: features, rows: rows, workspace: workspace, squaresReady: false)
    }

    /// Adds the rows of `responses` minus `shift` (q numbers) as `add(responses:features:rows:workspace:)`
    /// does. The shifted responses go to `workspace.shiftedResponses` (`responses` is not changed),
    /// in one pass that also squares them for the sums and checks that they are finite. Returns
    /// false, adding nothing, when a shifted response is not finite (a response that is not, or
    /// one too far from its shift).
    public mutating func add(
        responses: UnsafePointer<Double>, shiftedBy shift: UnsafePointer<Double>,
        features: UnsafePointer<Double>, rows: Int, workspace: MomentWorkspace
    ) -> Bool {
        precondition(rows % unitSize == 0, "a batch must hold whole units")
        guard rows > 0 else { return true }
        workspace.reserve(rows: rows, responses: responseCount, features: featureCount)
        guard workspace.shiftSquareAndCheck(responses, rows: rows, count: responseCount, shift: shift) else { return false }
        addUnits(
            responses: workspace.shiftedResponses, features: features, rows: rows, workspace: workspace, squaresReady: true)
        return true
    }

    /// `squaresReady`: the workspace's squares already hold these responses squared.
    private mutating func addUnits(
        responses: UnsafePointer<Double>, features: UnsafePointer<Double>, rows: Int, workspace: MomentWorkspace,
        squaresReady: Bool
    ) {
        if unitSize == 1 {
            addSingles(responses: responses, features: features, rows: rows, workspace: workspace, squaresReady: squaresReady)
        } else {
            addPairs(responses: responses, features: features, rows: rows)
        }
        samples += rows
    }

    /// Single samples: first += Rᵀ[Φ | Φ∘Φ | 1] and second += (R∘R)ᵀ[Φ∘Φ | 1], since U = RΦᵀ
    /// entry by entry and, for single samples, V = Φ. How depends on the zeros of R (the first
    /// output row subtracted, a path mask or an image is mostly zeros):
    /// - mostly zeros: row by row over the nonzero responses only (each adds r·[Φ | Φ∘Φ | 1]);
    /// - some responses zero in every row: OpenBLAS dgemm over the other responses;
    /// - otherwise: OpenBLAS dgemm over all of them, accumulated in place.
    private mutating func addSingles(
        responses: UnsafePointer<Double>, features: UnsafePointer<Double>, rows: Int, workspace: MomentWorkspace,
        squaresReady: Bool
    ) {
        let q = responseCount
        let p = featureCount
        let width = 2 * p + 1
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
        first.withUnsafeMutableBufferPointer { first in
            second.withUnsafeMutableBufferPointer { second in
                switch workspace.survey(responses, rows: rows, count: q) {
                case .sparse:
                    Self.addSparseRows(
                        responses: responses, design: design, rows: rows, q: q, p: p,
                        first: first.baseAddress!, second: second.baseAddress!)
                case .someColumns(let active):
                    Self.addProducts(
                        responses: responses, columns: active, design: design, rows: rows, q: q, p: p,
                        workspace: workspace, first: first.baseAddress!, second: second.baseAddress!)
                case .dense:
                    Self.addProducts(
                        responses: responses, columns: nil, design: design, rows: rows, q: q, p: p,
                        workspace: workspace, first: first.baseAddress!, second: second.baseAddress!,
                        squaresReady: squaresReady)
                }
            }
        }
    }

    /// Row by row, each nonzero response r adds r·[Φ | Φ∘Φ | 1] to its `first` row and r²·[Φ∘Φ | 1]
    /// to its `second` row (zeros add exact zeros, so skipping them changes nothing).
    private static func addSparseRows(
        responses: UnsafePointer<Double>, design: UnsafePointer<Double>, rows: Int, q: Int, p: Int,
        first: UnsafeMutablePointer<Double>, second: UnsafeMutablePointer<Double>
    ) {
        let width = 2 * p + 1
        for row in 0..<rows {
            let values = responses + row * q
            let d = design + row * width
            for a in 0..<q where values[a] != 0 {
                let r = values[a]
                let sums = first + a * width
                for b in 0..<width { sums[b] += r * d[b] }
                let r2 = r * r
                let squares = second + a * (p + 1)
                for b in 0...p { squares[b] += r2 * d[p + b] }
            }
        }
    }

    /// The two products by OpenBLAS dgemm (on the calling thread), over all responses
    /// (`columns` nil: straight into the sums) or only the given ones (compacted, then scattered).
    private static func addProducts(
        responses: UnsafePointer<Double>, columns active: UnsafeBufferPointer<Int>?, design: UnsafePointer<Double>,
        rows: Int, q: Int, p: Int, workspace: MomentWorkspace,
        first: UnsafeMutablePointer<Double>, second: UnsafeMutablePointer<Double>, squaresReady: Bool = false
    ) {
        _ = blasRunsOnCallersThread
        let width = 2 * p + 1
        let columns = active?.count ?? q
        guard columns > 0 else { return }
        // R (or its active columns) and R∘R, rows × columns.
        var selected = responses
        if let active {
            workspace.reserveCompaction(rows: rows, columns: columns, features: p)
            let target = workspace.compacted
            for row in 0..<rows {
                let source = responses + row * q
                let destination = target + row * columns
                for (k, a) in active.enumerated() { destination[k] = source[a] }
            }
            selected = UnsafePointer(target)
        }
        let squares = workspace.squares
        if !squaresReady {
            for k in 0..<(rows * columns) { squares[k] = selected[k] * selected[k] }
        }
        let firstOut = active == nil ? first : workspace.products
        let secondOut = active == nil ? second : workspace.products + columns * width
        let beta: Double = active == nil ? 1 : 0
        let (columns32, rows32, width32, secondWidth32) = (Int32(columns), Int32(rows), Int32(width), Int32(p + 1))
        cblas_dgemm(
            CblasRowMajor, CblasTrans, CblasNoTrans, columns32, width32, rows32, 1, selected, columns32, design,
            width32, beta, firstOut, width32)
        cblas_dgemm(
            CblasRowMajor, CblasTrans, CblasNoTrans, columns32, secondWidth32, rows32, 1, squares, columns32,
            design + p, width32, beta, secondOut, secondWidth32)
        guard let active else { return }
        for (k, a) in active.enumerated() {
            for b in 0..<width { first[a * width + b] += firstOut[k * width + b] }
            for b in 0...p { second[a * (p + 1) + b] += secondOut[k * (p + 1) + b] }
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
    /// rows × responses: the responses minus their shift (`MomentSums.add(responses:shiftedBy:…)`).
    private var shiftedBuffer = Buffer<Double>()
    /// rows × (active) responses: R∘R.
    private(set) var squaresBuffer = Buffer<Double>()
    /// rows × active responses: the nonzero columns of R.
    private(set) var compactedBuffer = Buffer<Double>()
    /// Products over the active responses before they are added into the sums.
    private(set) var productsBuffer = Buffer<Double>()
    private var activeFlags = Buffer<UInt8>()
    private var probeBuffer = Buffer<Double>()
    private var activeIndices = Buffer<Int>()

    public init() {}

    /// The shifted responses of the last `MomentSums.add(responses:shiftedBy:…)` that returned true,
    /// rows × q row-major; valid until the workspace is used again.
    public var shiftedResponses: UnsafePointer<Double> { UnsafePointer(shiftedBuffer.base) }
    var squares: UnsafeMutablePointer<Double> { squaresBuffer.base }
    var compacted: UnsafeMutablePointer<Double> { compactedBuffer.base }
    var products: UnsafeMutablePointer<Double> { productsBuffer.base }

    func reserve(rows: Int, responses q: Int, features p: Int) {
        design.reserve(rows * (2 * p + 1))
        shiftedBuffer.reserve(rows * q)
        squaresBuffer.reserve(rows * q)
        activeFlags.reserve(q)
        probeBuffer.reserve(q)
        activeIndices.reserve(q)
    }

    /// Room for the products over only some responses (needed only when some are zero throughout).
    func reserveCompaction(rows: Int, columns: Int, features p: Int) {
        compactedBuffer.reserve(rows * columns)
        productsBuffer.reserve(columns * (3 * p + 2))
    }

    /// How a batch's responses (a rows × q matrix) are best accumulated.
    enum Shape {
        /// At most a quarter of the entries are nonzero: visit the nonzero ones.
        case sparse
        /// At most three quarters of the responses are nonzero in some row: these.
        case someColumns(UnsafeBufferPointer<Int>)
        /// Otherwise.
        case dense
    }

    /// Writes every row of a batch's responses minus `shift` (q numbers) into `shiftedResponses`,
    /// and in the same pass their squares into `squares`; false when one is not finite.
    func shiftSquareAndCheck(
        _ responses: UnsafePointer<Double>, rows: Int, count q: Int, shift: UnsafePointer<Double>
    ) -> Bool {
        let squares = squaresBuffer.base
        let probes = probeBuffer.base  // per response, Σ y·0: 0 while finite, NaN after any NaN or ±∞
        probes.update(repeating: 0, count: q)
        for row in 0..<rows {
            let values = responses + row * q
            let shifted = shiftedBuffer.base + row * q
            let squared = squares + row * q
            for a in 0..<q {
                let value = values[a] - shift[a]
                shifted[a] = value
                squared[a] = value * value
                probes[a] += value * 0
            }
        }
        var probe = 0.0
        for a in 0..<q { probe += probes[a] }
        return probe == 0
    }

    /// Surveys the zeros of a batch's responses, 16 rows at a time, stopping as soon as the batch
    /// is known to be dense (a permutation matrix is recognised within the first 16 rows).
    func survey(_ responses: UnsafePointer<Double>, rows: Int, count q: Int) -> Shape {
        let flags = activeFlags.base
        flags.update(repeating: 0, count: q)
        var nonzero = 0
        var row = 0
        while row < rows {
            let blockEnd = min(rows, row + 16)
            while row < blockEnd {
                let values = responses + row * q
                for a in 0..<q {
                    let isNonzero: UInt8 = values[a] != 0 ? 1 : 0
                    flags[a] |= isNonzero
                    nonzero &+= Int(isNonzero)
                }
                row += 1
            }
            var active = 0
            for a in 0..<q { active &+= Int(flags[a]) }
            if 4 * active > 3 * q && 4 * nonzero > row * q { return .dense }
        }
        if 4 * nonzero <= rows * q { return .sparse }
        var count = 0
        for a in 0..<q where flags[a] != 0 {
            activeIndices.base[count] = a
            count += 1
        }
        return 4 * count > 3 * q ? .dense : .someColumns(UnsafeBufferPointer(start: activeIndices.base, count: count))
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
        shiftedBuffer.deallocate()
        squaresBuffer.deallocate()
        compactedBuffer.deallocate()
        productsBuffer.deallocate()
        activeFlags.deallocate()
        probeBuffer.deallocate()
        activeIndices.deallocate()
    }
}
