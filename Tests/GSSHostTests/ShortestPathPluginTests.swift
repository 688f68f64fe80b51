import Foundation
import GSSCore
import GSSHost
import GSSTestSupport
import Testing

/// The shortest-path plugin against solvers written here, independently of its Dijkstra: Bellman–Ford
/// on the 8-neighbour vertex-cost graph (every move into a cell costs that cell's clamped cost, the
/// start cell's cost included) and brute force over all simple paths on tiny grids.
@Suite("The shortest-path plugin against independent solvers")
struct ShortestPathPluginTests {
    static let defaultMinCost = 1e-3

    /// Masks for a batch of grids, in one evaluate call.
    func masks(rows: Int, cols: Int, grids: [[Double]], minCost: Double? = nil) throws -> [[Double]] {
        var options = [("rows", "\(rows)"), ("cols", "\(cols)")]
        if let minCost { options.append(("min_cost", "\(minCost)")) }
        let box = try PluginBlackBox(library: try PluginLibrary.open(path: Products.bundled("shortest-path")), options: options)
        let n = rows * cols
        #expect(box.inputCount == n && box.outputCount == n)
        let evaluator = try box.makeEvaluators(count: 1)[0]
        var output = [Double](repeating: .nan, count: grids.count * n)
        try evaluator.evaluate(grids.flatMap { $0 }, rows: grids.count, into: &output)
        return (0..<grids.count).map { Array(output[($0 * n)..<(($0 + 1) * n)]) }
    }

    static func neighbours(of cell: Int, rows: Int, cols: Int) -> [Int] {
        let r = cell / cols
        let c = cell % cols
        var result: [Int] = []
        for dr in -1...1 {
            for dc in -1...1 where dr != 0 || dc != 0 {
                let (nr, nc) = (r + dr, c + dc)
                if nr >= 0 && nr < rows && nc >= 0 && nc < cols { result.append(nr * cols + nc) }
            }
        }
        return result
    }

    /// Bellman–Ford from the top-left cell: d(start) = c(start), d(v) = min over neighbours u of
    /// d(u) + c(v), relaxed in sweeps until nothing changes.
    static func bellmanFord(rows: Int, cols: Int, costs: [Double]) -> [Double] {
        let n = rows * cols
        var distance = [Double](repeating: .infinity, count: n)
        distance[0] = costs[0]
        var changed = true
        while changed {
            changed = false
            for v in 1..<max(n, 1) {
                for u in neighbours(of: v, rows: rows, cols: cols) where distance[u] + costs[v] < distance[v] {
                    distance[v] = distance[u] + costs[v]
                    changed = true
                }
            }
        }
        return distance
    }

    /// The documented tie rule on top of Bellman–Ford distances: cells settle in increasing
    /// (distance, index) order and each keeps the first settled neighbour, i.e. the neighbour with
    /// the smallest (distance, index); walk those predecessors back from the target.
    static func tieRuleMask(rows: Int, cols: Int, costs: [Double]) -> [Double] {
        let distance = bellmanFord(rows: rows, cols: cols, costs: costs)
        var mask = [Double](repeating: 0, count: rows * cols)
        var cell = rows * cols - 1
        mask[cell] = 1
        while cell != 0 {
            cell = neighbours(of: cell, rows: rows, cols: cols).min { (distance[$0], $0) < (distance[$1], $1) }!
            mask[cell] = 1
        }
        return mask
    }

    /// Every simple 8-neighbour path from the top-left to the bottom-right cell (tiny grids only).
    static func simplePaths(rows: Int, cols: Int) -> [[Int]] {
        let target = rows * cols - 1
        var paths: [[Int]] = []
        var path = [0]
        var onPath = Set([0])
        func extend() {
            let last = path[path.count - 1]
            if last == target {
                paths.append(path)
                return
            }
            for next in neighbours(of: last, rows: rows, cols: cols) where !onPath.contains(next) {
                path.append(next)
                onPath.insert(next)
                extend()
                onPath.remove(next)
                path.removeLast()
            }
        }
        extend()
        return paths
    }

    /// The mask is an induced path from corner to corner: connected, both corners on it, the
    /// corners with one neighbour on the path and every other cell with two (a chord would make a
    /// cheaper path, since every cell costs something).
    static func checkIsPath(_ mask: [Double], rows: Int, cols: Int, label: String) {
        let n = rows * cols
        #expect(mask.allSatisfy { $0 == 0 || $0 == 1 }, "\(label): mask is not 0/1")
        #expect(mask[0] == 1 && mask[n - 1] == 1, "\(label): a corner is off the path")
        guard n > 1 else { return }
        let cells = (0..<n).filter { mask[$0] == 1 }
        for cell in cells {
            let onPath = neighbours(of: cell, rows: rows, cols: cols).filter { mask[$0] == 1 }.count
            let expected = cell == 0 || cell == n - 1 ? 1 : 2
            #expect(onPath == expected, "\(label): cell \(cell) has \(onPath) path neighbours, expected \(expected)")
        }
    }

    static func clamped(_ grid: [Double], _ minCost: Double) -> [Double] { grid.map { max($0, minCost) } }

    static func pathCost(_ mask: [Double], _ costs: [Double]) -> Double {
        zip(mask, costs).reduce(0.0) { $0 + ($1.0 == 1 ? $1.1 : 0) }
    }

