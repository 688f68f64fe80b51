import Foundation
import GSSCore
import GSSHost
import GSSTestSupport
import Testing

/// The shortest-path plugin (vector lanes, relaxation sweeps; issue 19) against the solver it
/// replaced, kept unchanged as the fixture plugin `shortest-path-reference`
/// (Tests/Fixtures/ShortestPathReference: Dijkstra with a binary heap, one row at a time): the
/// masks must be the same, bit for bit, on every grid, ties included.
@Suite("The shortest-path plugin against its previous solver (binary-heap Dijkstra)")
struct ShortestPathReferenceTests {
    /// The new plugin and the reference, with the same options.
    struct Solvers {
        let n: Int
        let plugin: any BatchEvaluator
        let reference: any BatchEvaluator

        init(rows: Int, cols: Int, minCost: Double? = nil) throws {
            var options = [("rows", "\(rows)"), ("cols", "\(cols)")]
            if let minCost { options.append(("min_cost", "\(minCost)")) }
            n = rows * cols
            plugin = try PluginBlackBox(
                library: try PluginLibrary.open(path: Products.bundled("shortest-path")), options: options
            ).makeEvaluators(count: 1)[0]
            reference = try PluginBlackBox(
                library: try PluginLibrary.open(path: Products.fixture("shortestpathreference")), options: options
            ).makeEvaluators(count: 1)[0]
        }

