import GSSCore
import GSSHost
import GSSTestSupport
import Testing

@Suite("The sorter plugin")
struct SorterPluginTests {
    func evaluate(_ x: [Double], options: [(String, String)] = []) throws -> [Double] {
        let box = try PluginBlackBox(library: try PluginLibrary.open(path: Products.bundled("sorter")), options: options)
        let evaluator = try box.makeEvaluators(count: 1)[0]
        var y = [Double](repeating: .nan, count: box.outputCount)
        try evaluator.evaluate(x, rows: 1, into: &y)
        return y
    }

    @Test("the permutation matrix has a one at each element's ascending rank")
    func permutationMatrix() throws {
        let y = try evaluate([0.3, -1, 2, 0.5, -0.2])
        let ranks = [2, 0, 4, 3, 1]
        for i in 0..<5 {
            for j in 0..<5 { #expect(y[i * 5 + j] == (ranks[i] == j ? 1 : 0)) }
        }
    }

    @Test("ties are broken by index: the lower index gets the lower rank")
    func ties() throws {
        #expect(try evaluate([1, 1, 0, 1], options: [("n", "4"), ("mode", "ranks")]) == [1, 2, 0, 3])
        #expect(try evaluate([2, 2, 2], options: [("n", "3"), ("mode", "ranks")]) == [0, 1, 2])
    }

    @Test("large n (sorting path) agrees with the quadratic path")
    func largeN() throws {
        let n = 100
        let x = (0..<n).map { Double(($0 * 37) % n) / 7 }  // a permutation with no ties
        let ranks = try evaluate(x, options: [("n", "\(n)"), ("mode", "ranks")])
        let expected = x.map { xi in Double(x.filter { $0 < xi }.count) }
        #expect(ranks == expected)
    }

    @Test("batches give the same rows as single calls; the default input is a valid point")
    func batching() throws {
        let library = try PluginLibrary.open(path: Products.bundled("sorter"))
        let box = try PluginBlackBox(library: library, options: [])
        let x0 = try #require(box.primary.defaultInput())
        #expect(x0.count == 5 && Set(x0).count == 5)
        let evaluator = try box.makeEvaluators(count: 1)[0]
        let rows: [Double] = [0.1, 0.2, 0.3, 0.4, 0.5, 5, 4, 3, 2, 1, -1, 1, -1, 1, 0]
        var batch = [Double](repeating: 0, count: 75)
        try evaluator.evaluate(rows, rows: 3, into: &batch)
        for r in 0..<3 {
            #expect(Array(batch[(r * 25)..<((r + 1) * 25)]) == (try evaluate(Array(rows[(r * 5)..<((r + 1) * 5)]))))
        }
    }

    @Test("the plugin's smoothed Jacobian matches the exact smoothed permutation matrix")
    func smoothedAgainstOracle() throws {
        let box = try PluginBlackBox(library: try PluginLibrary.open(path: Products.bundled("sorter")), options: [])
        let x = [-0.71, -0.29, 0.04, 0.36, 0.82]
        let configuration = SmoothingConfiguration(distribution: .logistic, samples: 4096, sampler: .mc, covariate: .loo, seed: 1)
        let estimate = try Smoother(configuration: configuration, threads: 2).estimate(box, at: x)
        let exact = SmoothedSorting(distribution: .logistic, scale: [1]).jacobian(at: x)
        let worst = zip(zip(estimate.jacobian, exact), estimate.jacobianStderr).map { abs($0.0 - $0.1) / $1 }.max()!
        #expect(worst <= 5, "largest deviation is \(worst) standard errors")
    }
}
