import GSSCore
import RealModule
import Testing

@Suite("Smoothed value and Jacobian")
struct SmootherTests {
    static let firstSlice: [Distribution] = [.gaussian, .logistic]

    @Test("a linear f gives its matrix", arguments: firstSlice, Covariate.allCases)
    func linearFunction(distribution: Distribution, covariate: Covariate) throws {
        let a: [Double] = [1.5, -2, 0.5, 3, 0, 1, -1, 2, 0.25, -0.75, 4, -3]  // 3 × 4
        let linear = ClosureBlackBox(inputCount: 4, outputCount: 3) { x in
            (0..<3).map { i in (0..<4).reduce(0.0) { $0 + a[i * 4 + $1] * x[$1] } }
        }
        let x = [0.3, -1.2, 2.0, 0.7]
        let configuration = SmoothingConfiguration(
            distribution: distribution, scale: [0.5, 1, 2, 0.25], samples: 20000, sampler: .mc,
            covariate: covariate, seed: 17)
        let estimate = try Smoother(configuration: configuration, threads: 2).estimate(linear, at: x)
        expectWithinStandardErrors(estimate.jacobian, a, stderr: estimate.jacobianStderr, "\(distribution) \(covariate) Jacobian")
        let ax = (0..<3).map { i in (0..<4).reduce(0.0) { $0 + a[i * 4 + $1] * x[$1] } }
        expectWithinStandardErrors(estimate.value, ax, stderr: estimate.valueStderr, "\(distribution) \(covariate) value")
    }

    /// f_i(x) = 1[x_i > c_i]: the smoothed value is 1 − F((c − x)/γ), the derivative μ((c − x)/γ)/γ.
    @Test("a Heaviside step gives the known density", arguments: firstSlice, [SamplingStrategy.mc, .rqmcLatin])
    func heavisideStep(distribution: Distribution, sampler: SamplingStrategy) throws {
        let thresholds = [0.0, 0.3, -1.0]
        let step = ClosureBlackBox(inputCount: 3, outputCount: 3) { x in
            (0..<3).map { x[$0] > thresholds[$0] ? 1 : 0 }
        }
        let x = [0.2, -0.4, 1.5]
        let gamma = [1.0, 0.5, 2.0]
        let configuration = SmoothingConfiguration(
            distribution: distribution, scale: gamma, samples: 8192, sampler: sampler, covariate: .loo, seed: 5)
        let estimate = try Smoother(configuration: configuration, threads: 2).estimate(step, at: x)
        var jacobian = [Double](repeating: 0, count: 9)
        var value = [Double](repeating: 0, count: 3)
        for i in 0..<3 {
            let t = (thresholds[i] - x[i]) / gamma[i]
            jacobian[i * 3 + i] = distribution.density(t) / gamma[i]
            value[i] = 1 - distribution.cdf(t)
        }
        expectWithinStandardErrors(estimate.jacobian, jacobian, stderr: estimate.jacobianStderr, "\(distribution) \(sampler) step Jacobian")
        expectWithinStandardErrors(estimate.value, value, stderr: estimate.valueStderr, "\(distribution) \(sampler) step value")
    }

    @Test("the sorter's Jacobian matches the exact smoothed permutation matrix", arguments: firstSlice)
    func sorterAgainstExactOracle(distribution: Distribution) throws {
        let x = [-0.71, -0.29, 0.04, 0.36, 0.82]
        let configuration = SmoothingConfiguration(
            distribution: distribution, samples: 4096, sampler: .mc, covariate: .loo, seed: 1)
        let estimate = try Smoother(configuration: configuration, threads: 2).estimate(sorterBlackBox(n: 5), at: x)
        let oracle = SmoothedSorting(distribution: distribution, scale: [1])
        expectWithinStandardErrors(estimate.jacobian, oracle.jacobian(at: x), stderr: estimate.jacobianStderr, "\(distribution) sorter Jacobian")
        expectWithinStandardErrors(estimate.value, oracle.permutationMatrix(at: x), stderr: estimate.valueStderr, "\(distribution) sorter value")
    }

