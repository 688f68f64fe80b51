/// The Cartesian grid of the paper's Figure 2 (3) and (4): (0, 1)^n cut into k^n equal cells,
/// one sample per cell, so s must equal k^n for an integer k ≥ 2.
///
/// Sample i takes the cell whose base-k digits are those of i (dimension 0 least significant).
/// Without jitter the point is the cell centre (QMC, deterministic and biased); with jitter it is
/// uniform inside the cell, independently per cell and coordinate (RQMC, unbiased).
///
/// With antithetic pairs (RQMC only) each cell c is paired with its mirror cell k − 1 − c in every
/// dimension, which is cell k^n − 1 − i when c is cell i: pair j jitters cell j (j < k^n / 2) and
/// its second sample is the exact mirror 1 − u, which lies in the mirror cell. Every cell is still
/// used exactly once, but only when k is even: for odd k the centre cell is its own mirror and the
/// k^n cells cannot all be paired, so that combination is refused.
struct CartesianGrid: Sendable {
    let count: Int
    let dimension: Int
    /// k: cells per side.
    let cellsPerSide: Int
    let jittered: Bool
    let antithetic: Bool
    let generator: Philox4x32

    init(strategy: SamplingStrategy, antithetic: Bool, count: Int, dimension: Int, generator: Philox4x32)
        throws(SmoothingError)
    {
        let jittered = strategy == .rqmcCartesian
        if antithetic && !jittered {
            throw .invalidConfiguration(
                "\(strategy.rawValue) is already symmetric (the mirror 1 − u of every cell centre is a cell centre too, "
                    + "so the grid is its own mirror image), and --antithetic would add nothing; use rqmc-cartesian --antithetic or drop --antithetic")
        }
        let root = Self.largestRoot(notAbove: count, exponent: dimension)
        let evenOnly = antithetic
        guard Self.power(root, dimension) == count && root >= 2 && !(evenOnly && root % 2 == 1) else {
            throw .invalidConfiguration(
                Self.invalidCountMessage(
                    strategy: strategy, antithetic: antithetic, count: count, dimension: dimension, root: root))
        }
        self.count = count
        self.dimension = dimension
        cellsPerSide = root
        self.jittered = jittered
        self.antithetic = antithetic
        self.generator = generator
    }

    func fill(start: Int, rows: Int, into output: UnsafeMutablePointer<Double>) {
        let k = Double(cellsPerSide)
        for row in 0..<rows {
            let sample = start + row
            let target = output + row * dimension
            // The cell jittered for this sample: the sample itself, or the first cell of its pair.
            let cell = antithetic ? sample / 2 : sample
            let mirrored = antithetic && sample % 2 == 1
            var remaining = cell
            for d in 0..<dimension {
                let digit = remaining % cellsPerSide
                remaining /= cellsPerSide
                let offset =
                    jittered
                    ? Double.openUnit(
                        bits: generator.bits(
                            stream: RandomStream.cartesianJitter.rawValue,
                            index: UInt64(cell) &* UInt64(dimension) &+ UInt64(d)).0)
                    : 0.5
                let u = ((Double(digit) + offset) / k).clampedToOpenUnit
                target[d] = mirrored ? 1 - u : u
            }
        }
    }

    /// base^exponent, or nil when it does not fit in an Int (grids for large n do not).
    static func power(_ base: Int, _ exponent: Int) -> Int? {
        var result = 1
        for _ in 0..<exponent {
            let (product, overflow) = result.multipliedReportingOverflow(by: base)
            if overflow { return nil }
            result = product
        }
        return result
    }

    /// The largest k ≥ 1 with k^exponent ≤ value (value ≥ 1), found by bisection on exact integer
    /// powers: no floating-point roots, so k^n = s is recognised exactly for every s.
    static func largestRoot(notAbove value: Int, exponent: Int) -> Int {
        precondition(value >= 1 && exponent >= 1)
        var low = 1  // 1^n ≤ value
        var high = value  // an upper bound: value^n ≥ value
        while low < high {
            let middle = low + (high - low + 1) / 2
            if let p = power(middle, exponent), p <= value { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// "qmc-cartesian needs s = k^5 samples for n = 5: 243 or 1024 are valid near 1000".
    static func invalidCountMessage(
        strategy: SamplingStrategy, antithetic: Bool, count: Int, dimension n: Int, root: Int
    ) -> String {
        // With antithetic pairs only even k qualify; bracket the request by the nearest valid k.
        let below = antithetic ? root - root % 2 : root
        let above = antithetic ? root + 2 - root % 2 : root + 1
        let candidates = [below >= 2 ? power(below, n) : nil, power(above, n)].compactMap { $0 }
        var requirement =
            antithetic
            ? "\(strategy.rawValue) --antithetic pairs every cell with its mirror cell, so it needs s = k^\(n) samples with an even k for n = \(n)"
            : "\(strategy.rawValue) needs s = k^\(n) samples for n = \(n)"
        if antithetic, power(root, n) == count, root >= 3 {
            requirement += " (\(count) = \(root)^\(n) has an odd k, whose centre cell is its own mirror)"
        }
        switch candidates.count {
        case 2:
            return "\(requirement): \(candidates[0]) or \(candidates[1]) are valid near \(count)"
        case 1:
            return "\(requirement): \(candidates[0]) is the valid count nearest \(count)"
        default:
            return "\(requirement), but already k = 2 gives more samples than fit in a 64-bit integer; "
                + "use rqmc-latin or sobol for this many inputs"
        }
    }
}
