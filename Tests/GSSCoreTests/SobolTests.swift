import GSSCore
import Testing

@Suite("Sobol' points with nested uniform scrambling")
struct SobolTests {
    typealias Support = SamplerTestSupport

    /// The first 32 binary digits of a scrambled coordinate: u = (w + 1/2) · 2^−52 with w the 52
    /// scrambled digits, so the top 32 of them are ⌊u · 2^52⌋ >> 20.
    static func scrambledDigits(_ u: Double) -> UInt32 {
        UInt32(UInt64(u * 0x1p52) >> 20)
    }

    // MARK: - The unscrambled sequence against scipy

    /// `scipy.stats.qmc.Sobol(d, scramble=False, bits=32)` (scipy 1.17.1, which uses the same
    /// new-joe-kuo-6 numbers), rows 0..<32 times 2^32, for dimensions 1, 2, 3, 4, 5, 100, 1024 (1-based).
    /// scipy lists points in Gray-code order: its row p is our point p ⊕ (p >> 1).
    static let scipyFirstRows: [Int: [UInt32]] = [
        1: [0, 2147483648, 3221225472, 1073741824, 1610612736, 3758096384, 2684354560, 536870912, 805306368, 2952790016, 4026531840, 1879048192, 1342177280, 3489660928, 2415919104, 268435456, 402653184, 2550136832, 3623878656, 1476395008, 2013265920, 4160749568, 3087007744, 939524096, 671088640, 2818572288, 3892314112, 1744830464, 1207959552, 3355443200, 2281701376, 134217728],
        2: [0, 2147483648, 1073741824, 3221225472, 1610612736, 3758096384, 536870912, 2684354560, 1342177280, 3489660928, 268435456, 2415919104, 805306368, 2952790016, 1879048192, 4026531840, 2013265920, 4160749568, 939524096, 3087007744, 402653184, 2550136832, 1476395008, 3623878656, 671088640, 2818572288, 1744830464, 3892314112, 1207959552, 3355443200, 134217728, 2281701376],
        3: [0, 2147483648, 1073741824, 3221225472, 2684354560, 536870912, 3758096384, 1610612736, 4026531840, 1879048192, 2952790016, 805306368, 1342177280, 3489660928, 268435456, 2415919104, 2013265920, 4160749568, 939524096, 3087007744, 3623878656, 1476395008, 2550136832, 402653184, 2281701376, 134217728, 3355443200, 1207959552, 671088640, 2818572288, 1744830464, 3892314112],
        4: [0, 2147483648, 1073741824, 3221225472, 3758096384, 1610612736, 2684354560, 536870912, 1879048192, 4026531840, 805306368, 2952790016, 2415919104, 268435456, 3489660928, 1342177280, 2818572288, 671088640, 3892314112, 1744830464, 1207959552, 3355443200, 134217728, 2281701376, 3623878656, 1476395008, 2550136832, 402653184, 939524096, 3087007744, 2013265920, 4160749568],
        5: [0, 2147483648, 3221225472, 1073741824, 1610612736, 3758096384, 2684354560, 536870912, 2415919104, 268435456, 1342177280, 3489660928, 4026531840, 1879048192, 805306368, 2952790016, 1207959552, 3355443200, 2281701376, 134217728, 671088640, 2818572288, 3892314112, 1744830464, 3623878656, 1476395008, 402653184, 2550136832, 3087007744, 939524096, 2013265920, 4160749568],
        100: [0, 2147483648, 3221225472, 1073741824, 3758096384, 1610612736, 536870912, 2684354560, 4026531840, 1879048192, 805306368, 2952790016, 268435456, 2415919104, 3489660928, 1342177280, 134217728, 2281701376, 3355443200, 1207959552, 3892314112, 1744830464, 671088640, 2818572288, 4160749568, 2013265920, 939524096, 3087007744, 402653184, 2550136832, 3623878656, 1476395008],
        1024: [0, 2147483648, 3221225472, 1073741824, 3758096384, 1610612736, 536870912, 2684354560, 268435456, 2415919104, 3489660928, 1342177280, 4026531840, 1879048192, 805306368, 2952790016, 3892314112, 1744830464, 671088640, 2818572288, 134217728, 2281701376, 3355443200, 1207959552, 4160749568, 2013265920, 939524096, 3087007744, 402653184, 2550136832, 3623878656, 1476395008],
    ]