    /// The reported standard errors must match the actual spread of independent estimates, or
    /// every tolerance derived from them would be meaningless; and the mean must be unbiased.
    @Test("standard errors are calibrated and the estimator is unbiased", arguments: Covariate.allCases, [false, true])
    func standardErrorsAreCalibrated(covariate: Covariate, antithetic: Bool) throws {
        let step = ClosureBlackBox(inputCount: 1, outputCount: 1) { x in [x[0] > 0.4 ? 3 : 1] }
        let repeats = 400
        var estimates: [Double] = []
        var stderrs: [Double] = []
        for seed in 0..<repeats {
            let configuration = SmoothingConfiguration(
                distribution: .logistic, samples: 256, sampler: .mc, antithetic: antithetic, covariate: covariate,
                seed: UInt64(1000 + seed))
            let estimate = try Smoother(configuration: configuration).estimate(step, at: [0])
            estimates.append(estimate.jacobian[0])
            stderrs.append(estimate.jacobianStderr[0])
        }
        let mean = estimates.reduce(0, +) / Double(repeats)
        let spread = (estimates.reduce(0.0) { $0 + ($1 - mean) * ($1 - mean) } / Double(repeats - 1)).squareRoot()
        let reported = stderrs.reduce(0, +) / Double(repeats)
        // With 400 repeats the spread itself is known to about ±3.5 % (one sigma).
        #expect(reported / spread > 0.85 && reported / spread < 1.18, "\(covariate) antithetic=\(antithetic): reported stderr \(reported) vs actual spread \(spread)")
        let truth = 2 * Distribution.logistic.density(0.4)
        #expect(abs(mean - truth) <= 5 * spread / Double(repeats).squareRoot(), "\(covariate) antithetic=\(antithetic): mean \(mean) vs truth \(truth)")
    }

