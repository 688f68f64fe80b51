// Using GSSCore directly from Swift, without the `gss` command: smooth Swift closures, read the
// value, the Jacobian with standard errors, the derivative in the scale, and the gradient of a
// loss by either kind of smoothing (the paper's section 2.3). Run it with
//     swift run library-usage
import Foundation
import GSSCore

func show(_ label: String, _ values: [Double], _ errors: [Double]? = nil) {
    let entries = values.indices.map { i in
        let value = String(format: "%+.4f", values[i])
        guard let errors else { return value }
        return value + " ± " + String(format: "%.4f", errors[i])
    }
    print("  \(label.padding(toLength: 22, withPad: " ", startingAt: 0)) [\(entries.joined(separator: ", "))]")
}

// 1. A hard threshold f(x) = 1[x₀ + 2x₁ > 1]: no useful gradient, but its smoothing has one.
let threshold = ClosureBlackBox(inputCount: 2, outputCount: 1, name: "threshold") { x in
    [x[0] + 2 * x[1] > 1 ? 1 : 0]
}
let configuration = SmoothingConfiguration(
    distribution: .logistic, scale: [0.5, 0.5], samples: 20_000, sampler: .rqmcLatin, covariate: .loo, seed: 42,
    differentiatesScale: true)
let smoother = Smoother(configuration: configuration, threads: 4)
let x = [0.2, 0.3]
let estimate = try smoother.estimate(threshold, at: x)
print("threshold 1[x0 + 2 x1 > 1] at x = \(x), logistic noise, γ = 0.5:")
show("value f_ε(x)", estimate.value, estimate.valueStderr)
show("gradient ∂/∂x", estimate.jacobian, estimate.jacobianStderr)
show("scale gradient ∂/∂γ", estimate.scaleGradient!, estimate.scaleGradientStderr!)

// 2. The same threshold smoothed with a full scale matrix L (correlated noise x + Lε).
var correlated = configuration
correlated.scale = [1]
correlated.scaleMatrix = try ScaleMatrix(dimension: 2, entries: [0.5, 0.0, 0.3, 0.2])
let withMatrix = try Smoother(configuration: correlated, threads: 4).estimate(threshold, at: x)
print("\nthe same with a scale matrix L = [[0.5, 0], [0.3, 0.2]]:")
show("value", withMatrix.value, withMatrix.valueStderr)
show("gradient ∂/∂x", withMatrix.jacobian, withMatrix.jacobianStderr)
show("∂/∂L (row-major)", withMatrix.scaleMatrixGradient!, withMatrix.scaleMatrixGradientStderr!)

// 3. A sorter (x ↦ hard permutation matrix) under a loss: smoothing the algorithm backpropagates
//    ∇ℓ through the smoothed Jacobian; smoothing the objective smooths ℓ∘sort directly.
let n = 4
let sorter = ClosureBlackBox(inputCount: n, outputCount: n * n, name: "sorter") { x in
    var permutation = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
        let rank = (0..<n).filter { x[$0] < x[i] || (x[$0] == x[i] && $0 < i) }.count
        permutation[i * n + rank] = 1
    }
    return permutation
}
var identity = [Double](repeating: 0, count: n * n)
for i in 0..<n { identity[i * n + i] = 1 }
let loss = DifferentiableLoss.squaredError(target: identity)  // "x should already be sorted"
let scores = [0.4, 0.1, 0.9, 0.7]
let sortSmoother = Smoother(
    configuration: SmoothingConfiguration(distribution: .gaussian, scale: [0.3], samples: 20_000, seed: 7), threads: 4)
print("\nsorter at x = \(scores), loss ½|P(x) − I|², Gaussian noise, γ = 0.3:")
for target in SmoothingTarget.allCases {
    let result = try sortSmoother.lossGradient(sorter, at: scores, loss: loss, smoothing: target)
    print("  smoothing the \(target.rawValue): loss \(String(format: "%.4f", result.value))")
    show("  ∇x", result.gradient, result.gradientStderr)
}

// 4. Heavy tails: f(x) = x under Cauchy noise has no mean, but the 5-sample median smoothing is
//    well defined, with value x and gradient 1.
let identityBox = ClosureBlackBox(inputCount: 1, outputCount: 1, name: "identity") { x in [x[0]] }
let median = try Smoother(
    configuration: SmoothingConfiguration(distribution: .cauchy, samples: 20_000, sampler: .mc, seed: 3, medianSampleCount: 5),
    threads: 4
).estimate(identityBox, at: [1.5])
print("\nf(x) = x at x = 1.5 under Cauchy noise, 5-sample median smoothing:")
show("value", median.value, median.valueStderr)
show("gradient", median.jacobian, median.jacobianStderr)
