import GSSCore
import Testing

@Suite("Cartesian grids")
struct CartesianTests {
    typealias Support = SamplerTestSupport

    static let designs: [(SamplingStrategy, Bool)] = [(.qmcCartesian, false), (.rqmcCartesian, false), (.rqmcCartesian, true)]

    /// The grid cell of every point, as one integer with base-k digits (dimension 0 least significant).
    static func cells(_ values: [Double], count: Int, dimension: Int, k: Int) -> [Int] {
        (0..<count).map { i in
            (0..<dimension).reversed().reduce(0) { cell, d in cell * k + Int(values[i * dimension + d] * Double(k)) }
        }
    }

    @Test("points lie strictly inside the unit cube", arguments: designs)
    func insideUnitCube(strategy: SamplingStrategy, antithetic: Bool) throws {
        for (count, dimension) in [(512, 3), (2, 1), (4096, 12)] {
            let set = try PointSet(strategy: strategy, antithetic: antithetic, count: count, dimension: dimension, seed: 9)
            #expect(Support.points(set).allSatisfy { $0 > 0 && $0 < 1 }, "\(strategy) s = \(count), n = \(dimension)")
        }
    }

    @Test("any range of samples equals the same slice of the whole set", arguments: designs)
    func rangesAreConsistent(strategy: SamplingStrategy, antithetic: Bool) throws {
        let set = try PointSet(strategy: strategy, antithetic: antithetic, count: 216, dimension: 3, seed: 5)
        let all = Support.points(set)
        for (start, rows) in [(0, 1), (1, 1), (37, 20), (215, 1), (100, 116), (2, 200)] {
            var part = [Double](repeating: 0, count: rows * 3)
            set.fill(start: start, rows: rows, into: &part)
            #expect(part == Array(all[(start * 3)..<((start + rows) * 3)]), "\(strategy) rows \(start)..<\(start + rows)")
        }
    }

    @Test("every cell of the grid holds exactly one point", arguments: designs)
    func everyCellOnce(strategy: SamplingStrategy, antithetic: Bool) throws {
        // Odd and even k, several n (antithetic pairs need an even k).
        let grids = antithetic ? [(6, 2), (4, 3), (2, 5), (8, 1)] : [(5, 3), (4, 3), (7, 2), (3, 5), (9, 1)]
        for (k, dimension) in grids {
            let count = (0..<dimension).reduce(1) { product, _ in product * k }
            let set = try PointSet(strategy: strategy, antithetic: antithetic, count: count, dimension: dimension, seed: 31)
            let cells = Self.cells(Support.points(set), count: count, dimension: dimension, k: k)
            #expect(Set(cells).count == count, "\(strategy) k = \(k), n = \(dimension): \(Set(cells).count) distinct cells of \(count)")
        }
    }

    @Test("qmc-cartesian takes the cell centres")
    func centres() throws {
        for (k, dimension) in [(5, 3), (4, 2), (10, 1)] {
            let count = (0..<dimension).reduce(1) { product, _ in product * k }
            let values = Support.points(try PointSet(strategy: .qmcCartesian, antithetic: false, count: count, dimension: dimension, seed: 1))
            for u in values {
                let cell = Int(u * Double(k))
                #expect(u == (Double(cell) + 0.5) / Double(k), "k = \(k): \(u) is not the centre of cell \(cell)")
            }
            // Deterministic: the seed does not matter.
            #expect(values == Support.points(try PointSet(strategy: .qmcCartesian, antithetic: false, count: count, dimension: dimension, seed: 2)))
        }
    }

    @Test("rqmc-cartesian jitters inside the cells, differently for each seed")
    func jitter() throws {
        let k = 6
        let a = Support.points(try PointSet(strategy: .rqmcCartesian, antithetic: false, count: k * k, dimension: 2, seed: 1))
        let b = Support.points(try PointSet(strategy: .rqmcCartesian, antithetic: false, count: k * k, dimension: 2, seed: 2))
        let c = Support.points(try PointSet(strategy: .rqmcCartesian, antithetic: false, count: k * k, dimension: 2, seed: 1))
        #expect(a == c)
        #expect(zip(a, b).allSatisfy { $0 != $1 })
        // Same cells for both seeds, different positions inside them.
        #expect(Self.cells(a, count: k * k, dimension: 2, k: k) == Self.cells(b, count: k * k, dimension: 2, k: k))
    }

    @Test("antithetic rqmc-cartesian pairs every cell with its mirror cell")
    func antitheticPairs() throws {
        let k = 4
        let dimension = 3
        let count = k * k * k
        let values = Support.points(try PointSet(strategy: .rqmcCartesian, antithetic: true, count: count, dimension: dimension, seed: 12))
        let cells = Self.cells(values, count: count, dimension: dimension, k: k)
        for pair in 0..<(count / 2) {
            for d in 0..<dimension {
                #expect(values[(2 * pair + 1) * dimension + d] == 1 - values[2 * pair * dimension + d])
            }
            // Mirroring every base-k digit maps cell c to k^n − 1 − c.
            #expect(cells[2 * pair + 1] == count - 1 - cells[2 * pair])
        }
    }