    /// A step f(x) = 1 + 2·1(x > 0.4) under logistic noise at x = 0 with γ = 1: with
    /// p = 1 − F(0.4), the value 1 + 2p, ∂/∂x 2μ(0.4), ∂/∂γ 0.8μ(0.4), G = 4p(1 − p) and
    /// ∂G/∂x = 4(1 − 2p)μ(0.4).
    @Test("every reported standard error is calibrated: z-scores against closed forms have spread 1", arguments: [false, true])
    func everyStandardErrorIsCalibrated(antithetic: Bool) throws {
        let step = ClosureBlackBox(inputCount: 1, outputCount: 1) { x in [x[0] > 0.4 ? 3 : 1] }
        let p = 1 - Distribution.logistic.cdf(0.4)
        let density = Distribution.logistic.density(0.4)
        let truths: [(String, Double)] = [
            ("value", 1 + 2 * p), ("∂/∂x", 2 * density), ("∂/∂γ", 0.8 * density), ("G", 4 * p * (1 - p)),
            ("∂G/∂x", 4 * (1 - 2 * p) * density),
        ]
        var estimates = [[Double]](repeating: [], count: truths.count)
        var stderrs = estimates
        for seed in 0..<400 {
            let configuration = SmoothingConfiguration(
                distribution: .logistic, samples: 512, sampler: .mc, antithetic: antithetic, covariate: .loo,
                seed: UInt64(3000 + seed), differentiatesScale: true, estimatesCovariance: true)
            let estimate = try Smoother(configuration: configuration).estimate(step, at: [0])
            let covariance = try #require(estimate.covariance)
            let pairs = [
                (estimate.value[0], estimate.valueStderr[0]), (estimate.jacobian[0], estimate.jacobianStderr[0]),
                (try #require(estimate.scaleGradient)[0], try #require(estimate.scaleGradientStderr)[0]),
                (covariance.matrix[0], covariance.matrixStderr[0]), (covariance.gradient[0], covariance.gradientStderr[0]),
            ]
            for (index, pair) in pairs.enumerated() {
                estimates[index].append(pair.0)
                stderrs[index].append(pair.1)
            }
        }
        for (index, (name, truth)) in truths.enumerated() {
            expectCalibrated(estimates[index], stderr: stderrs[index], truth: truth, "\(name) antithetic=\(antithetic)")
        }
    }

    @Test("the tolerance helpers fail a NaN estimate, a NaN standard error and miscalibrated errors")
    func toleranceHelpersCanFail() {
        withKnownIssue { expectWithinStandardErrors([.nan], [1], stderr: [0.1], "a NaN estimate") }
        withKnownIssue { expectWithinStandardErrors([1], [1], stderr: [.nan], "a NaN standard error") }
        let estimates = (0..<100).map { Double($0 % 10) - 4.5 }
        withKnownIssue { expectCalibrated(estimates, stderr: Array(repeating: 100, count: 100), truth: 0, "errors 35× too large") }
        withKnownIssue { expectCalibrated(estimates, stderr: Array(repeating: .nan, count: 100), truth: 0, "NaN errors") }
    }

    @Test("results are bit-identical for every thread count", arguments: [SamplingStrategy.mc, .rqmcLatin], [false, true])
    func reproducibleAcrossThreads(sampler: SamplingStrategy, antithetic: Bool) throws {
        let configuration = SmoothingConfiguration(
            distribution: .gaussian, samples: 10_000, sampler: sampler, antithetic: antithetic, covariate: .loo, seed: 99)
        let box = sorterBlackBox(n: 4)
        let x = [0.1, -0.2, 0.5, 0.0]
        let reference = try Smoother(configuration: configuration, threads: 1).estimate(box, at: x)
        for threads in [2, 3, 7] {
            let other = try Smoother(configuration: configuration, threads: threads).estimate(box, at: x)
            #expect(other == reference, "\(threads) threads differ from 1 thread")
        }
        var otherSeed = configuration
        otherSeed.seed = 100
        // The numbers must change with the seed (the estimate's seed field always does).
        let reseeded = try Smoother(configuration: otherSeed).estimate(box, at: x)
        #expect(reseeded.jacobian != reference.jacobian && reseeded.value != reference.value)
    }

    @Test("progress is reported in order and ends at s")
    func progressReports() throws {
        let recorder = ProgressRecorder()
        let configuration = SmoothingConfiguration(samples: 3000, sampler: .mc, seed: 1)
        _ = try Smoother(configuration: configuration, threads: 3) { done, total in recorder.record(done, total) }
            .estimate(sorterBlackBox(n: 3), at: [0, 1, 2])
        let reports = recorder.reports
        #expect(reports.last?.0 == 3000 && reports.allSatisfy { $0.1 == 3000 })
        #expect(zip(reports, reports.dropFirst()).allSatisfy { $0.0 < $1.0 })
    }

    @Test("a non-finite output fails the estimate and names the sample and its input")
    func nonFiniteOutputIsAnError() throws {
        let box = ClosureBlackBox(inputCount: 1, outputCount: 2) { x in [x[0], x[0] > 2 ? .nan : 0] }
        let configuration = SmoothingConfiguration(samples: 1000, sampler: .mc, seed: 2)
        let error = #expect(throws: SmoothingError.self) { try Smoother(configuration: configuration, threads: 2).estimate(box, at: [0]) }
        #expect(error?.code == .evaluationFailed)
        let input = try #require(error?.input)
        #expect(input[0] > 2)
        #expect(error?.sampleIndex != nil)
        #expect(error?.message.contains("non-finite") == true)
    }

    @Test("finite outputs too far from sample 0's to subtract fail the estimate, not turn into infinities")
    func overflowingDifferenceIsAnError() throws {
        let box = ClosureBlackBox(inputCount: 1, outputCount: 1) { x in [x[0] > 0 ? 1.5e308 : -1.5e308] }
        let configuration = SmoothingConfiguration(samples: 256, sampler: .mc, seed: 4)
        let error = #expect(throws: SmoothingError.self) { try Smoother(configuration: configuration, threads: 2).estimate(box, at: [0]) }
        #expect(error?.code == .evaluationFailed)
        #expect(error?.message.contains("more than a double can hold") == true, "\(error?.message ?? "")")
        let input = try #require(error?.input)
        #expect(input[0] != 0)
    }

    @Test("an error thrown by the black box fails the estimate")
    func thrownErrorIsReported() throws {
        struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
        let box = ClosureBlackBox(inputCount: 1, outputCount: 1, name: "exploding box") { x, rows, y in
            for r in 0..<rows { y[r] = x[r] }
            if (0..<rows).contains(where: { x[$0] < -3 }) { throw Boom() }
        }
        let configuration = SmoothingConfiguration(samples: 2000, sampler: .mc, seed: 3)
        let error = #expect(throws: SmoothingError.self) { try Smoother(configuration: configuration, threads: 2).estimate(box, at: [0]) }
        #expect(error?.code == .evaluationFailed)
        #expect(error?.message.hasPrefix("exploding box failed at sample") == true)
        #expect(error?.message.hasSuffix("boom") == true)
    }

    @Test("bad requests are usage errors")
    func invalidRequests() {
        let box = sorterBlackBox(n: 3)
        let smoother = Smoother(configuration: SmoothingConfiguration(seed: 1))
        for x in [[0.0, 1.0], [0, .nan, 1]] {
            let error = #expect(throws: SmoothingError.self) { try smoother.estimate(box, at: x) }
            #expect(error?.code == .invalidConfiguration)
        }
        for scale in [[1.0, 2.0], [0.0], [-1.0]] {
            let error = #expect(throws: SmoothingError.self) {
                try Smoother(configuration: SmoothingConfiguration(scale: scale, seed: 1)).estimate(box, at: [0, 1, 2])
            }
            #expect(error?.code == .invalidConfiguration)
        }
    }
}

private final class ProgressRecorder: @unchecked Sendable {
    private let lock = NSLockLike()
    private var storage: [(Int, Int)] = []
    func record(_ done: Int, _ total: Int) { lock.withLock { storage.append((done, total)) } }
    var reports: [(Int, Int)] { lock.withLock { storage } }
}

import Synchronization

/// A tiny lock for the recorder (Mutex guarding nothing but a critical section).
private final class NSLockLike: Sendable {
    private let mutex = Mutex(())
    func withLock<T>(_ body: () -> T) -> T { mutex.withLock { _ in body() } }
}