    /// scipy rows far into the sequence (via `fast_forward`), dimensions 1–5: they exercise the
    /// direction numbers v_7 ... v_22 that the first 32 rows never touch.
    static let scipyLaterRows: [Int: [UInt32]] = [
        100: [1778384896, 1107296256, 3321888768, 3120562176, 3791650816],
        1000: [943718400, 415236096, 2227175424, 2906652672, 1203765248],
        4095: [1048576, 4042260480, 1435500544, 3872391168, 4038066176],
        65535: [65536, 4294901760, 2421489664, 3271884800, 1085997056],
        999_999: [80154624, 3856265216, 1576505344, 152186880, 3673149440],
        3_000_001: [2242173952, 2884432896, 3663225856, 1739992064, 4258366464],
    ]

    @Test("unscrambled points equal scipy's Sobol' points")
    func unscrambledAgainstScipy() {
        for (dimension, column) in Self.scipyFirstRows {
            for (row, expected) in column.enumerated() {
                let index = UInt32(row ^ (row >> 1))
                #expect(SobolSequence.digits(index: index, dimension: dimension - 1) == expected, "dimension \(dimension), scipy row \(row)")
            }
        }
        for (row, expected) in Self.scipyLaterRows {
            let index = UInt32(row ^ (row >> 1))
            #expect((0..<5).map { SobolSequence.digits(index: index, dimension: $0) } == expected, "scipy row \(row)")
        }
    }

    /// The 32 direction numbers of all 1024 dimensions (point 2^k is v_{k+1}) hashed with 64-bit
    /// FNV-1a, byte by byte, little-endian, dimension-major. The reference hash is of scipy's
    /// `Sobol(d=1024, scramble=False, bits=32)._sv`, checked against scipy's drawn points.
    @Test("direction numbers of all 1024 dimensions match scipy's")
    func directionNumbersMatchScipy() {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for dimension in 0..<SobolSequence.maximumDimension {
            for k in 0..<32 {
                let v = SobolSequence.digits(index: 1 << k, dimension: dimension)
                for byte in 0..<4 {
                    hash ^= UInt64((v >> (8 * UInt32(byte))) & 0xFF)
                    hash = hash &* 0x100_0000_01B3
                }
            }
        }
        #expect(hash == 0x3139_1f5a_f958_55c8)
    }

    // MARK: - Scrambled points

    static let antitheticCases = [false, true]

    @Test("points lie strictly inside the unit cube", arguments: antitheticCases)
    func insideUnitCube(antithetic: Bool) throws {
        for (count, dimension) in [(1024, 7), (4, 1024), (2, 1)] {
            let set = try PointSet(strategy: .sobol, antithetic: antithetic, count: count, dimension: dimension, seed: 21)
            let values = Support.points(set)
            #expect(values.allSatisfy { $0 > 0 && $0 < 1 }, "s = \(count), n = \(dimension)")
        }
    }

    @Test("any range of samples equals the same slice of the whole set", arguments: antitheticCases)
    func rangesAreConsistent(antithetic: Bool) throws {
        let set = try PointSet(strategy: .sobol, antithetic: antithetic, count: 128, dimension: 3, seed: 5)
        let all = Support.points(set)
        for (start, rows) in [(0, 1), (1, 1), (37, 20), (127, 1), (64, 64), (2, 126)] {
            var part = [Double](repeating: 0, count: rows * 3)
            set.fill(start: start, rows: rows, into: &part)
            #expect(part == Array(all[(start * 3)..<((start + rows) * 3)]), "rows \(start)..<\(start + rows)")
        }
    }

    @Test("different seeds give different points; the same seed the same points")
    func seeds() throws {
        let a = Support.points(try PointSet(strategy: .sobol, antithetic: false, count: 64, dimension: 3, seed: 1))
        let b = Support.points(try PointSet(strategy: .sobol, antithetic: false, count: 64, dimension: 3, seed: 2))
        let c = Support.points(try PointSet(strategy: .sobol, antithetic: false, count: 64, dimension: 3, seed: 1))
        #expect(a == c)
        // Every coordinate differs: scrambles of different seeds agree on a digit only by chance.
        #expect(zip(a, b).allSatisfy { $0 != $1 })
    }

