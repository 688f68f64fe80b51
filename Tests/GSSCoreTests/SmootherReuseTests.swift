import Dispatch
import GSSCore
import Synchronization
import Testing

/// A smoother keeps its workers' scratch memory from one estimate to the next; nothing of an
/// earlier estimate may show in a later one.
@Suite("One smoother, many estimates")
struct SmootherReuseTests {
    static let x5 = [-0.71, -0.29, 0.04, 0.36, 0.82]
    static let x3 = [0.2, -0.4, 1.5]

    static func configuration(samples: Int, seed: UInt64, wrtScale: Bool = false) -> SmoothingConfiguration {
        var configuration = SmoothingConfiguration(
            distribution: .logistic, scale: [0.7], samples: samples, sampler: .rqmcLatin, covariate: .loo, seed: seed)
        configuration.differentiatesScale = wrtScale
        return configuration
    }

    static func fresh(_ configuration: SmoothingConfiguration, _ box: some BlackBox, at x: [Double]) throws -> SmoothedEstimate {
        try Smoother(configuration: configuration, threads: 2).estimate(box, at: x)
    }

    @Test("estimates of other sizes, seeds and black boxes, and after a failure, give a fresh smoother's bits")
    func reuseAcrossEstimates() throws {
        let sorter5 = sorterBlackBox(n: 5)
        let sorter3 = sorterBlackBox(n: 3)
        // Fails on an input far out in the tail: some chunk, after others have used the buffers.
        let failing = ClosureBlackBox(inputCount: 5, outputCount: 25, name: "tail failure") { inputs, rows, outputs in
            for r in 0..<rows where inputs[r * 5] > 1.5 {
                struct TailError: Error {}
                throw TailError()
            }
            try sorter5.makeEvaluators(count: 1)[0].evaluate(inputs, rows: rows, into: outputs)
        }
        var smoother = Smoother(configuration: Self.configuration(samples: 4096, seed: 1), threads: 2)
        let steps: [(SmoothingConfiguration, any BlackBox, [Double])] = [
            (Self.configuration(samples: 4096, seed: 1), sorter5, Self.x5),
            (Self.configuration(samples: 1000, seed: 2), sorter5, Self.x5),  // other chunk sizes
            (Self.configuration(samples: 4096, seed: 3, wrtScale: true), sorter5, Self.x5),  // feature rows
            (Self.configuration(samples: 4096, seed: 4), sorter3, Self.x3),  // other n and m
            (Self.configuration(samples: 4096, seed: 1), sorter5, Self.x5),  // the first again
        ]
        for (index, (configuration, box, x)) in steps.enumerated() {
            if index == 4 {
                smoother.configuration = Self.configuration(samples: 4096, seed: 5)
                #expect(throws: SmoothingError.self) { try smoother.estimate(failing, at: Self.x5) }
            }
            smoother.configuration = configuration
            let reused = try smoother.estimate(box, at: x)
            #expect(reused == (try Self.fresh(configuration, box, at: x)), "step \(index)")
        }
    }

    @Test("copies of one smoother estimating at once, from several threads, give a fresh smoother's bits")
    func concurrentCopies() throws {
        let box = sorterBlackBox(n: 5)
        let configuration = Self.configuration(samples: 8192, seed: 6)
        let expected = try Self.fresh(configuration, box, at: Self.x5)
        let smoother = Smoother(configuration: configuration, threads: 2)
        let results = Mutex<[SmoothedEstimate?]>(Array(repeating: nil, count: 6))
        DispatchQueue.concurrentPerform(iterations: 6) { index in
            let copy = smoother
            let estimate = try? copy.estimate(box, at: Self.x5)
            results.withLock { $0[index] = estimate }
        }
        for (index, estimate) in results.withLock({ $0 }).enumerated() {
            #expect(estimate == expected, "copy \(index)")
        }
    }
}
