/// An invertible n × n scale matrix L for smoothing with x + Lε (the paper's Theorem 7), with the
/// inverse transpose L^{−T} that every score feature needs.
///
/// Invertibility is decided numerically: L is factored by LU with partial pivoting, inverted,
/// and refused when a pivot is exactly zero or when its 1-norm condition number
/// κ₁(L) = ‖L‖₁ ‖L^{−1}‖₁ exceeds 1 / (n · ε) (ε the double-precision machine epsilon),
/// the point at which L^{−1} would carry no correct digit.
public struct ScaleMatrix: Sendable, Equatable {
    /// n, the number of rows and columns.
    public let dimension: Int
    /// L, row-major: entry [j·n + k] = L_jk.
    public let entries: [Double]
    /// L^{−T} = (L^{−1})ᵀ, row-major: entry [j·n + k] = (L^{−1})_kj.
    public let inverseTranspose: [Double]
    /// κ₁(L) = ‖L‖₁ · ‖L^{−1}‖₁ (at least 1).
    public let conditionNumber: Double

    /// The largest condition number accepted for an n × n matrix: 1 / (n · ε).
    public static func conditionLimit(dimension n: Int) -> Double {
        1 / (Double(max(n, 1)) * Double.ulpOfOne)
    }

    /// Validates and inverts L.
    /// - Parameters:
    ///   - dimension: n; `entries` must hold exactly n·n finite numbers.
    ///   - entries: L in row-major order.
    /// - Throws: `SmoothingError.invalidConfiguration` when L is not n × n, holds a non-finite
    ///   number, is singular, or is numerically singular (condition number above the limit).
    public init(dimension n: Int, entries: [Double]) throws(SmoothingError) {
        guard n >= 1 else { throw .invalidConfiguration("a scale matrix needs at least one row") }
        guard entries.count == n * n else {
            throw .invalidConfiguration(
                "--scale-matrix must be \(n)×\(n) (\(n * n) numbers) for this black box, got \(entries.count) numbers")
        }
        if let bad = entries.firstIndex(where: { !$0.isFinite }) {
            throw .invalidConfiguration("--scale-matrix must hold finite numbers, but entry [\(bad / n)][\(bad % n)] is \(entries[bad])")
        }
        guard let inverse = Self.invert(entries, dimension: n) else {
            throw .invalidConfiguration("--scale-matrix is singular (LU factorisation found a zero pivot); L must be invertible")
        }
        let condition = Self.oneNorm(entries, n) * Self.oneNorm(inverse, n)
        let limit = Self.conditionLimit(dimension: n)
        guard condition.isFinite && condition <= limit else {
            throw .invalidConfiguration(
                "--scale-matrix is numerically singular: its condition number \(condition) exceeds 1/(n·ε) = \(limit); L must be invertible")
        }
        // Every score is multiplied by L⁻¹ and the standard errors square the products with the
        // outputs: beyond this they overflow, and every Jacobian entry would come out NaN.
        let largestInverse = inverse.reduce(0.0) { max($0, abs($1)) }
        guard largestInverse <= Self.inverseLimit else {
            throw .invalidConfiguration(
                "--scale-matrix is too small to estimate with: its inverse has an entry of \(largestInverse), and beyond \(Self.inverseLimit) the scores it multiplies overflow a double in the standard errors; rescale the inputs instead")
        }
        dimension = n
        self.entries = entries
        var transposed = [Double](repeating: 0, count: n * n)
        for j in 0..<n {
            for k in 0..<n { transposed[j * n + k] = inverse[k * n + j] }
        }
        inverseTranspose = transposed
        conditionNumber = max(1, condition)
    }

    /// The largest entry of L⁻¹ accepted (noise scales down to about 1e-100).
    static let inverseLimit = 1e100

    /// The diagonal matrix diag(γ).
    public static func diagonal(_ gamma: [Double]) throws(SmoothingError) -> ScaleMatrix {
        let n = gamma.count
        var entries = [Double](repeating: 0, count: n * n)
        for j in 0..<n { entries[j * n + j] = gamma[j] }
        return try ScaleMatrix(dimension: n, entries: entries)
    }

    /// L v for a vector v of n numbers.
    public func apply(_ v: [Double]) -> [Double] {
        (0..<dimension).map { j in (0..<dimension).reduce(0.0) { $0 + entries[j * dimension + $1] * v[$1] } }
    }

    /// max over columns of the column's absolute sum.
    private static func oneNorm(_ a: [Double], _ n: Int) -> Double {
        (0..<n).map { k in (0..<n).reduce(0.0) { $0 + abs(a[$1 * n + k]) } }.max() ?? 0
    }

    /// L^{−1} by LU with partial pivoting (row interchanges), or nil at an exactly zero pivot.
    private static func invert(_ a: [Double], dimension n: Int) -> [Double]? {
        var lu = a
        var permutation = Array(0..<n)
        for column in 0..<n {
            var pivotRow = column
            for row in column + 1..<n where abs(lu[row * n + column]) > abs(lu[pivotRow * n + column]) {
                pivotRow = row
            }
            let pivot = lu[pivotRow * n + column]
            guard pivot != 0 && pivot.isFinite else { return nil }
            if pivotRow != column {
                for k in 0..<n { lu.swapAt(pivotRow * n + k, column * n + k) }
                permutation.swapAt(pivotRow, column)
            }
            for row in column + 1..<n {
                let factor = lu[row * n + column] / pivot
                lu[row * n + column] = factor
                if factor != 0 {
                    for k in column + 1..<n { lu[row * n + k] -= factor * lu[column * n + k] }
                }
            }
        }
        // Solve L U X = P I column by column.
        var inverse = [Double](repeating: 0, count: n * n)
        var y = [Double](repeating: 0, count: n)
        for target in 0..<n {
            for row in 0..<n {
                var sum = permutation[row] == target ? 1.0 : 0.0
                for k in 0..<row { sum -= lu[row * n + k] * y[k] }
                y[row] = sum
            }
            for row in stride(from: n - 1, through: 0, by: -1) {
                var sum = y[row]
                for k in row + 1..<n { sum -= lu[row * n + k] * inverse[k * n + target] }
                inverse[row * n + target] = sum / lu[row * n + row]
            }
        }
        guard inverse.allSatisfy(\.isFinite) else { return nil }
        return inverse
    }
}