    /// Every 1-D projection of 2^m Sobol' points is a (0, m, 1)-net, and nested scrambling keeps it:
    /// each of the 2^j dyadic intervals of every coordinate holds exactly 2^(m−j) points, j ≤ m.
    @Test("each dyadic interval of every coordinate holds its share of points", arguments: antitheticCases)
    func oneDimensionalStrata(antithetic: Bool) throws {
        let count = 1024
        let dimension = 8
        let set = try PointSet(strategy: .sobol, antithetic: antithetic, count: count, dimension: dimension, seed: 77)
        let values = Support.points(set)
        // With antithetic pairs the s/2 first members are the scrambled net; their mirrors the mirrored net.
        let netSize = antithetic ? count / 2 : count
        let rows = antithetic ? stride(from: 0, to: count, by: 2).map { $0 } : Array(0..<count)
        for d in 0..<dimension {
            for level in 1...(netSize.trailingZeroBitCount) {
                var occupancy = [Int](repeating: 0, count: 1 << level)
                for row in rows { occupancy[Int(values[row * dimension + d] * Double(1 << level))] += 1 }
                #expect(occupancy.allSatisfy { $0 == netSize >> level }, "dimension \(d), 2^\(level) intervals: \(occupancy.min()!)...\(occupancy.max()!) points")
            }
        }
    }

    /// Sobol' dimensions 1 and 2 form a (0, m, 2)-net: every dyadic box of area 2^−m
    /// (2^a × 2^b boxes with a + b = m) holds exactly one of the 2^m points.
    @Test("dimensions 1 and 2 form a (0, m, 2)-net after scrambling", arguments: [UInt64(3), 4, 5])
    func twoDimensionalStrata(seed: UInt64) throws {
        let m = 10
        let set = try PointSet(strategy: .sobol, antithetic: false, count: 1 << m, dimension: 2, seed: seed)
        let values = Support.points(set)
        for a in 0...m {
            let b = m - a
            var boxes = Set<Int>()
            for i in 0..<(1 << m) {
                let column = Int(values[2 * i] * Double(1 << a))
                let row = Int(values[2 * i + 1] * Double(1 << b))
                boxes.insert(column << b | row)
            }
            #expect(boxes.count == 1 << m, "2^\(a) × 2^\(b) boxes: only \(boxes.count) of \(1 << m) occupied")
        }
    }

    /// Nested (Owen) scrambling flips digit k by a bit that belongs to the node of the point's first
    /// k − 1 original digits: points sharing the node share the flip, and the flips of different
    /// nodes are independent fair bits. A random digital shift, by contrast, flips digit k the same
    /// way at every node. Depths 1...12 hold 2^12 − 1 nodes per dimension; digits 13...32 have one
    /// point per node.
    @Test("digit flips are per node of the digit tree, fair and independent")
    func nestedScrambling() throws {
        let m = 12
        let count = 1 << m
        let dimension = 4
        let set = try PointSet(strategy: .sobol, antithetic: false, count: count, dimension: dimension, seed: 2024)
        let values = Support.points(set)
        for d in 0..<dimension {
            var flipOfNode: [UInt64: UInt32] = [:]  // key: (depth << 40) | original prefix
            var consistent = true
            var deepOnes = 0
            for i in 0..<count {
                let original = SobolSequence.digits(index: UInt32(i), dimension: d)
                let flips = original ^ Self.scrambledDigits(values[i * dimension + d])
                for k in 1...32 {
                    let flip = (flips >> UInt32(32 - k)) & 1
                    if k > m {
                        deepOnes += Int(flip)
                        continue
                    }
                    let prefix = k == 1 ? 0 : UInt64(original >> UInt32(33 - k))
                    let node = UInt64(k) << 40 | prefix
                    if let known = flipOfNode[node], known != flip { consistent = false }
                    flipOfNode[node] = flip
                }
            }
            #expect(consistent, "dimension \(d): points that share a node got different flips")
            #expect(flipOfNode.count == count - 1, "dimension \(d): \(flipOfNode.count) nodes visited at depths 1...\(m)")
            // Per depth, and over all depths: the count of flipped nodes is Binomial(N, 1/2); allow 5 sigma.
            var total = 0
            for k in 1...m {
                let nodes = flipOfNode.filter { $0.key >> 40 == UInt64(k) }
                let ones = nodes.values.reduce(0) { $0 + Int($1) }
                total += ones
                let n = Double(nodes.count)
                if k >= 7 {
                    #expect(abs(Double(ones) - n / 2) <= 5 * n.squareRoot() / 2, "dimension \(d), depth \(k): \(ones) of \(nodes.count) nodes flipped")
                }
                // A digital shift makes every node of a depth agree; nested scrambling almost never does.
                if k >= 5 {
                    #expect(ones > 0 && ones < nodes.count, "dimension \(d), depth \(k): all \(nodes.count) nodes flip alike")
                }
            }
            let nodeCount = Double(count - 1)
            #expect(abs(Double(total) - nodeCount / 2) <= 5 * nodeCount.squareRoot() / 2, "dimension \(d): \(total) of \(count - 1) nodes flipped")
            let deepCount = Double(count * (32 - m))
            #expect(abs(Double(deepOnes) - deepCount / 2) <= 5 * deepCount.squareRoot() / 2, "dimension \(d): \(deepOnes) of \(Int(deepCount)) deep digits flipped")
        }
    }

