import CBLAS
import CGSSVectorMath

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
        var block: [Double] = []
        block.reserveCapacity(responseCount * featureCount)
        for row in 0..<responseCount {
            block += matrix[(row * width + offset)..<(row * width + offset + featureCount)]
        }
        return block
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
    /// does, in one pass that also squares them for the sums and checks that they are finite;
    /// `responses` is not changed. With `keepingShifted`, the shifted responses stay in
    /// `workspace.shiftedResponses` (without, the fastest path never stores them). Returns false,
    /// adding nothing, when a shifted response is not finite (a response that is not, or one too
    /// far from its shift).
    public mutating func add(
        responses: UnsafePointer<Double>, shiftedBy shift: UnsafePointer<Double>,
        features: UnsafePointer<Double>, rows: Int, workspace: MomentWorkspace, keepingShifted: Bool = true
    ) -> Bool {
        precondition(rows % unitSize == 0, "a batch must hold whole units")
        guard rows > 0 else { return true }
        workspace.reserve(rows: rows, responses: responseCount, features: featureCount)
        // Single samples: the zeros of R decide the path (the survey's answer stays valid below).
        let shape = unitSize == 1 ? workspace.survey(responses, shift: shift, rows: rows, count: responseCount) : nil
        if let shape, Self.fusedKernelTakes(features: featureCount) {
            // The fused kernel shifts and checks the responses it reads: all of them, or the columns
            // that are not zero throughout (the others equal their finite shift).
            switch shape {
            case .dense where responseCount >= Int(GSS_MOMENT_PRODUCTS_MIN_RESPONSES) || !keepingShifted:
                return addShiftedFusedProducts(
                    responses: responses, shift: shift, columns: nil, features: features, rows: rows,
                    workspace: workspace, keepingShifted: keepingShifted)
            case .someColumns(let active) where !keepingShifted:
                return addShiftedFusedProducts(
                    responses: responses, shift: shift, columns: active, features: features, rows: rows,
                    workspace: workspace, keepingShifted: false)
            default:
                break
            }
        }
        guard workspace.shiftSquareAndCheck(responses, rows: rows, count: responseCount, shift: shift) else { return false }
        addUnits(
            responses: workspace.shiftedResponses, features: features, rows: rows, workspace: workspace, squaresReady: true,
            shape: shape)
        return true
    }

    /// Whether `gss_moment_products` takes this many features (few enough for its sums to stay in
    /// registers); fewer responses than its vector width are padded.
    static func fusedKernelTakes(features p: Int) -> Bool {
        p >= 1 && p <= Int(GSS_MOMENT_PRODUCTS_MAX_FEATURES)
    }

    /// Single samples in one fused pass (`gss_moment_products`): shift, check and both products
    /// over all responses (`columns` nil) or the given ones, into scratch or, for fresh sums over
    /// all responses, in place; a non-finite response adds nothing either way. `keepingShifted`
    /// needs all responses, at least the kernel's width of them.
    private mutating func addShiftedFusedProducts(
        responses: UnsafePointer<Double>, shift: UnsafePointer<Double>, columns active: UnsafeBufferPointer<Int>?,
        features: UnsafePointer<Double>, rows: Int, workspace: MomentWorkspace, keepingShifted: Bool
    ) -> Bool {
        let (q, p) = (responseCount, featureCount)
        let (savedPhi, savedPhi2) = (sumPhi, sumUnitPhi2)
        addDesign(features: features, rows: rows, workspace: workspace)
        let shifted = keepingShifted ? workspace.shiftedResponsesForWriting : nil
        // Fresh sums over all responses (a chunk's, usually) take the products in place: they are
        // all zeros, so writing equals adding, and a refusal puts the zeros back.
        let inPlace = samples == 0 && active == nil && q >= Int(GSS_MOMENT_PRODUCTS_MIN_RESPONSES)
        let products = first.withUnsafeMutableBufferPointer { first in
            second.withUnsafeMutableBufferPointer { second in
                Self.runFusedKernel(
                    responses: responses, shift: shift, columns: active, design: workspace.design.base, rows: rows,
                    q: q, p: p, workspace: workspace, shifted: shifted,
                    into: inPlace ? (first.baseAddress!, second.baseAddress!) : nil)
            }
        }
        guard let products else {
            (sumPhi, sumUnitPhi2) = (savedPhi, savedPhi2)  // nothing added
            if inPlace {
                first.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
                second.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            }
            return false
        }
        if !inPlace {
            first.withUnsafeMutableBufferPointer { first in
                second.withUnsafeMutableBufferPointer { second in
                    Self.accumulateProducts(
                        products.first, products.second, columns: active, count: active?.count ?? q, p: p,
                        into: first.baseAddress!, second.baseAddress!)
                }
            }
        }
        samples += rows
        return true
    }

    /// `squaresReady`: the workspace's squares already hold these responses squared; `shape`: the
    /// workspace's survey of these responses, when already made.
    private mutating func addUnits(
        responses: UnsafePointer<Double>, features: UnsafePointer<Double>, rows: Int, workspace: MomentWorkspace,
        squaresReady: Bool, shape: MomentWorkspace.Shape? = nil
    ) {
        if unitSize == 1 {
            addSingles(
                responses: responses, features: features, rows: rows, workspace: workspace, squaresReady: squaresReady,
                shape: shape)
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
        squaresReady: Bool, shape: MomentWorkspace.Shape?
    ) {
        let q = responseCount
        let p = featureCount
        let design = workspace.design.base
        addDesign(features: features, rows: rows, workspace: workspace)
        first.withUnsafeMutableBufferPointer { first in
            second.withUnsafeMutableBufferPointer { second in
                switch shape ?? workspace.survey(responses, shift: nil, rows: rows, count: q) {
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

    /// The design rows [Φ | Φ∘Φ | 1] (rows × (2p + 1)) of single samples' features into the
    /// workspace, adding ΣΦ and ΣΦ∘Φ into the sums (for single samples, V = Φ).
    private mutating func addDesign(features: UnsafePointer<Double>, rows: Int, workspace: MomentWorkspace) {
        sumPhi.withUnsafeMutableBufferPointer { sumPhi in
            sumUnitPhi2.withUnsafeMutableBufferPointer { sumUnitPhi2 in
                gss_moment_design(
                    features, rows, featureCount, workspace.design.base, sumPhi.baseAddress!, sumUnitPhi2.baseAddress!)
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

    /// The two products over all responses (`columns` nil) or only the given ones: by the fused
    /// kernel for at most 8 features (each entry an in-order sum over the rows, whatever p and q,
    /// so that the Jacobian's bits do not change when scale features are added), else by
    /// OpenBLAS dgemm on the calling thread.
    private static func addProducts(
        responses: UnsafePointer<Double>, columns active: UnsafeBufferPointer<Int>?, design: UnsafePointer<Double>,
        rows: Int, q: Int, p: Int, workspace: MomentWorkspace,
        first: UnsafeMutablePointer<Double>, second: UnsafeMutablePointer<Double>, squaresReady: Bool = false
    ) {
        let columns = active?.count ?? q
        guard columns > 0 else { return }
        if fusedKernelTakes(features: p) {
            addFusedProducts(
                responses: responses, columns: active, design: design, rows: rows, q: q, p: p, workspace: workspace,
                first: first, second: second)
            return
        }
        let width = 2 * p + 1
        // R (or its active columns) and R∘R, rows × columns.
        var selected = responses
        if let active {
            workspace.reserveCompaction(rows: rows, columns: columns, features: p)
            compact(responses, columns: active, rows: rows, q: q, lanes: columns, into: workspace.compacted)
            selected = UnsafePointer(workspace.compacted)
        }
        let squares = workspace.squares
        if !squaresReady {
            for k in 0..<(rows * columns) { squares[k] = selected[k] * selected[k] }
        }
        let firstOut = active == nil ? first : workspace.products
        let secondOut = active == nil ? second : workspace.products + columns * width
        let beta: Double = active == nil ? 1 : 0
        let (columns32, rows32, width32, secondWidth32) = (Int32(columns), Int32(rows), Int32(width), Int32(p + 1))
        guard gss_blas_load() != 0 else { fatalError(String(cString: gss_blas_error())) }
        gss_blas_dgemm_transposed_a(
            columns32, width32, rows32, 1, selected, columns32, design, width32, beta, firstOut, width32)
        gss_blas_dgemm_transposed_a(
            columns32, secondWidth32, rows32, 1, squares, columns32, design + p, width32, beta, secondOut, secondWidth32)
        guard active != nil else { return }
        accumulateProducts(firstOut, secondOut, columns: active, count: columns, p: p, into: first, second)
    }

    /// `addProducts` by `gss_moment_products` (with a zero shift: the responses here are shifted).
    private static func addFusedProducts(
        responses: UnsafePointer<Double>, columns active: UnsafeBufferPointer<Int>?, design: UnsafePointer<Double>,
        rows: Int, q: Int, p: Int, workspace: MomentWorkspace,
        first: UnsafeMutablePointer<Double>, second: UnsafeMutablePointer<Double>
    ) {
        // Finite or not, the products are added: these sums check nothing (see `add(responses:features:…)`).
        let products = runFusedKernel(
            responses: responses, shift: workspace.zeros, columns: active, design: design, rows: rows, q: q, p: p,
            workspace: workspace, shifted: nil, into: nil, evenIfNotFinite: true)!
        accumulateProducts(
            products.first, products.second, columns: active, count: active?.count ?? q, p: p, into: first, second)
    }

    /// `gss_moment_products` over all responses (`columns` nil) or the given ones, which are
    /// compacted with their shift first; fewer than the kernel's vector width are padded with zero
    /// columns. The products go to `destination` (all responses, at least the kernel's width of
    /// them; also needed for `shifted`) or to the workspace's scratch. Returns where they went, or
    /// nil when a shifted response is not finite (unless `evenIfNotFinite`).
    private static func runFusedKernel(
        responses: UnsafePointer<Double>, shift: UnsafePointer<Double>, columns active: UnsafeBufferPointer<Int>?,
        design: UnsafePointer<Double>, rows: Int, q: Int, p: Int, workspace: MomentWorkspace,
        shifted: UnsafeMutablePointer<Double>?,
        into destination: (first: UnsafeMutablePointer<Double>, second: UnsafeMutablePointer<Double>)?,
        evenIfNotFinite: Bool = false
    ) -> (first: UnsafeMutablePointer<Double>, second: UnsafeMutablePointer<Double>)? {
        let lanes = max(active?.count ?? q, Int(GSS_MOMENT_PRODUCTS_MIN_RESPONSES))
        var (selected, selectedShift) = (responses, shift)
        if active != nil || lanes != q {
            precondition(shifted == nil && destination == nil, "only all responses, read in place, go straight out")
            workspace.reserveCompaction(rows: rows, columns: lanes, features: p)
            compact(responses, columns: active, rows: rows, q: q, lanes: lanes, into: workspace.compacted)
            compact(shift, columns: active, rows: 1, q: q, lanes: lanes, into: workspace.compactedShift)
            (selected, selectedShift) = (UnsafePointer(workspace.compacted), UnsafePointer(workspace.compactedShift))
        }
        let products: (first: UnsafeMutablePointer<Double>, second: UnsafeMutablePointer<Double>)
        if let destination {
            products = destination
        } else {
            workspace.reserveProducts(responses: lanes, features: p)
            products = (workspace.products, workspace.products + lanes * (2 * p + 1))
        }
        let finite = gss_moment_products(
            selected, selectedShift, design, rows, lanes, p, shifted, products.first, products.second) != 0
        return finite || evenIfNotFinite ? products : nil
    }

    /// Row by row, the given columns of `responses` (rows × q; nil: all) into `target` (rows × lanes),
    /// the lanes past them zero.
    private static func compact(
        _ responses: UnsafePointer<Double>, columns active: UnsafeBufferPointer<Int>?, rows: Int, q: Int, lanes: Int,
        into target: UnsafeMutablePointer<Double>
    ) {
        let columns = active?.count ?? q
        for row in 0..<rows {
            let source = responses + row * q
            let destination = target + row * lanes
            if let active {
                for (k, a) in active.enumerated() { destination[k] = source[a] }
            } else {
                destination.update(from: source, count: q)
            }
            (destination + columns).update(repeating: 0, count: lanes - columns)
        }
    }

    /// Adds products over `count` responses (row k for response active[k], or k) into the sums.
    private static func accumulateProducts(
        _ firstOut: UnsafePointer<Double>, _ secondOut: UnsafePointer<Double>, columns active: UnsafeBufferPointer<Int>?,
        count: Int, p: Int, into first: UnsafeMutablePointer<Double>, _ second: UnsafeMutablePointer<Double>
    ) {
        let width = 2 * p + 1
        guard let active else {
            for k in 0..<(count * width) { first[k] += firstOut[k] }
            for k in 0..<(count * (p + 1)) { second[k] += secondOut[k] }
            return
        }
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
    /// Zeros (at least q, and at least the fused kernel's vector width): the shift of responses
    /// taken as they are.
    private var zeroBuffer = Buffer<Double>()
    var zeros: UnsafeMutablePointer<Double> { zeroBuffer.base }
    /// The shift of the compacted responses (`compacted`'s columns).
    private var compactedShiftBuffer = Buffer<Double>()
    var compactedShift: UnsafeMutablePointer<Double> { compactedShiftBuffer.base }
    private var activeIndices = Buffer<Int>()

    public init() {}

    /// The shifted responses of the last `MomentSums.add(responses:shiftedBy:…:keepingShifted: true)`
    /// that returned true, rows × q row-major; valid until the workspace is used again.
    public var shiftedResponses: UnsafePointer<Double> { UnsafePointer(shiftedBuffer.base) }
    var shiftedResponsesForWriting: UnsafeMutablePointer<Double> { shiftedBuffer.base }
    var squares: UnsafeMutablePointer<Double> { squaresBuffer.base }
    var compacted: UnsafeMutablePointer<Double> { compactedBuffer.base }
    var products: UnsafeMutablePointer<Double> { productsBuffer.base }

    func reserve(rows: Int, responses q: Int, features p: Int) {
        design.reserve(rows * (2 * p + 1))
        shiftedBuffer.reserve(rows * q)
        squaresBuffer.reserve(rows * q)
        activeFlags.reserve(q)
        let zeroCount = max(q, Int(GSS_MOMENT_PRODUCTS_MIN_RESPONSES))
        if zeroBuffer.reserve(zeroCount) { zeroBuffer.base.update(repeating: 0, count: zeroCount) }
        activeIndices.reserve(q)
    }

    /// Room for the products over only some responses (needed only when some are zero throughout).
    func reserveCompaction(rows: Int, columns: Int, features p: Int) {
        compactedBuffer.reserve(rows * columns)
        compactedShiftBuffer.reserve(columns)
        reserveProducts(responses: columns, features: p)
    }

    /// Room for both products over this many responses before they are added into the sums.
    func reserveProducts(responses q: Int, features p: Int) {
        productsBuffer.reserve(q * (3 * p + 2))
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
        gss_shift_square_check(responses, shift, rows, q, shiftedBuffer.base, squaresBuffer.base) != 0
    }

    /// Surveys the zeros of a batch's responses minus `shift` (nil: the responses themselves), 16
    /// rows at a time, stopping as soon as the batch is known to be dense (a permutation matrix is
    /// recognised within the first 16 rows). A response is zero where it equals its shift.
    func survey(_ responses: UnsafePointer<Double>, shift: UnsafePointer<Double>?, rows: Int, count q: Int) -> Shape {
        let flags = activeFlags.base
        let reference = shift ?? UnsafePointer(zeros)
        flags.update(repeating: 0, count: q)
        var nonzero = 0
        var row = 0
        while row < rows {
            let block = min(rows - row, 16)
            let active = gss_survey_rows(responses + row * q, reference, block, q, flags, &nonzero)
            row += block
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

        /// Room for `count` elements (their values undefined when it grows); true when it grew.
        @discardableResult
        mutating func reserve(_ count: Int) -> Bool {
            guard count > capacity else { return false }
            base.deallocate()
            base = .allocate(capacity: count)
            capacity = count
            return true
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
        zeroBuffer.deallocate()
        compactedShiftBuffer.deallocate()
        activeIndices.deallocate()
    }
}

extension MomentSums {
    /// Every number of the sums, shape first, bit for bit: a partial that crosses processes or
    /// goes into a journal merges exactly as the original would.
    public func write(to writer: inout ExchangeWriter) {
        writer.append(responseCount)
        writer.append(featureCount)
        writer.append(unitSize)
        writer.append(samples)
        writer.append(contentsOf: first)
        writer.append(contentsOf: second)
        writer.append(contentsOf: sumPhi)
        writer.append(contentsOf: sumUnitPhi2)
    }

    /// The sums `write(to:)` wrote.
    public init(reading reader: inout ExchangeReader) throws(SmoothingError) {
        let q = try reader.count(atMost: 1 << 30)
        let p = try reader.count(atMost: 1 << 30)
        let unitSize = try reader.int()
        guard unitSize == 1 || unitSize == 2 else { throw ExchangeReader.malformed("unit size \(unitSize)") }
        let samples = try reader.count()
        // Sizes are checked against what is left before anything that large is allocated.
        let first = try reader.doubles(count: q * (2 * p + 1))
        let second = try reader.doubles(count: q * (p + 1))
        self.init(responseCount: q, featureCount: p, unitSize: unitSize)
        self.samples = samples
        self.first = first
        self.second = second
        sumPhi = try reader.doubles(count: p)
        sumUnitPhi2 = try reader.doubles(count: p)
    }
}