    /// Random grids of many shapes and cost laws, negative costs included: the path is valid, its
    /// clamped cost is the Bellman–Ford optimum, and the mask is exactly the tie rule's.
    @Test("random grids: optimal cost, valid path, exact mask (tie rule), negative costs clamped")
    func randomGrids() throws {
        var rng = SplitMix64(seed: 20_240_611)
        let shapes = [(1, 1), (1, 2), (1, 7), (7, 1), (2, 2), (2, 5), (5, 2), (3, 3), (8, 8), (12, 12), (13, 20), (20, 13), (24, 24)]
        typealias Law = (name: String, minCost: Double?, draw: (inout SplitMix64) -> Double)
        let laws: [Law] = [
            ("uniform [0.5, 5]", nil, { 0.5 + 4.5 * $0.unit() }),
            ("normal(1, 1.5): many negative", nil, { 1 + 1.5 * $0.normal() }),
            ("uniform [-3, 2], min_cost 0.5", 0.5, { -3 + 5 * $0.unit() }),
            ("uniform [-1, 1], min_cost 1e-6", 1e-6, { -1 + 2 * $0.unit() }),
            ("integers 1...3 (ties)", nil, { Double(Int($0.unit() * 3) + 1) }),
            ("integers -2...2, min_cost 1 (clamped ties)", 1, { Double(Int($0.unit() * 5) - 2) }),
        ]
        var checked = 0
        var withNegatives = 0
        for (rows, cols) in shapes {
            for law in laws {
                let grids = (0..<6).map { _ in (0..<(rows * cols)).map { _ in law.draw(&rng) } }
                let found = try masks(rows: rows, cols: cols, grids: grids, minCost: law.minCost)
                for (k, (grid, mask)) in zip(grids, found).enumerated() {
                    let label = "\(rows)x\(cols) \(law.name), grid \(k)"
                    let costs = Self.clamped(grid, law.minCost ?? Self.defaultMinCost)
                    Self.checkIsPath(mask, rows: rows, cols: cols, label: label)
                    let optimum = Self.bellmanFord(rows: rows, cols: cols, costs: costs)[rows * cols - 1]
                    let cost = Self.pathCost(mask, costs)
                    #expect(abs(cost - optimum) <= 1e-12 * optimum, "\(label): path costs \(cost), optimum \(optimum)")
                    #expect(mask == Self.tieRuleMask(rows: rows, cols: cols, costs: costs), "\(label): mask breaks the tie rule")
                    checked += 1
                    if grid.contains(where: { $0 < 0 }) { withNegatives += 1 }
                }
            }
        }
        #expect(checked == shapes.count * laws.count * 6)
        #expect(withNegatives > 100, "only \(withNegatives) grids had negative costs")
    }

    /// Tiny grids against all simple paths: every grid of a small alphabet (negative values
    /// included, so clamping decides), the plugin's path must cost the brute-force minimum.
    @Test("tiny grids: the path costs the minimum over all simple paths, ties broken by the rule", arguments: [
        (2, 2, [-1.0, 0, 1, 2, 3], 1e-3, false), (2, 3, [-1.0, 1, 2, 3], 1e-3, true), (3, 2, [1.0, 2, 3], 1e-3, true),
        (3, 3, [-1.0, 1, 2], 1.0, true), (1, 5, [-1.0, 1, 2], 1e-3, false),
    ])
    func bruteForce(rows: Int, cols: Int, alphabet: [Double], minCost: Double, hasTies: Bool) throws {
        let n = rows * cols
        let paths = Self.simplePaths(rows: rows, cols: cols)
        var grids: [[Double]] = [[]]
        for _ in 0..<n { grids = grids.flatMap { prefix in alphabet.map { prefix + [$0] } } }
        let found = try masks(rows: rows, cols: cols, grids: grids, minCost: minCost)
        // Paths as bit sets of cells, to recognise a mask among them.
        let pathBits = Set(paths.map { path in path.reduce(0) { $0 | (1 << $1) } })
        var ties = 0
        for (grid, mask) in zip(grids, found) {
            let costs = Self.clamped(grid, minCost)
            let all = paths.map { path in path.reduce(0.0) { $0 + costs[$1] } }
            let best = all.min()!
            let bits = (0..<n).reduce(0) { mask[$1] == 1 ? $0 | (1 << $1) : $0 }
            #expect(pathBits.contains(bits), "\(rows)x\(cols) \(grid): the mask is not a simple path")
            #expect(abs(Self.pathCost(mask, costs) - best) <= 1e-12 * best, "\(rows)x\(cols) \(grid): not optimal")
            #expect(mask == Self.tieRuleMask(rows: rows, cols: cols, costs: costs), "\(rows)x\(cols) \(grid): breaks the tie rule")
            if all.filter({ abs($0 - best) <= 1e-12 * best }).count > 1 { ties += 1 }
        }
        // 2×2 (the diagonal always wins) and 1×5 (one path) cannot tie; the others must, often.
        #expect(hasTies ? ties > grids.count / 20 : ties == 0, "\(ties) of \(grids.count) grids had tied optima")
    }
}

/// A tiny reproducible generator for test data.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
    /// Standard normal by Box–Muller.
    mutating func normal() -> Double {
        let u = 1 - unit()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * unit())
    }
}
