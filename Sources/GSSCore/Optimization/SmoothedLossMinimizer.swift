extension DifferentiableLoss {
    /// ℓ(y) = (1/m) Σ (y_i − t_i)², the mean squared error, with ∇ℓ(y) = 2(y − t)/m.
    public static func meanSquaredError(target t: [Double]) -> DifferentiableLoss {
        let m = Double(t.count)
        return DifferentiableLoss(
            value: { y in
                precondition(y.count == t.count, "the loss expects \(t.count) numbers, got \(y.count)")
                var sum = 0.0
                for i in t.indices { sum += (y[i] - t[i]) * (y[i] - t[i]) }
                return sum / m
            },
            gradient: { y in
                precondition(y.count == t.count, "the loss expects \(t.count) numbers, got \(y.count)")
                return t.indices.map { 2 * (y[$0] - t[$0]) / m }
            })
    }
}

/// How `SmoothedLossMinimizer` descends: Adam on a cosine-annealed learning rate, with the
/// smoothing scale on an exponential schedule (the protocol of the paper's appendix D).
public struct LossMinimizationConfiguration: Sendable, Equatable {
    /// The estimator settings of every step: distribution, samples, sampler, antithetic pairs,
    /// covariate, and the base seed. Its `scale` is ignored (the schedule sets γ at every step);
    /// a scale matrix is refused.
    public var smoothing: SmoothingConfiguration
    /// Smooth the algorithm h (chain rule through the smoothed Jacobian) or the objective ℓ∘h.
    public var target: SmoothingTarget
    /// N ≥ 1 Adam steps.
    public var steps: Int
    /// η₀ > 0, the first step's learning rate, annealed by a cosine towards 0 over the N steps.
    public var learningRate: Double
    /// Adam's β₁ (PyTorch's default 0.9; appendix D's rendering experiment uses 0.5).
    public var beta1: Double
    /// Adam's β₂ (PyTorch's default 0.999; appendix D's rendering experiment uses 0.99).
    public var beta2: Double
    /// γ at the first step: one number, or one per coordinate.
    public var scaleStart: [Double]
    /// γ at the last step: one number, or one per coordinate (equal to `scaleStart` for a constant scale).
    public var scaleEnd: [Double]
    /// Where the iterates must stay: after every Adam step x is projected (clamped) into the box.
    /// nil: unconstrained. The perturbed inputs x + γε of an estimate may still leave it.
    public var feasibleBox: FeasibleBox?

    /// A configuration; nothing is checked until `SmoothedLossMinimizer.minimize` runs.
    public init(
        smoothing: SmoothingConfiguration, target: SmoothingTarget = .algorithm, steps: Int, learningRate: Double,
        beta1: Double = 0.9, beta2: Double = 0.999, scaleStart: [Double], scaleEnd: [Double], feasibleBox: FeasibleBox? = nil
    ) {
        self.smoothing = smoothing
        self.target = target
        self.steps = steps
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.scaleStart = scaleStart
        self.scaleEnd = scaleEnd
        self.feasibleBox = feasibleBox
    }

    /// The seed of step t's estimate: a Philox hash of (base seed, t), so that steps draw
    /// independent noise and a run is reproduced from the base seed alone.
    public static func stepSeed(base: UInt64, step t: Int) -> UInt64 {
        // A stream id of its own, apart from the samplers' streams under any seed.
        Philox4x32(seed: base).bits(stream: 0x4F50_5449, index: UInt64(t)).0
    }
}

/// One step of the descent, as the optimiser saw it (before its update).
public struct MinimizationStep: Sendable, Equatable {
    /// t, from 0.
    public let step: Int
    /// x_t, where the loss and its gradient were estimated.
    public let x: [Double]
    /// The estimated loss at x_t: ℓ(h_ε(x_t)) when smoothing the algorithm, (ℓ∘h)_ε(x_t) when
    /// smoothing the objective — so the two kinds are not directly comparable (the latter also
    /// counts the noise's spread).
    public let loss: Double
    /// The estimated ∇_x of `loss` that Adam used.
    public let gradient: [Double]
    /// η_t.
    public let learningRate: Double
    /// γ_t, one per coordinate.
    public let scale: [Double]
    /// The seed of this step's estimate.
    public let seed: UInt64
}

/// What a descent produced: the final point, how it got there, and the unsmoothed loss of h at
/// its start and end — the measure that is comparable across kinds of smoothing.
public struct MinimizationResult: Sendable, Equatable {
    /// x_N, after the last update.
    public let x: [Double]
    /// One record per step.
    public let history: [MinimizationStep]
    /// h(x₀), the unsmoothed output at the start.
    public let initialOutput: [Double]
    /// ℓ(h(x₀)).
    public let initialLoss: Double
    /// h(x_N), the unsmoothed output at the end.
    public let finalOutput: [Double]
    /// ℓ(h(x_N)).
    public let finalLoss: Double
}

/// Minimises ℓ(h(x)) for a black box h without a gradient, by Adam on smoothed gradient
/// estimates: at step t it estimates the loss and its gradient at x_t with scale γ_t and seed
/// `stepSeed(base, t)` — by smoothing the algorithm (∇ = Ĵᵀ∇ℓ(ĥ), section 2.3) or the objective
/// (ℓ∘h as one scalar black box) — and takes one Adam step with learning rate η_t, projected into
/// the feasible box when the configuration has one.
///
/// Deterministic: the same configuration, x₀ and black box give the same bits for any thread count.
public struct SmoothedLossMinimizer: Sendable {
    /// The descent's settings.
    public var configuration: LossMinimizationConfiguration
    /// Worker threads of every estimate (never changes the results).
    public var threads: Int
    /// Where every estimate's calls run (never changes the results); single evaluations run on its coordinator.
    public var executor: any ChunkExecutor

