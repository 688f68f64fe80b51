/// A differentiable loss ℓ: R^m → R with its gradient, for smoothing the algorithm h rather than
/// the objective ℓ∘h (the paper's section 2.3). ℓ must accept relaxed outputs: the smoothed
/// h_ε(x) of a 0/1-valued h lies in [0, 1], not in {0, 1}.
public struct DifferentiableLoss: Sendable {
    /// ℓ(y) for y of m numbers.
    public let value: @Sendable ([Double]) -> Double
    /// ∇ℓ(y), m numbers.
    public let gradient: @Sendable ([Double]) -> [Double]

    /// A loss from its value and gradient closures (both must be safe to call from any thread).
    public init(value: @escaping @Sendable ([Double]) -> Double, gradient: @escaping @Sendable ([Double]) -> [Double]) {
        self.value = value
        self.gradient = gradient
    }

    /// ℓ(y) = ½ |y − t|², with ∇ℓ(y) = y − t.
    public static func squaredError(target t: [Double]) -> DifferentiableLoss {
        DifferentiableLoss(
            value: { y in
                precondition(y.count == t.count, "the loss expects \(t.count) numbers, got \(y.count)")
                return 0.5 * zip(y, t).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            },
            gradient: { y in
                precondition(y.count == t.count, "the loss expects \(t.count) numbers, got \(y.count)")
                return zip(y, t).map { $0 - $1 }
            })
    }
}

/// Which function is smoothed when a loss ℓ sits on top of an algorithm h (section 2.3).
public enum SmoothingTarget: String, CaseIterable, Sendable, Codable {
    /// f = h: the loss of the smoothed algorithm, ℓ(E[h(x + ε)]); ℓ must be differentiable, the
    /// gradient flows through the smoothed Jacobian (chain rule).
    case algorithm
    /// f = ℓ∘h: the smoothed loss, E[ℓ(h(x + ε))]; ℓ needs no derivative and may be discrete.
    case objective
}

/// A loss value and its gradient in x, from either kind of smoothing.
public struct LossEstimate: Sendable, Equatable {
    /// Which kind of smoothing produced it.
    public let target: SmoothingTarget
    /// ℓ(h_ε(x)) when smoothing the algorithm, (ℓ∘h)_ε(x) when smoothing the objective.
    public let value: Double
    /// ∇_x of `value` (n numbers).
    public let gradient: [Double]
    /// Per-entry standard errors of `gradient` when smoothing the objective (a plain smoothed
    /// gradient); nil when smoothing the algorithm, whose gradient Ĵᵀ∇ℓ(ĥ) is a product of two
    /// estimates from the same samples.
    public let gradientStderr: [Double]?
    /// ∂/∂γ (n) or ∂/∂L (n × n, row-major) of `value`, when the configuration differentiates the scale.
    public let scaleGradient: [Double]?
    /// The underlying estimate: of h (m outputs) for `.algorithm`, of ℓ∘h (one output) for `.objective`.
    public let smoothed: SmoothedEstimate
}

/// The scalar black box ℓ∘h: evaluates h on a batch and applies ℓ to every output row.
/// Smoothing it is smoothing the objective (section 2.3).
public struct LossComposedBlackBox: BlackBox {
    /// h, the algorithm.
    public let algorithm: any BlackBox
    /// ℓ, applied to every output row of h.
    public let loss: @Sendable ([Double]) -> Double
    /// n, h's input count.
    public var inputCount: Int { algorithm.inputCount }
    /// 1: ℓ∘h is scalar.
    public var outputCount: Int { 1 }
    /// "loss of <h's name>", for messages.
    public var displayName: String { "loss of \(algorithm.displayName)" }

    /// ℓ∘h for an algorithm h: R^n → R^m and a loss ℓ: R^m → R (any function; no gradient needed).
    public init(algorithm: any BlackBox, loss: @escaping @Sendable ([Double]) -> Double) {
        self.algorithm = algorithm
        self.loss = loss
    }

    /// One evaluator of h per worker, each wrapped with ℓ; throws what h's evaluators throw.
    public func makeEvaluators(count: Int) throws -> [any BatchEvaluator] {
        try algorithm.makeEvaluators(count: count).map {
            Evaluator(inner: $0, outputCount: algorithm.outputCount, loss: loss)
        }
    }

    /// Wraps one worker's evaluator of h with a scratch buffer for h's outputs.
    private final class Evaluator: BatchEvaluator, @unchecked Sendable {
        let inner: any BatchEvaluator
        let outputCount: Int
        let loss: @Sendable ([Double]) -> Double
        var scratch: [Double] = []

