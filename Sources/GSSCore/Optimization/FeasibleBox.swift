/// A box lower ≤ x ≤ upper, coordinate by coordinate: the feasible set of a projected descent,
/// which clamps every iterate back into it (the Euclidean projection onto a box).
public struct FeasibleBox: Sendable, Equatable {
    /// The lower bound of every coordinate.
    public let lower: [Double]
    /// The upper bound of every coordinate.
    public let upper: [Double]

    /// - Throws: `SmoothingError.invalidConfiguration` unless both bounds have the same number of
    ///   finite entries (at least one) and lower ≤ upper in every coordinate.
    public init(lower: [Double], upper: [Double]) throws(SmoothingError) {
        guard !lower.isEmpty, lower.count == upper.count else {
            throw .invalidConfiguration("a feasible box needs as many lower as upper bounds (at least one), got \(lower.count) and \(upper.count)")
        }
        for j in lower.indices where !(lower[j].isFinite && upper[j].isFinite && lower[j] <= upper[j]) {
            throw .invalidConfiguration("the feasible box's coordinate \(j) needs finite bounds with lower ≤ upper, got [\(lower[j]), \(upper[j])]")
        }
        self.lower = lower
        self.upper = upper
    }

    /// n, the number of coordinates.
    public var dimension: Int { lower.count }

    public func contains(_ x: [Double]) -> Bool {
        x.count == dimension && x.indices.allSatisfy { lower[$0] <= x[$0] && x[$0] <= upper[$0] }
    }

    /// The nearest point of the box: every coordinate clamped into its bounds.
    public func project(_ x: [Double]) -> [Double] {
        precondition(x.count == dimension, "the box has \(dimension) coordinates, the point \(x.count)")
        return x.indices.map { min(upper[$0], max(lower[$0], x[$0])) }
    }
}