    public init(configuration: LossMinimizationConfiguration, threads: Int = 1, executor: any ChunkExecutor = LocalChunkExecutor()) {
        self.configuration = configuration
        self.threads = max(1, threads)
        self.executor = executor
    }

    /// Runs the descent from x₀. `onStep` is called after every step's estimate (before the update),
    /// on the calling thread — for progress reports.
    /// - Throws: `SmoothingError.invalidConfiguration` for bad settings or a bad x₀ (before any
    ///   evaluation), `.evaluationFailed` when h fails (naming the step, sample and input).
    public func minimize(
        _ blackBox: some BlackBox, loss: DifferentiableLoss, from x0: [Double],
        onStep: (MinimizationStep) -> Void = { _ in }
    ) throws -> MinimizationResult {
        let n = blackBox.inputCount
        let settings = configuration
        guard x0.count == n else {
            throw SmoothingError.invalidConfiguration("--x0 needs \(n) numbers for this black box, got \(x0.count)")
        }
        if let bad = x0.firstIndex(where: { !$0.isFinite }) {
            throw SmoothingError.invalidConfiguration("--x0 must hold finite numbers, but entry \(bad) is \(x0[bad])")
        }
        if let box = settings.feasibleBox {
            guard box.dimension == n else {
                throw SmoothingError.invalidConfiguration("the feasible box has \(box.dimension) coordinates, the black box \(n) inputs")
            }
            guard box.contains(x0) else {
                throw SmoothingError.invalidConfiguration("--x0 \(x0) lies outside the feasible box \(zip(box.lower, box.upper).map { "[\($0), \($1)]" }.joined(separator: " × "))")
            }
        }
        guard settings.smoothing.scaleMatrix == nil else {
            throw SmoothingError.invalidConfiguration("the descent schedules a diagonal scale; a scale matrix is not supported")
        }
        let rates = try CosineAnnealingSchedule(initialRate: settings.learningRate, steps: settings.steps)
        let scales = try ExponentialScaleSchedule(start: settings.scaleStart, end: settings.scaleEnd, dimension: n, steps: settings.steps)
        var adam = try AdamOptimizer(parameterCount: n, beta1: settings.beta1, beta2: settings.beta2)
        var smoothing = settings.smoothing
        smoothing.scale = scales.start
        try smoothing.validate(inputCount: n, outputCount: settings.target == .objective ? 1 : blackBox.outputCount)
        // The sampler's own rules (s ≥ 2, s = k^n, powers of two) too, before anything is evaluated.
        _ = try PointSet(strategy: smoothing.sampler, antithetic: smoothing.antithetic, count: smoothing.samples, dimension: n, seed: smoothing.seed)

        let initialOutput = try executor.fromCoordinator(.doubles, recorded: true) { try blackBox.output(at: x0, label: "the start x0") }
        var x = x0
        var history: [MinimizationStep] = []
        history.reserveCapacity(settings.steps)
        // One smoother for every step, so that its workers' buffers are reused step after step.
        var smoother = Smoother(configuration: smoothing, threads: threads, executor: executor)
        for t in 0..<settings.steps {
            smoothing.scale = scales.scale(atStep: t)
            smoothing.seed = LossMinimizationConfiguration.stepSeed(base: settings.smoothing.seed, step: t)
            smoother.configuration = smoothing
            let estimate: LossEstimate
            do {
                estimate = try smoother.lossGradient(blackBox, at: x, loss: loss, smoothing: settings.target)
            } catch let error as SmoothingError where error.code == .evaluationFailed {
                throw SmoothingError(code: error.code, message: "step \(t): " + error.message, sampleIndex: error.sampleIndex, input: error.input)
            }
            let record = MinimizationStep(
                step: t, x: x, loss: estimate.value, gradient: estimate.gradient, learningRate: rates.rate(atStep: t),
                scale: smoothing.scale, seed: smoothing.seed)
            onStep(record)
            history.append(record)
            adam.step(&x, gradient: estimate.gradient, learningRate: record.learningRate)
            if let box = settings.feasibleBox { x = box.project(x) }
        }
        let finalOutput = try executor.fromCoordinator(.doubles, recorded: true) { try blackBox.output(at: x, label: "the result x") }
        return MinimizationResult(
            x: x, history: history, initialOutput: initialOutput, initialLoss: loss.value(initialOutput),
            finalOutput: finalOutput, finalLoss: loss.value(finalOutput))
    }
}

extension BlackBox {
    /// f(x) for one row, unsmoothed, with the estimators' checks: a failure or a non-finite output
    /// is a `SmoothingError` with code `.evaluationFailed` naming `label` and the input.
    public func output(at x: [Double], label: String = "x") throws -> [Double] {
        guard x.count == inputCount else {
            throw SmoothingError.invalidConfiguration("\(label) needs \(inputCount) numbers for \(displayName), got \(x.count)")
        }
        var y = [Double](repeating: .nan, count: outputCount)
        func failure(_ reason: String) -> SmoothingError {
            SmoothingError(code: .evaluationFailed, message: "\(displayName) failed at \(label) (input \(formatRow(x))): \(reason)", input: x)
        }
        do {
            let evaluator = try makeEvaluators(count: 1)[0]
            try x.withUnsafeBufferPointer { input in
                try y.withUnsafeMutableBufferPointer { output in
                    try evaluator.evaluate(input.baseAddress!, rows: 1, into: output.baseAddress!)
                }
            }
        } catch {
            throw failure("\(error)")
        }
        if let bad = y.firstIndex(where: { !$0.isFinite }) {
            throw failure("it returned a non-finite output (\(y[bad]) in output \(bad))")
        }
        return y
    }
}