        init(inner: any BatchEvaluator, outputCount: Int, loss: @escaping @Sendable ([Double]) -> Double) {
            self.inner = inner
            self.outputCount = outputCount
            self.loss = loss
        }

        func evaluate(_ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>) throws {
            let m = outputCount
            if scratch.count < rows * m { scratch = Array(repeating: 0, count: rows * m) }
            try scratch.withUnsafeMutableBufferPointer { y in
                try inner.evaluate(inputs, rows: rows, into: y.baseAddress!)
            }
            for r in 0..<rows {
                let row = Array(scratch[r * m..<(r + 1) * m])
                outputs[r] = row.allSatisfy(\.isFinite) ? loss(row) : .nan
            }
        }
    }
}

extension Smoother {
    /// Smoothing the algorithm (f = h): estimates h_ε(x) and its Jacobian, then returns
    /// ℓ(h_ε(x)) and ∇_x(ℓ∘h_ε)(x) = J_{h_ε}(x)ᵀ ∇ℓ(h_ε(x)) by the chain rule (and likewise for the
    /// scale, when the configuration differentiates it).
    /// - Throws: what `estimate(_:at:)` throws; `.invalidConfiguration` when ∇ℓ returns the wrong
    ///   number of entries or a non-finite one, or for median smoothing (defined for scalar f only).
    public func lossOfSmoothedAlgorithm(
        _ algorithm: some BlackBox, at x: [Double], loss: DifferentiableLoss
    ) throws -> LossEstimate {
        guard configuration.medianSampleCount == nil else {
            throw SmoothingError.invalidConfiguration(
                "smoothing the algorithm needs the mean of h; median smoothing applies to scalar functions, so smooth the objective instead")
        }
        let smoothed = try estimate(algorithm, at: x)
        let n = smoothed.inputCount
        let m = smoothed.outputCount
        let outer = loss.gradient(smoothed.value)
        guard outer.count == m, outer.allSatisfy(\.isFinite) else {
            throw SmoothingError.invalidConfiguration(
                "the loss gradient must return \(m) finite numbers at the smoothed value, got \(outer)")
        }
        // vᵀJ for v = ∇ℓ, J an m × columns row-major matrix.
        func pullBack(_ matrix: [Double], columns: Int) -> [Double] {
            var result = [Double](repeating: 0, count: columns)
            for i in 0..<m where outer[i] != 0 {
                for j in 0..<columns { result[j] += outer[i] * matrix[i * columns + j] }
            }
            return result
        }
        let scaleGradient =
            smoothed.scaleGradient.map { pullBack($0, columns: n) }
            ?? smoothed.scaleMatrixGradient.map { pullBack($0, columns: n * n) }
        return LossEstimate(
            target: .algorithm, value: loss.value(smoothed.value), gradient: pullBack(smoothed.jacobian, columns: n),
            gradientStderr: nil, scaleGradient: scaleGradient, smoothed: smoothed)
    }

    /// Smoothing the objective (f = ℓ∘h): smooths the scalar black box `LossComposedBlackBox`
    /// and returns its value and gradient (with standard errors). Only ℓ's value is used.
    /// - Throws: what `estimate(_:at:)` throws; a loss that returns a non-finite number fails
    ///   like a black box returning one.
    public func smoothedObjective(
        _ algorithm: some BlackBox, at x: [Double], loss: @escaping @Sendable ([Double]) -> Double
    ) throws -> LossEstimate {
        let smoothed = try estimate(LossComposedBlackBox(algorithm: algorithm, loss: loss), at: x)
        return LossEstimate(
            target: .objective, value: smoothed.value[0], gradient: smoothed.jacobian,
            gradientStderr: smoothed.jacobianStderr,
            scaleGradient: smoothed.scaleGradient ?? smoothed.scaleMatrixGradient, smoothed: smoothed)
    }

    /// The loss and its gradient by either kind of smoothing — the one call an optimiser needs.
    public func lossGradient(
        _ algorithm: some BlackBox, at x: [Double], loss: DifferentiableLoss, smoothing target: SmoothingTarget
    ) throws -> LossEstimate {
        switch target {
        case .algorithm: return try lossOfSmoothedAlgorithm(algorithm, at: x, loss: loss)
        case .objective: return try smoothedObjective(algorithm, at: x, loss: loss.value)
        }
    }
}