    /// Jittered grids are unbiased, and for smooth f their variance is O(s^(−1−2/n)) against MC's
    /// 1/s: for n = 2 and k = 16 (s = 256) about 1/200 of MC's (measured), so below 1/20 is safe.
    @Test("rqmc-cartesian integrates without bias and with variance below 1/20 of MC's", arguments: [false, true])
    func unbiasedWithLowVariance(antithetic: Bool) throws {
        let dimension = 2
        let count = 256
        let seeds: Range<UInt64> = 0..<400
        let (mean, variance) = try Support.replicatedIntegrals(
            strategy: .rqmcCartesian, antithetic: antithetic, count: count, dimension: dimension, seeds: seeds,
            integrand: Support.productOfExponentials)
        let standardError = (variance / Double(seeds.count)).squareRoot()
        #expect(abs(mean - 1) <= 5 * standardError, "antithetic \(antithetic): mean \(mean) vs 1 (stderr \(standardError))")
        let monteCarloVariance = Support.productOfExponentialsVariance(dimension: dimension) / Double(count)
        let ratio = variance / monteCarloVariance
        print("rqmc-cartesian antithetic=\(antithetic): variance \(variance) vs MC \(monteCarloVariance): ratio \(ratio)")
        #expect(ratio < 0.05, "antithetic \(antithetic): RQMC/MC variance ratio \(ratio)")
    }

    // MARK: - Usage errors

    @Test("counts that are not k^n are usage errors naming the valid counts near the request")
    func invalidCounts() throws {
        let cases: [(SamplingStrategy, Int, Int, String)] = [
            (.qmcCartesian, 1000, 5, "qmc-cartesian needs s = k^5 samples for n = 5: 243 or 1024 are valid near 1000"),
            (.rqmcCartesian, 244, 5, "243 or 1024 are valid near 244"),
            (.rqmcCartesian, 1023, 5, "243 or 1024 are valid near 1023"),
            (.qmcCartesian, 1000, 2, "961 or 1024 are valid near 1000"),
            (.qmcCartesian, 20, 5, "32 is the valid count nearest 20"),
            (.rqmcCartesian, 1024, 70, "64-bit"),
            // (k + 1)^2 overflows Int: only the count below is offered.
            (.qmcCartesian, Int.max, 2, "9223372030926249001 is the valid count nearest \(Int.max)"),
        ]
        for (strategy, count, dimension, expected) in cases {
            let error = try #require(Support.configurationError(strategy, count: count, dimension: dimension))
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    /// Exact integer roots: counts next to a k^n that a floating-point root would misjudge.
    @Test("exact powers are recognised exactly, even near the top of Int")
    func exactPowers() {
        // 3037000499² is the largest square in Int; 3^39 and 2^62 are large odd and even powers.
        let powers = [(3_037_000_499 * 3_037_000_499, 2), (4_052_555_153_018_976_267, 39), (1 << 62, 62), (1 << 62, 2), (1 << 62, 31), (243, 5), (2, 1), (17, 1)]
        for (count, dimension) in powers {
            #expect(Support.configurationError(.qmcCartesian, count: count, dimension: dimension) == nil, "s = \(count), n = \(dimension)")
            #expect(Support.configurationError(.qmcCartesian, count: count - 1, dimension: dimension) != nil || dimension == 1, "s = \(count - 1), n = \(dimension)")
            #expect(Support.configurationError(.qmcCartesian, count: count + 1, dimension: dimension) != nil || dimension == 1, "s = \(count + 1), n = \(dimension)")
        }
    }

    @Test("qmc-cartesian refuses --antithetic: the centre grid is already symmetric")
    func qmcRefusesAntithetic() throws {
        let error = try #require(Support.configurationError(.qmcCartesian, antithetic: true, count: 1024, dimension: 5))
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("symmetric") && error.message.contains("--antithetic"), "\(error.message)")
    }

    @Test("antithetic rqmc-cartesian needs an even k and names the valid counts")
    func antitheticNeedsEvenK() throws {
        for (count, dimension, expected) in [
            (243, 5, "32 or 1024 are valid near 243"), (9, 2, "4 or 16 are valid near 9"), (729, 3, "512 or 1000 are valid near 729"),
            (100, 3, "64 or 216 are valid near 100"), (5, 3, "8 is the valid count nearest 5"), (7, 1, "6 or 8 are valid near 7"),
        ] {
            let error = try #require(Support.configurationError(.rqmcCartesian, antithetic: true, count: count, dimension: dimension))
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains(expected) && error.message.contains("even k"), "\(error.message)")
        }
        let odd = try #require(Support.configurationError(.rqmcCartesian, antithetic: true, count: 243, dimension: 5))
        #expect(odd.message.contains("centre cell is its own mirror"), "\(odd.message)")
        #expect(Support.configurationError(.rqmcCartesian, antithetic: true, count: 1024, dimension: 5) == nil)
    }
}
