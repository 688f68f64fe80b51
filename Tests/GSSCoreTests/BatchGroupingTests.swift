import GSSCore
import Synchronization
import Testing

/// A closure black box that asks for large batches (as an isolated plugin does) and records the
/// size of every call it gets.
private struct BatchingBlackBox: BlackBox {
    let base: ClosureBlackBox
    let preferredBatchRows: Int
    let calls = CallLog()

    var inputCount: Int { base.inputCount }
    var outputCount: Int { base.outputCount }
    var displayName: String { base.displayName }

    func makeEvaluators(count: Int) throws -> [any BatchEvaluator] {
        try base.makeEvaluators(count: count).map { LoggingEvaluator(inner: $0, calls: calls) }
    }
}

private final class CallLog: Sendable {
    private let rows = Mutex<[Int]>([])
    func record(_ count: Int) { rows.withLock { $0.append(count) } }
    var largest: Int { rows.withLock { $0.max() ?? 0 } }
}

private final class LoggingEvaluator: BatchEvaluator, @unchecked Sendable {
    let inner: any BatchEvaluator
    let calls: CallLog
    init(inner: any BatchEvaluator, calls: CallLog) {
        self.inner = inner
        self.calls = calls
    }

    func evaluate(_ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>) throws {
        calls.record(rows)
        try inner.evaluate(inputs, rows: rows, into: outputs)
    }
}

@Suite("Several chunks per black-box call")
struct BatchGroupingTests {
    /// Three steps and a smooth output, with a NaN for inputs past `failAbove` in the first one.
    static func box(failAbove: Double = .infinity) -> ClosureBlackBox {
        ClosureBlackBox(inputCount: 3, outputCount: 9, name: "steps") { x in
            let steps = (0..<3).map { x[$0] > 0.1 * Double($0) ? 1.0 : 0 }
            let smooth = (0..<3).map { x[$0] * x[($0 + 1) % 3] }
            let waves = (0..<3).map { (x[$0] * 3).rounded() }
            return x[0] > failAbove ? [.nan] + Array(steps.dropFirst()) + smooth + waves : steps + smooth + waves
        }
    }

    @Test(
        "grouping chunks into larger calls leaves every bit of the estimate as it was",
        arguments: [(SamplingStrategy.rqmcLatin, false, false), (.mc, true, false), (.rqmcLatin, false, true)])
    func groupedEqualsChunkByChunk(sampler: SamplingStrategy, antithetic: Bool, covariance: Bool) throws {
        var configuration = SmoothingConfiguration(
            distribution: .logistic, scale: [0.7], samples: 20_000, sampler: sampler, covariate: .loo, seed: 11)
        configuration.antithetic = antithetic
        configuration.estimatesCovariance = covariance
        let x = [0.05, 0.2, -0.3]
        let plain = BatchingBlackBox(base: Self.box(), preferredBatchRows: 1)
        let grouped = BatchingBlackBox(base: Self.box(), preferredBatchRows: 4096)
        for threads in [1, 3] {
            let smoother = Smoother(configuration: configuration, threads: threads)
            let expected = try smoother.estimate(plain, at: x)
            let actual = try smoother.estimate(grouped, at: x)
            #expect(actual == expected)
        }
        let rowsPerChunk = Smoother.rowsPerChunk(samples: 20_000, inputCount: 3, outputCount: 9)
        #expect(plain.calls.largest == rowsPerChunk)
        #expect(grouped.calls.largest > rowsPerChunk)
    }

    // One thread: with several, whichever failing chunk finishes first is reported.
    @Test("a failing sample is named the same with or without grouping")
    func failureNamesTheSameSample() throws {
        let configuration = SmoothingConfiguration(
            distribution: .gaussian, scale: [1], samples: 20_000, sampler: .mc, covariate: .loo, seed: 5)
        func failure(_ preferredRows: Int) -> SmoothingError? {
            do {
                _ = try Smoother(configuration: configuration, threads: 1).estimate(
                    BatchingBlackBox(base: Self.box(failAbove: 3.5), preferredBatchRows: preferredRows), at: [0, 0, 0])
                return nil
            } catch { return error as? SmoothingError }
        }
        let plain = try #require(failure(1))
        let grouped = try #require(failure(4096))
        #expect(plain.sampleIndex != nil && grouped.sampleIndex == plain.sampleIndex)
        #expect(grouped.message == plain.message)
    }
}