    @Test("antithetic samples are mirrored pairs")
    func antitheticPairs() throws {
        let set = try PointSet(strategy: .sobol, antithetic: true, count: 256, dimension: 5, seed: 8)
        let values = Support.points(set)
        for pair in 0..<128 {
            for d in 0..<5 { #expect(values[(2 * pair + 1) * 5 + d] == 1 - values[2 * pair * 5 + d]) }
        }
    }

    /// Scrambled nets are unbiased: over 400 seeds the mean of ∫ Π u_d e^(u_d) = 1 (n = 3, s = 256)
    /// is within 5 standard errors of 1; and their variance is a small fraction of Monte Carlo's
    /// exact variance Var(f)/s (theory: O(s^−3 (log s)^(n−1)) against 1/s). Measured ratio 2.8e-3,
    /// like scipy's scrambled Sobol' on the same integrand (2.7e-3), and 6.0e-3 with antithetic pairs
    /// (128 points and their mirrors); 400 seeds pin a variance to ±7 %. n = 4 would only reach
    /// 1/25 at this s (scipy: 4.3e-2), as the 4-factor interaction dominates.
    @Test("scrambled Sobol' integrates without bias and with variance below 1/100 of MC's", arguments: antitheticCases)
    func unbiasedWithLowVariance(antithetic: Bool) throws {
        let dimension = 3
        let count = 256
        let seeds: Range<UInt64> = 0..<400
        let (mean, variance) = try Support.replicatedIntegrals(
            strategy: .sobol, antithetic: antithetic, count: count, dimension: dimension, seeds: seeds,
            integrand: Support.productOfExponentials)
        let standardError = (variance / Double(seeds.count)).squareRoot()
        #expect(abs(mean - 1) <= 5 * standardError, "antithetic \(antithetic): mean \(mean) vs 1 (stderr \(standardError))")
        let monteCarloVariance = Support.productOfExponentialsVariance(dimension: dimension) / Double(count)
        let ratio = variance / monteCarloVariance
        print("sobol antithetic=\(antithetic): variance \(variance) vs MC \(monteCarloVariance): ratio \(ratio)")
        // 400 seeds estimate the variance to ±7 % (one sigma), so 1/100 is far from the noise.
        #expect(ratio < 0.01, "antithetic \(antithetic): RQMC/MC variance ratio \(ratio) (variance \(variance), MC \(monteCarloVariance))")
    }

    // MARK: - Usage errors

    @Test("sample counts that are not powers of two are usage errors naming the valid counts")
    func invalidCounts() throws {
        for (count, antithetic, valid) in [
            (1000, false, "512 or 1024 are valid near 1000"), (3, false, "2 or 4 are valid near 3"),
            (1000, true, "512 or 1024 are valid near 1000"), (6, true, "4 or 8 are valid near 6"),
        ] {
            let error = try #require(Support.configurationError(.sobol, antithetic: antithetic, count: count, dimension: 3))
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains(valid), "\(error.message)")
            #expect(error.message.contains("power of two"), "\(error.message)")
        }
        for count in [2, 4, 1024, 1 << 20] {
            #expect(Support.configurationError(.sobol, count: count, dimension: 3) == nil, "s = \(count)")
            #expect(Support.configurationError(.sobol, antithetic: true, count: count, dimension: 3) == nil, "s = \(count) antithetic")
        }
        let huge = try #require(Support.configurationError(.sobol, count: 1 << 40, dimension: 3))
        #expect(huge.message.contains("4294967296"), "\(huge.message)")
    }

    @Test("more than 1024 inputs is a usage error")
    func tooManyDimensions() throws {
        #expect(Support.configurationError(.sobol, count: 8, dimension: 1024) == nil)
        let error = try #require(Support.configurationError(.sobol, count: 8, dimension: 1025))
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("1024") && error.message.contains("1025"), "\(error.message)")
    }
}
