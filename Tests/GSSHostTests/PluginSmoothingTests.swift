import GSSCore
import GSSHost
import GSSTestSupport
import Testing

/// A plugin is just another black box to the estimators: smoothing the bundled sorter through
/// the host gives bit for bit what smoothing the same function written in Swift gives.
@Suite("Smoothing a plugin through the host")
struct PluginSmoothingTests {
    @Test("the sorter plugin and a Swift sorter give identical scale-matrix and covariance estimates")
    func pluginMatchesSwiftFunction() throws {
        let plugin = try PluginBlackBox(library: try PluginLibrary.open(path: Products.bundled("sorter")), options: [("n", "3")])
        let swiftSorter = ClosureBlackBox(inputCount: 3, outputCount: 9) { x in
            var y = [Double](repeating: 0, count: 9)
            for i in 0..<3 {
                let rank = (0..<3).filter { x[$0] < x[i] || (x[$0] == x[i] && $0 < i) }.count
                y[i * 3 + rank] = 1
            }
            return y
        }
        let configuration = SmoothingConfiguration(
            distribution: .logistic, samples: 2000, sampler: .rqmcLatin, seed: 5,
            scaleMatrix: try ScaleMatrix(dimension: 3, entries: [1, 0, 0, 0.5, 1, 0, 0, -0.5, 2]),
            differentiatesScale: true, estimatesCovariance: true)
        let x = [0.3, -0.1, 0.2]
        let viaPlugin = try Smoother(configuration: configuration, threads: 2).estimate(plugin, at: x)
        let inSwift = try Smoother(configuration: configuration, threads: 2).estimate(swiftSorter, at: x)
        #expect(viaPlugin == inSwift)
    }
}
