import GSSCore
import RealModule
import Testing

@Suite("Exact smoothed sorting (the oracle)")
struct SmoothedSortingTests {
    @Test("two elements under Gaussian noise: P = Φ((x1 − x0)/√2) and its derivative")
    func twoElementsClosedForm() {
        let x = [0.3, -0.4]
        let oracle = SmoothedSorting(distribution: .gaussian, scale: [1])
        let p = oracle.permutationMatrix(at: x)
        let d = (x[1] - x[0]) / 2.0.squareRoot()
        let below = Distribution.gaussian.cdf(d)  // P(x0 + ε0 < x1 + ε1): x0 has rank 0
        #expect(p[0].isApproximatelyEqual(to: below, absoluteTolerance: 1e-12))
        #expect(p[1].isApproximatelyEqual(to: 1 - below, absoluteTolerance: 1e-12))
        let jacobian = oracle.jacobian(at: x)
        let slope = Distribution.gaussian.density(d) / 2.0.squareRoot()
        #expect(jacobian[0].isApproximatelyEqual(to: -slope, absoluteTolerance: 1e-9))  // ∂P00/∂x0
        #expect(jacobian[1].isApproximatelyEqual(to: slope, absoluteTolerance: 1e-9))  // ∂P00/∂x1
    }

    @Test("rows and columns of P sum to one; Jacobian rows of each P row sum to zero", arguments: [Distribution.gaussian, .logistic, .laplace])
    func doublyStochastic(distribution: Distribution) {
        let x = [-0.71, -0.29, 0.04, 0.36, 0.82]
        let oracle = SmoothedSorting(distribution: distribution, scale: [1, 0.5, 1, 2, 1])
        let p = oracle.permutationMatrix(at: x)
        for i in 0..<5 {
            #expect((0..<5).reduce(0.0) { $0 + p[i * 5 + $1] }.isApproximatelyEqual(to: 1, absoluteTolerance: 1e-11))
            #expect((0..<5).reduce(0.0) { $0 + p[$1 * 5 + i] }.isApproximatelyEqual(to: 1, absoluteTolerance: 1e-11))
        }
        // Shifting every x by the same amount changes nothing: each row of J sums to zero over k.
        let jacobian = oracle.jacobian(at: x)
        for row in 0..<25 {
            #expect((0..<5).reduce(0.0) { $0 + jacobian[row * 5 + $1] }.isApproximatelyEqual(to: 0, absoluteTolerance: 1e-8))
        }
    }
}
