import Glibc

/// Adam (Kingma & Ba, 2015) exactly as PyTorch's `torch.optim.Adam` computes it (no weight
/// decay, no AMSGrad), so that experiments written against PyTorch transfer step for step:
///
///     m ← β₁m + (1 − β₁)g,   v ← β₂v + (1 − β₂)g²,
///     x ← x − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ϵ)
///
/// with t the number of steps taken so far (1 at the first step). Pure arithmetic: it sees
/// numbers, never black boxes, so it serves any gradient estimate.
public struct AdamOptimizer: Sendable, Equatable {
    /// β₁ ∈ [0, 1): the decay of the first-moment (mean gradient) average.
    public let beta1: Double
    /// β₂ ∈ [0, 1): the decay of the second-moment (squared gradient) average.
    public let beta2: Double
    /// ϵ > 0, added to the denominator so that a zero gradient does not divide by zero.
    public let epsilon: Double
    /// m, the running first moment (one per parameter).
    public private(set) var firstMoment: [Double]
    /// v, the running second moment (one per parameter).
    public private(set) var secondMoment: [Double]
    /// t, the steps taken.
    public private(set) var stepCount = 0

    /// PyTorch's defaults, β = (0.9, 0.999) and ϵ = 1e-8, are the common choice; the paper's
    /// camera-pose experiment (appendix D) uses β = (0.5, 0.99), which forgets noisy gradients faster.
    /// - Throws: `SmoothingError.invalidConfiguration` for β outside [0, 1), ϵ ≤ 0 or no parameters.
    public init(parameterCount: Int, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) throws(SmoothingError) {
        guard parameterCount >= 1 else { throw .invalidConfiguration("Adam needs at least one parameter, got \(parameterCount)") }
        for (name, beta) in [("--beta1", beta1), ("--beta2", beta2)] where !(beta >= 0 && beta < 1) {
            throw .invalidConfiguration("\(name) must lie in [0, 1), got \(beta)")
        }
        guard epsilon.isFinite && epsilon > 0 else { throw .invalidConfiguration("Adam's epsilon must be finite and positive, got \(epsilon)") }
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        firstMoment = Array(repeating: 0, count: parameterCount)
        secondMoment = firstMoment
    }

    /// One update of `parameters` along −`gradient` with step size `learningRate`.
    public mutating func step(_ parameters: inout [Double], gradient: [Double], learningRate: Double) {
        precondition(parameters.count == firstMoment.count && gradient.count == firstMoment.count,
                     "Adam was made for \(firstMoment.count) parameters")
        stepCount += 1
        let t = Double(stepCount)
        let firstCorrection = 1 - pow(beta1, t)
        let secondCorrectionRoot = (1 - pow(beta2, t)).squareRoot()
        let stepSize = learningRate / firstCorrection
        for j in parameters.indices {
            let g = gradient[j]
            firstMoment[j] = beta1 * firstMoment[j] + (1 - beta1) * g
            secondMoment[j] = beta2 * secondMoment[j] + (1 - beta2) * g * g
            // PyTorch's order of operations: ϵ is added after the bias correction of √v.
            let denominator = secondMoment[j].squareRoot() / secondCorrectionRoot + epsilon
            parameters[j] -= stepSize * firstMoment[j] / denominator
        }
    }
}
