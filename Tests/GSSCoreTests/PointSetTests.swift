import GSSCore
import Testing

@Suite("Point sets")
struct PointSetTests {
    static func points(_ set: PointSet) -> [Double] {
        var values = [Double](repeating: 0, count: set.count * set.dimension)
        set.fill(start: 0, rows: set.count, into: &values)
        return values
    }

    static let strategies: [(SamplingStrategy, Bool)] = [
        (.mc, false), (.mc, true), (.qmcLatin, false), (.qmcLatin, true), (.rqmcLatin, false), (.rqmcLatin, true),
    ]

    @Test("points lie strictly inside the unit cube", arguments: strategies)
    func insideUnitCube(strategy: SamplingStrategy, antithetic: Bool) throws {
        let set = try PointSet(strategy: strategy, antithetic: antithetic, count: 512, dimension: 3, seed: 9)
        #expect(Self.points(set).allSatisfy { $0 > 0 && $0 < 1 })
    }

    @Test("any range of samples equals the same slice of the whole set", arguments: strategies)
    func rangesAreConsistent(strategy: SamplingStrategy, antithetic: Bool) throws {
        let set = try PointSet(strategy: strategy, antithetic: antithetic, count: 100, dimension: 3, seed: 5)
        let all = Self.points(set)
        for (start, rows) in [(0, 1), (1, 1), (37, 20), (99, 1), (50, 50)] {
            var part = [Double](repeating: 0, count: rows * 3)
            set.fill(start: start, rows: rows, into: &part)
            #expect(part == Array(all[(start * 3)..<((start + rows) * 3)]), "\(strategy) rows \(start)..<\(start + rows)")
        }
    }

    @Test("Latin hypercubes use every stratum of every dimension exactly once", arguments: [false, true])
    func latinStrata(antithetic: Bool) throws {
        for strategy in [SamplingStrategy.qmcLatin, .rqmcLatin] {
            let count = 256
            let set = try PointSet(strategy: strategy, antithetic: antithetic, count: count, dimension: 4, seed: 3)
            let values = Self.points(set)
            for d in 0..<4 {
                let strata = Set((0..<count).map { Int(values[$0 * 4 + d] * Double(count)) })
                #expect(strata.count == count, "\(strategy) dimension \(d)")
            }
        }
    }

    // The Latin hypercube's placement runs in C (gss_latin_place); this rebuilds its points from
    // the documented pieces in Swift — per dimension a permutation keyed by Philox stream 2, a
    // jitter from the SplitMix64 stream keyed by Philox stream 3 at index (sample·n + d) — and
    // wants the same bits, over a range that starts and ends mid-block and walks cycles (s = 1000).
    @Test("Latin hypercube points equal their definition bit for bit", arguments: [false, true])
    func latinPointsMatchTheirDefinition(jittered: Bool) throws {
        let (count, n, seed, start, rows) = (1000, 3, UInt64(9), 37, 900)
        let points = try PointSet(
            strategy: jittered ? .rqmcLatin : .qmcLatin, antithetic: false, count: count, dimension: n, seed: seed)
        var actual = [Double](repeating: 0, count: rows * n)
        actual.withUnsafeMutableBufferPointer { points.fill(start: start, rows: rows, into: $0.baseAddress!) }

        let generator = Philox4x32(seed: seed)
        let permutations = (0..<n).map { d in
            IndexPermutation(size: count, key: generator.bits(stream: 2, index: UInt64(d)))
        }
        let jitterKey = generator.bits(stream: 3, index: 0).0
        let scale = 1 / Double(count)
        let expected = (0..<(rows * n)).map { k -> Double in
            let (sample, d) = ((start + k / n), k % n)
            let coordinate = UInt64(sample * n + d)
            let offset = jittered ? Double.openUnit(bits: SplitMix.mix(jitterKey &+ coordinate &* 0x9E37_79B9_7F4A_7C15)) : 0.5
            return ((Double(permutations[d](sample)) + offset) * scale).clampedToOpenUnit
        }
        #expect(actual == expected)
    }

    /// Where a Latin hypercube point lies inside its stratum (u·s − ⌊u·s⌋): the centre for
    /// qmc-latin, uniform for rqmc-latin's jitter, with or without antithetic pairs.
    @Test("rqmc-latin jitters inside every stratum and qmc-latin sits at the centres, with or without antithetic pairs", arguments: [false, true])
    func latinJitter(antithetic: Bool) throws {
        let count = 2048
        for strategy in [SamplingStrategy.qmcLatin, .rqmcLatin] {
            let set = try PointSet(strategy: strategy, antithetic: antithetic, count: count, dimension: 2, seed: 7)
            let offsets = Self.points(set).map { $0 * Double(count) - ($0 * Double(count)).rounded(.down) }
            if strategy == .qmcLatin {
                #expect(offsets.allSatisfy { abs($0 - 0.5) < 1e-6 }, "qmc-latin antithetic=\(antithetic) left a stratum's centre")
            } else {
                // Uniform offsets: mean 1/2, variance 1/12 (each known to within a few per cent here).
                let mean = offsets.reduce(0, +) / Double(offsets.count)
                let variance = offsets.reduce(0.0) { $0 + ($1 - mean) * ($1 - mean) } / Double(offsets.count - 1)
                #expect(abs(mean - 0.5) < 0.03 && abs(variance * 12 - 1) < 0.1,
                        "rqmc-latin antithetic=\(antithetic): offsets have mean \(mean), variance \(variance) (uniform: 0.5, 1/12)")
            }
        }
    }

    @Test("antithetic samples come in mirrored pairs", arguments: [SamplingStrategy.mc, .qmcLatin, .rqmcLatin])
    func antitheticPairs(strategy: SamplingStrategy) throws {
        let set = try PointSet(strategy: strategy, antithetic: true, count: 64, dimension: 3, seed: 11)
        let values = Self.points(set)
        for pair in 0..<32 {
            for d in 0..<3 {
                #expect(values[(2 * pair + 1) * 3 + d] == 1 - values[2 * pair * 3 + d])
            }
        }
    }

    @Test("different seeds give different points; the same seed the same points")
    func seeds() throws {
        let a = Self.points(try PointSet(strategy: .rqmcLatin, antithetic: false, count: 64, dimension: 2, seed: 1))
        let b = Self.points(try PointSet(strategy: .rqmcLatin, antithetic: false, count: 64, dimension: 2, seed: 2))
        let c = Self.points(try PointSet(strategy: .rqmcLatin, antithetic: false, count: 64, dimension: 2, seed: 1))
        #expect(a != b)
        #expect(a == c)
    }

    @Test("bad sample counts are usage errors")
    func invalidCounts() {
        #expect(throws: SmoothingError.self) { try PointSet(strategy: .mc, antithetic: false, count: 1, dimension: 2, seed: 0) }
        #expect(throws: SmoothingError.self) { try PointSet(strategy: .mc, antithetic: true, count: 7, dimension: 2, seed: 0) }
    }
}
