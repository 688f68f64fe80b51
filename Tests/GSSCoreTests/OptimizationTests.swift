import Foundation
import GSSCore
import Numerics
import Testing

@Suite("Adam and its schedules")
struct AdamAndScheduleTests {
    /// Three steps worked by hand from PyTorch's update rule (β = (0.9, 0.999), η = 0.1, ϵ = 1e-8):
    /// step 1 moves every coordinate by η·sign(g) up to ϵ; step 2: m = (0.055, −0.06),
    /// v = (2.5975e-4, 1.089e-3), x₁ −= (0.1/0.19)·0.055/(√2.5975e-4/√0.001999 + ϵ) = 0.0803041.
    @Test("three Adam steps equal the hand-computed PyTorch values")
    func adamByHand() throws {
        var adam = try AdamOptimizer(parameterCount: 2, beta1: 0.9, beta2: 0.999)
        var x = [1.0, -2.0]
        let expected = [
            [0.900000002, -1.900000001],
            [0.8196959063846517, -1.8572151424292265],
            [0.7852605318354889, -1.8241423228510014],
        ]
        for (g, want) in zip([[0.5, -1.0], [0.1, 0.3], [-0.2, 0.0]], expected) {
            adam.step(&x, gradient: g, learningRate: 0.1)
            for j in 0..<2 { #expect(x[j].isApproximatelyEqual(to: want[j], relativeTolerance: 1e-12), "x = \(x), expected \(want)") }
        }
        #expect(adam.stepCount == 3)
    }

    @Test("with β = (0, 0) Adam is a sign step of size η; bad β and sizes are refused")
    func adamEdges() throws {
        var adam = try AdamOptimizer(parameterCount: 3, beta1: 0, beta2: 0)
        var x = [0.0, 0, 0]
        adam.step(&x, gradient: [4, -0.001, 0], learningRate: 0.5)
        #expect(x[0].isApproximatelyEqual(to: -0.5, relativeTolerance: 1e-8))
        #expect(x[1].isApproximatelyEqual(to: 0.5, relativeTolerance: 1e-4))
        #expect(x[2] == 0)
        for (b1, b2) in [(1.0, 0.9), (0.9, 1.0), (-0.1, 0.9), (0.9, .nan)] {
            #expect(throws: SmoothingError.self) { try AdamOptimizer(parameterCount: 1, beta1: b1, beta2: b2) }
        }
        #expect(throws: SmoothingError.self) { try AdamOptimizer(parameterCount: 0) }
    }

    @Test("cosine annealing: η₀(1 + cos(πt/N))/2, as PyTorch's CosineAnnealingLR with T_max = N")
    func cosine() throws {
        let schedule = try CosineAnnealingSchedule(initialRate: 0.3, steps: 4)
        let expected = [0.3, 0.2560660171779821, 0.15, 0.04393398282201788]
        for t in 0..<4 { #expect(schedule.rate(atStep: t).isApproximatelyEqual(to: expected[t], relativeTolerance: 1e-14)) }
        #expect(try CosineAnnealingSchedule(initialRate: 2, steps: 1).rate(atStep: 0) == 2)
        #expect(throws: SmoothingError.self) { try CosineAnnealingSchedule(initialRate: 0, steps: 4) }
        #expect(throws: SmoothingError.self) { try CosineAnnealingSchedule(initialRate: .infinity, steps: 4) }
        #expect(throws: SmoothingError.self) { try CosineAnnealingSchedule(initialRate: 0.1, steps: 0) }
    }

    @Test("exponential scale: start·(end/start)^(t/(N−1)) per coordinate; one number stands for all")
    func exponentialScale() throws {
        let schedule = try ExponentialScaleSchedule(start: [1, 10], end: [0.01, 10], dimension: 2, steps: 3)
        let expected = [[1.0, 10], [0.1, 10], [0.01, 10]]
        for t in 0..<3 {
            for j in 0..<2 { #expect(schedule.scale(atStep: t)[j].isApproximatelyEqual(to: expected[t][j], relativeTolerance: 1e-14)) }
        }
        // appendix D's diagonal: a factor 10^−2.5 over the run, 10^−1.25 halfway (N odd).
        let pose = try ExponentialScaleSchedule(start: [0.1, 5, 5, 0.25].map { $0 * pow(10, 0.75) },
                                                end: [0.1, 5, 5, 0.25].map { $0 * pow(10, -1.75) }, dimension: 4, steps: 1001)
        #expect(pose.scale(atStep: 500)[1].isApproximatelyEqual(to: 5 * pow(10, -0.5), relativeTolerance: 1e-12))
        #expect(try ExponentialScaleSchedule(start: [2], end: [1], dimension: 3, steps: 1).scale(atStep: 0) == [2, 2, 2])
        #expect(try ExponentialScaleSchedule(constant: [0.5], dimension: 2, steps: 9).scale(atStep: 7) == [0.5, 0.5])
    }

    @Test("scale schedules name the option that is wrong")
    func scaleErrors() {
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch let error as SmoothingError { return error.message } catch { return "\(error)" }
            return ""
        }
        #expect(message { _ = try ExponentialScaleSchedule(start: [0], end: [1], dimension: 2, steps: 3) }.contains("--scale-start values must be finite and positive"))
        #expect(message { _ = try ExponentialScaleSchedule(start: [1], end: [-1], dimension: 2, steps: 3) }.contains("--scale-end values"))
        #expect(message { _ = try ExponentialScaleSchedule(start: [1, 2, 3], end: [1], dimension: 2, steps: 3) }.contains("--scale-start needs 1 or 2 values"))
        #expect(message { _ = try ExponentialScaleSchedule(constant: [.nan], dimension: 2, steps: 3) }.contains("--scale values"))
    }

    @Test("mean squared error: (1/m)Σ(y − t)² with gradient 2(y − t)/m")
    func meanSquaredError() {
        let loss = DifferentiableLoss.meanSquaredError(target: [1, 0, -2, 0.5])
        #expect(loss.value([2, 0, 0, 0.5]) == 1.25)
        #expect(loss.gradient([2, 0, 0, 0.5]) == [0.5, 0, 1, 0])
    }

    @Test("step seeds: deterministic, distinct per step and per base seed")
    func stepSeeds() {
        let seeds = (0..<1000).map { LossMinimizationConfiguration.stepSeed(base: 7, step: $0) }
        #expect(Set(seeds).count == 1000)
        #expect(seeds[3] == LossMinimizationConfiguration.stepSeed(base: 7, step: 3))
        #expect(seeds[3] != LossMinimizationConfiguration.stepSeed(base: 8, step: 3))
    }
}

@Suite("Minimising a loss by smoothed gradients")
struct MinimizerTests {
    /// f(x) = Ax for a 3 × 2 matrix A; smoothing leaves it unchanged, so x* = argmin |Ax − t|² is known.
    static let a = [1.0, 0.5, -0.3, 2.0, 0.8, -1.0]
    static let linear = ClosureBlackBox(inputCount: 2, outputCount: 3, name: "linear") { x in
        (0..<3).map { i in a[2 * i] * x[0] + a[2 * i + 1] * x[1] }
    }
    static let optimum = [0.7, -0.4]
    static let target = (0..<3).map { i in a[2 * i] * optimum[0] + a[2 * i + 1] * optimum[1] }

    /// Three independent hard steps 1[x_i > 0]: no gradient anywhere, the target is a 0/1 pattern.
    static let steps = ClosureBlackBox(inputCount: 3, outputCount: 3, name: "steps") { x in x.map { $0 > 0 ? 1 : 0 } }

    static func configuration(_ target: SmoothingTarget, steps: Int = 5, seed: UInt64 = 5) -> LossMinimizationConfiguration {
        LossMinimizationConfiguration(
            smoothing: SmoothingConfiguration(distribution: .gaussian, samples: 64, sampler: .rqmcLatin, covariate: .loo, seed: seed),
            target: target, steps: steps, learningRate: 0.05, beta1: 0.5, beta2: 0.99, scaleStart: [0.5, 0.2], scaleEnd: [0.05, 0.02])
    }

    /// Every step must be: the estimate at (x_t, γ_t, stepSeed(t)) by the chosen smoothing, then
    /// Adam with η_t — replayed here from the parts, bit for bit.
    @Test("each step is the estimate at the scheduled scale and step seed, then Adam at the cosine rate", arguments: SmoothingTarget.allCases)
    func replay(target: SmoothingTarget) throws {
        let configuration = Self.configuration(target)
        let loss = DifferentiableLoss.meanSquaredError(target: Self.target)
        var seen: [Int] = []
        let result = try SmoothedLossMinimizer(configuration: configuration, threads: 2)
            .minimize(Self.linear, loss: loss, from: [-1, 1]) { seen.append($0.step) }
        #expect(seen == [0, 1, 2, 3, 4] && result.history.count == 5)
        let rates = try CosineAnnealingSchedule(initialRate: 0.05, steps: 5)
        let scales = try ExponentialScaleSchedule(start: [0.5, 0.2], end: [0.05, 0.02], dimension: 2, steps: 5)
        var adam = try AdamOptimizer(parameterCount: 2, beta1: 0.5, beta2: 0.99)
        var x = [-1.0, 1]
        for (t, step) in result.history.enumerated() {
            #expect(step.step == t && step.x == x)
            #expect(step.learningRate == rates.rate(atStep: t))
            #expect(step.scale == scales.scale(atStep: t))
            #expect(step.seed == LossMinimizationConfiguration.stepSeed(base: 5, step: t))
            var smoothing = configuration.smoothing
            smoothing.scale = scales.scale(atStep: t)
            smoothing.seed = step.seed
            let estimate = try Smoother(configuration: smoothing).lossGradient(Self.linear, at: x, loss: loss, smoothing: target)
            #expect(estimate.value == step.loss && estimate.gradient == step.gradient)
            adam.step(&x, gradient: estimate.gradient, learningRate: rates.rate(atStep: t))
        }
        #expect(result.x == x)
        #expect(result.finalOutput == (0..<3).map { i in Self.a[2 * i] * x[0] + Self.a[2 * i + 1] * x[1] })
        #expect(result.finalLoss == loss.value(result.finalOutput))
        #expect(result.initialLoss == loss.value([-0.5, 2.3, -1.8]))
    }

    @Test("a linear map converges to its least-squares solution, by either kind of smoothing", arguments: SmoothingTarget.allCases)
    func linearConverges(target: SmoothingTarget) throws {
        var configuration = Self.configuration(target, steps: 400, seed: 11)
        configuration.learningRate = 0.1
        configuration.smoothing.samples = 256
        let result = try SmoothedLossMinimizer(configuration: configuration, threads: 2)
            .minimize(Self.linear, loss: .meanSquaredError(target: Self.target), from: [-1, 1])
        let distance = zip(result.x, Self.optimum).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
        #expect(distance < 0.02, "\(target): ended at \(result.x), \(distance) from \(Self.optimum)")
        #expect(result.finalLoss < 1e-3 * result.initialLoss)
    }

    @Test("hard steps with no gradient reach the target pattern, by either kind of smoothing", arguments: SmoothingTarget.allCases)
    func stepsConverge(target: SmoothingTarget) throws {
        let configuration = LossMinimizationConfiguration(
            smoothing: SmoothingConfiguration(distribution: .logistic, samples: 64, sampler: .rqmcLatin, covariate: .loo, seed: 3),
            target: target, steps: 100, learningRate: 0.05, scaleStart: [0.5], scaleEnd: [0.05])
        let result = try SmoothedLossMinimizer(configuration: configuration)
            .minimize(Self.steps, loss: .meanSquaredError(target: [1, 0, 1]), from: [-0.5, 0.4, -0.3])
        #expect(result.initialLoss == 1)
        #expect(result.finalOutput == [1, 0, 1] && result.finalLoss == 0, "\(target): ended at \(result.x)")
    }

    @Test("the same seed gives the same bits for any thread count; another seed differs")
    func reproducible() throws {
        let configuration = Self.configuration(.algorithm, steps: 20)
        let loss = DifferentiableLoss.meanSquaredError(target: Self.target)
        let one = try SmoothedLossMinimizer(configuration: configuration, threads: 1).minimize(Self.linear, loss: loss, from: [0, 0])
        let four = try SmoothedLossMinimizer(configuration: configuration, threads: 4).minimize(Self.linear, loss: loss, from: [0, 0])
        #expect(one == four)
        let other = try SmoothedLossMinimizer(configuration: Self.configuration(.algorithm, steps: 20, seed: 6)).minimize(Self.linear, loss: loss, from: [0, 0])
        #expect(other.x != one.x)
    }

    @Test("bad settings are refused before the black box is evaluated")
    func invalidSettings() throws {
        let counter = EvaluationCounter()
        let counted = ClosureBlackBox(inputCount: 2, outputCount: 3, name: "counted") { x in
            counter.increment()
            return [x[0], x[1], 0]
        }
        let loss = DifferentiableLoss.meanSquaredError(target: [0, 0, 0])
        var cases: [(LossMinimizationConfiguration, [Double], String)] = []
        let good = Self.configuration(.algorithm)
        cases.append((good, [1, 2, 3], "--x0 needs 2 numbers"))
        cases.append((good, [1, .nan], "--x0 must hold finite numbers"))
        var bad = good
        bad.steps = 0
        cases.append((bad, [0, 0], "--steps must be at least 1"))
        bad = good
        bad.learningRate = -1
        cases.append((bad, [0, 0], "--lr must be finite and positive"))
        bad = good
        bad.scaleEnd = [0]
        cases.append((bad, [0, 0], "--scale-end values must be finite and positive"))
        bad = good
        bad.beta2 = 1
        cases.append((bad, [0, 0], "--beta2 must lie in [0, 1)"))
        bad = good
        bad.smoothing.scaleMatrix = try ScaleMatrix(dimension: 2, entries: [1, 0, 0, 1])
        cases.append((bad, [0, 0], "scale matrix is not supported"))
        bad = good
        bad.smoothing.samples = 1
        cases.append((bad, [0, 0], "samples"))
        bad = good
        bad.feasibleBox = try FeasibleBox(lower: [0], upper: [1])
        cases.append((bad, [0, 0], "the feasible box has 1 coordinates, the black box 2 inputs"))
        bad.feasibleBox = try FeasibleBox(lower: [0, 0], upper: [1, 1])
        cases.append((bad, [0.5, 2], "--x0 [0.5, 2.0] lies outside the feasible box [0.0, 1.0] × [0.0, 1.0]"))
        for (configuration, x0, phrase) in cases {
            do {
                _ = try SmoothedLossMinimizer(configuration: configuration).minimize(counted, loss: loss, from: x0)
                Issue.record("expected an error mentioning \(phrase)")
            } catch let error as SmoothingError {
                #expect(error.code == .invalidConfiguration && error.message.contains(phrase), "\(error.message)")
            }
        }
        #expect(counter.value == 0)
    }

    @Test("a feasible box: iterates are projected into it and the descent ends at the constrained optimum", arguments: SmoothingTarget.allCases)
    func projectedDescent(target: SmoothingTarget) throws {
        var configuration = Self.configuration(target, steps: 400, seed: 11)
        configuration.learningRate = 0.1
        configuration.smoothing.samples = 256
        // The unconstrained optimum (0.7, −0.4) lies outside: x₀ ≤ 0.5 binds.
        configuration.feasibleBox = try FeasibleBox(lower: [-1, -1], upper: [0.5, 1])
        let result = try SmoothedLossMinimizer(configuration: configuration, threads: 2)
            .minimize(Self.linear, loss: .meanSquaredError(target: Self.target), from: [-1, 1])
        #expect(result.history.allSatisfy { configuration.feasibleBox!.contains($0.x) } && configuration.feasibleBox!.contains(result.x))
        // With x₀ = 0.5 fixed, x₁ minimises |a₁x₁ − (t − 0.5·a₀)|²: a one-dimensional least-squares fit.
        let column0 = (0..<3).map { Self.a[2 * $0] }, column1 = (0..<3).map { Self.a[2 * $0 + 1] }
        let residual = (0..<3).map { Self.target[$0] - 0.5 * column0[$0] }
        let x1 = zip(column1, residual).map(*).reduce(0, +) / column1.map { $0 * $0 }.reduce(0, +)
        let distance = ((result.x[0] - 0.5) * (result.x[0] - 0.5) + (result.x[1] - x1) * (result.x[1] - x1)).squareRoot()
        #expect(distance < 0.02, "\(target): ended at \(result.x), \(distance) from [0.5, \(x1)]")
    }

    @Test("a feasible box projects by clamping and refuses inconsistent bounds")
    func feasibleBox() throws {
        let box = try FeasibleBox(lower: [0, -1], upper: [10, 1])
        #expect(box.project([-3, 0.5]) == [0, 0.5] && box.project([11, -2]) == [10, -1] && box.project([4, 1]) == [4, 1])
        #expect(box.contains([0, 1]) && !box.contains([0, 1.5]) && !box.contains([0]))
        #expect(throws: SmoothingError.self) { try FeasibleBox(lower: [1], upper: [0]) }
        #expect(throws: SmoothingError.self) { try FeasibleBox(lower: [0, 0], upper: [1]) }
        #expect(throws: SmoothingError.self) { try FeasibleBox(lower: [], upper: []) }
        #expect(throws: SmoothingError.self) { try FeasibleBox(lower: [-.infinity], upper: [0]) }
    }

    @Test("a failing black box names the step, the sample and the input")
    func failure() throws {
        let fragile = ClosureBlackBox(inputCount: 1, outputCount: 1, name: "fragile") { x in [x[0] > 5 ? .nan : x[0]] }
        let configuration = LossMinimizationConfiguration(
            smoothing: SmoothingConfiguration(samples: 32, seed: 1), steps: 50, learningRate: 1, scaleStart: [0.01], scaleEnd: [0.01])
        do {
            _ = try SmoothedLossMinimizer(configuration: configuration).minimize(fragile, loss: .meanSquaredError(target: [8]), from: [3])
            Issue.record("expected a failure once x passes 5")
        } catch let error as SmoothingError {
            #expect(error.code == .evaluationFailed)
            #expect(error.message.hasPrefix("step ") && error.message.contains("fragile failed at sample") && error.message.contains("non-finite"), "\(error.message)")
            #expect(try #require(error.input)[0] > 5)
        }
    }
}

/// Counts evaluations from any thread.
final class EvaluationCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func increment() { lock.withLock { count += 1 } }
}