        /// The outputs of `grids` (row-major, n numbers each), evaluated in batches of the given
        /// sizes in turn (the last one repeats until every grid is done), and the error text the
        /// evaluation threw, if any (the outputs are read even then: rows that failed are NaN).
        static func evaluate(_ evaluator: any BatchEvaluator, _ grids: [Double], n: Int, batches: [Int]) -> ([Double], [String]) {
            let count = grids.count / n
            var output = [Double](repeating: -1, count: grids.count)
            var errors: [String] = []
            var first = 0
            var k = 0
            grids.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer { y in
                    while first < count {
                        let rows = min(batches[min(k, batches.count - 1)], count - first)
                        do {
                            try evaluator.evaluate(x.baseAddress! + first * n, rows: rows, into: y.baseAddress! + first * n)
                        } catch {
                            errors.append("\(error)")
                        }
                        first += rows
                        k += 1
                    }
                }
            }
            return (output, errors)
        }
    }

    typealias Law = (name: String, minCost: Double?, draw: @Sendable (inout SplitMix64) -> Double)

    /// Cost laws: the plugin's default grid (uniform [0.5, 5)) perturbed as gss perturbs it, the
    /// benchmark's jitter, Warcraft's range, negative costs clamped, and costs spanning 10^21 (rows
    /// the plugin hands to its Dijkstra), mixed in the same batches.
    static let laws: [Law] = [
        ("uniform [0.5, 5)", nil, { 0.5 + 4.5 * $0.unit() }),
        ("uniform [0.5, 5) + uniform [-1, 1] (bench/plugin_throughput.c)", nil, { 0.5 + 4.5 * $0.unit() + 2 * $0.unit() - 1 }),
        ("uniform [0.5, 5) + logistic noise (gss grad, many clamped)", nil, { rng in
            let u = rng.unit()
            return 0.5 + 4.5 * rng.unit() + log((u + 0x1p-60) / (1 - u))
        }),
        ("uniform [0.8, 9.2] (Warcraft)", nil, { 0.8 + 8.4 * $0.unit() }),
        ("normal(1, 1.5): many negative", nil, { 1 + 1.5 * $0.normal() }),
        ("uniform [-1, 1], min_cost 1e-6", 1e-6, { -1 + 2 * $0.unit() }),
        ("log-uniform [1e-3, 1e18]: spans beyond 2^50", nil, { pow(10, -3 + 21 * $0.unit()) }),
    ]

    @Test("100,000 random grids of 18 shapes (square and not, 1×1 to 256×3) and 7 cost laws: the same masks, bit for bit")
    func hundredThousandGrids() throws {
        // (rows, cols, grids): 100,000 in all, most of them 12 × 12 (the Warcraft size).
        let shapes: [(Int, Int, Int)] = [
            (12, 12, 60_000), (8, 8, 10_000), (1, 1, 1_000), (1, 2, 1_000), (2, 1, 1_000), (1, 12, 1_000),
            (12, 1, 1_000), (2, 2, 1_000), (3, 5, 1_000), (5, 3, 1_000), (13, 20, 5_000), (20, 13, 5_000),
            (24, 24, 6_000), (16, 16, 2_000), (32, 32, 3_000), (64, 64, 500), (256, 3, 250), (3, 256, 250),
        ]
        #expect(shapes.reduce(0) { $0 + $1.2 } == 100_000)
        var rng = SplitMix64(seed: 19_000_001)
        var compared = 0
        var mismatches: [String] = []
        for (rows, cols, total) in shapes {
            let n = rows * cols
            for (index, law) in Self.laws.enumerated() {
                let count = total / Self.laws.count + (index < total % Self.laws.count ? 1 : 0)
                guard count > 0 else { continue }
                let solvers = try Solvers(rows: rows, cols: cols, minCost: law.minCost)
                var grids = [Double](repeating: 0, count: count * n)
                for i in 0..<grids.count { grids[i] = law.draw(&rng) }
                // The plugin in uneven batches (lanes partly filled, rows split across calls), the
                // reference in one.
                let (found, foundErrors) = Solvers.evaluate(solvers.plugin, grids, n: n, batches: [1, 7, 8, 9, 3, 64, 333])
                let (expected, expectedErrors) = Solvers.evaluate(solvers.reference, grids, n: n, batches: [count])
                #expect(foundErrors.isEmpty && expectedErrors.isEmpty)
                for g in 0..<count where !found[(g * n)..<((g + 1) * n)].elementsEqual(expected[(g * n)..<((g + 1) * n)]) {
                    if mismatches.count < 10 { mismatches.append("\(rows)×\(cols), \(law.name), grid \(g)") }
                }
                compared += count
            }
        }
        #expect(compared == 100_000)
        #expect(mismatches.isEmpty, "masks differ from the reference: \(mismatches)")
    }

    /// The tie rule kept: Dijkstra settles cells in increasing (distance, cell index) order and a
    /// cell's predecessor is the first settled neighbour to reach it; so the walk back from the
    /// target steps to the neighbour with the least (distance, row-major index).
    @Test("ties: each step back goes to the neighbour with the least (distance, cell index), as the reference does")
    func ties() throws {
        // 2 × 3 of ones: (0,0) (0,1) (1,2) and (0,0) (1,1) (1,2) both cost 3; (0,1) has the smaller index.
        let small = try Solvers(rows: 2, cols: 3)
        for evaluator in [small.plugin, small.reference] {
            #expect(Solvers.evaluate(evaluator, [Double](repeating: 1, count: 6), n: 6, batches: [1]).0 == [1, 1, 0, 0, 0, 1])
        }
        // 3 × 3 of ones around a dear centre: round the top right or the bottom left, both 4;
        // from the target, (1,2) (index 5) beats (2,1) (index 7).
        let ring = try Solvers(rows: 3, cols: 3)
        let dearCentre: [Double] = [1, 1, 1, 1, 10, 1, 1, 1, 1]
        for evaluator in [ring.plugin, ring.reference] {
            #expect(Solvers.evaluate(evaluator, dearCentre, n: 9, batches: [1]).0 == [1, 1, 0, 0, 0, 1, 0, 0, 1])
        }
        // Grids full of ties: all equal, two values, small integers, integers clamped together; the
        // plugin, the reference and the rule written out (ShortestPathPluginTests.tieRuleMask) agree.
        typealias TieLaw = (name: String, minCost: Double?, draw: (inout SplitMix64) -> Double)
        let laws: [TieLaw] = [
            ("all ones", nil, { _ in 1 }),
            ("ones and twos", nil, { Double(Int($0.unit() * 2) + 1) }),
            ("integers 1...3", nil, { Double(Int($0.unit() * 3) + 1) }),
            ("integers -2...2, min_cost 1 (clamped ties)", 1, { Double(Int($0.unit() * 5) - 2) }),
            ("quarters 0.25...1", nil, { 0.25 * Double(Int($0.unit() * 4) + 1) }),
        ]
        var rng = SplitMix64(seed: 19_000_002)
        var tied = 0
        var checked = 0
        var differences: [String] = []
        var broken: [String] = []
        for (rows, cols) in [(2, 3), (3, 2), (3, 3), (4, 7), (7, 4), (5, 12), (12, 5), (12, 12)] {
            let n = rows * cols
            for law in laws {
                let solvers = try Solvers(rows: rows, cols: cols, minCost: law.minCost)
                let count = 200
                let grids = (0..<(count * n)).map { _ in law.draw(&rng) }
                let found = Solvers.evaluate(solvers.plugin, grids, n: n, batches: [5, 8, 1, 64]).0
                let expected = Solvers.evaluate(solvers.reference, grids, n: n, batches: [count]).0
                for g in 0..<count {
                    let label = "\(rows)×\(cols) \(law.name), grid \(g)"
                    let mask = Array(found[(g * n)..<((g + 1) * n)])
                    let costs = ShortestPathPluginTests.clamped(Array(grids[(g * n)..<((g + 1) * n)]), law.minCost ?? 1e-3)
                    if mask != Array(expected[(g * n)..<((g + 1) * n)]) && differences.count < 10 { differences.append(label) }
                    if mask != ShortestPathPluginTests.tieRuleMask(rows: rows, cols: cols, costs: costs) && broken.count < 10 {
                        broken.append(label)
                    }
                    if Self.hasTiedPredecessor(mask: mask, rows: rows, cols: cols, costs: costs) { tied += 1 }
                    checked += 1
                }
            }
        }
        #expect(checked == 8000)
        #expect(differences.isEmpty, "masks differ from the reference: \(differences)")
        #expect(broken.isEmpty, "masks break the tie rule: \(broken)")
        #expect(tied > 1000, "only \(tied) grids had a tie on their path")
    }

    /// Whether some cell on the path had two neighbours at the least distance (the rule decided).
    static func hasTiedPredecessor(mask: [Double], rows: Int, cols: Int, costs: [Double]) -> Bool {
        let distance = ShortestPathPluginTests.bellmanFord(rows: rows, cols: cols, costs: costs)
        for cell in 1..<(rows * cols) where mask[cell] == 1 {
            let around = ShortestPathPluginTests.neighbours(of: cell, rows: rows, cols: cols).map { distance[$0] }
            let least = around.min()!
            if around.filter({ $0 == least }).count > 1 { return true }
        }
        return false
    }

    @Test("rows with non-finite costs among finite ones: NaN rows and the same error, the other rows' masks untouched")
    func nonFiniteRows() throws {
        let (rows, cols) = (12, 12)
        let n = rows * cols
        let solvers = try Solvers(rows: rows, cols: cols)
        var rng = SplitMix64(seed: 19_000_003)
        var grids = (0..<(40 * n)).map { _ in 0.5 + 4.5 * rng.unit() }
        for (row, value) in [(3, Double.nan), (8, .infinity), (9, -.infinity), (17, .nan), (39, .nan)] {
            grids[row * n + (row * 7) % n] = value
        }
        for batches in [[40], [1], [8], [5, 3, 9]] {
            let (found, foundErrors) = Solvers.evaluate(solvers.plugin, grids, n: n, batches: batches)
            let (expected, expectedErrors) = Solvers.evaluate(solvers.reference, grids, n: n, batches: batches)
            #expect(found.map(\.bitPattern) == expected.map(\.bitPattern), "batches \(batches)")
            #expect(foundErrors == expectedErrors, "batches \(batches)")
            #expect(!foundErrors.isEmpty)
            for row in [3, 8, 9, 17, 39] { #expect(found[row * n].isNaN) }
        }
    }
}
