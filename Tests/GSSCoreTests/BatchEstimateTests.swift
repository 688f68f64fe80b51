import GSSCore
import Testing

/// A batch of points: point b is the one-point estimate with seed pointSeed(seed, b), bit for bit,
/// whatever B, the thread count, and whether whole points or chunks went to the workers.
struct BatchEstimateTests {
    let sorter = sorterBlackBox(n: 4)

    /// B points of the sorter's input size, deterministic and distinct.
    func points(_ count: Int) -> [Double] {
        (0..<(count * 4)).map { Double(($0 * 37) % 23) / 7 - 1.5 }
    }

    func configuration(_ sampler: SamplingStrategy = .rqmcLatin) -> SmoothingConfiguration {
        SmoothingConfiguration(distribution: .logistic, samples: 300, sampler: sampler, seed: 11)
    }

    @Test("point 0 keeps the seed; other points get distinct seeds by the documented rule")
    func pointSeeds() {
        #expect(Smoother.pointSeed(11, point: 0) == 11)
        #expect(Smoother.pointSeed(11, point: 1) == 11 &+ 0x9E37_79B9_7F4A_7C15)
        #expect(Smoother.pointSeed(UInt64.max, point: 2) == UInt64.max &+ 2 &* 0x9E37_79B9_7F4A_7C15)
        let seeds = Set((0..<1000).map { Smoother.pointSeed(5, point: $0) })
        #expect(seeds.count == 1000)
    }

    @Test("every point of a batch equals its one-point estimate, for B = 1, 2, 3, 7 and 1, 2, 3 threads",
          arguments: [SamplingStrategy.mc, .rqmcLatin, .sobol])
    func batchEqualsPointByPoint(sampler: SamplingStrategy) throws {
        var config = configuration(sampler)
        if sampler == .sobol { config.samples = 256 }
        let x = points(7)
        var single: [SmoothedEstimate] = []
        for b in 0..<7 {
            var pointConfig = config
            pointConfig.seed = Smoother.pointSeed(config.seed, point: b)
            single.append(try Smoother(configuration: pointConfig, threads: 1).estimate(sorter, at: Array(x[b * 4..<(b + 1) * 4])))
        }
        for count in [1, 2, 3, 7] {
            for threads in [1, 2, 3] {
                let batch = try Smoother(configuration: config, threads: threads)
                    .estimate(sorter, atPoints: Array(x.prefix(count * 4)), count: count)
                #expect(batch.count == count)
                for b in 0..<count {
                    #expect(batch[b].value == single[b].value, "B = \(count), \(threads) threads, point \(b): value")
                    #expect(batch[b].jacobian == single[b].jacobian, "B = \(count), \(threads) threads, point \(b): Jacobian")
                    #expect(batch[b].jacobianStderr == single[b].jacobianStderr)
                    #expect(batch[b].seed == Smoother.pointSeed(config.seed, point: b))
                }
            }
        }
        // Points differ in their noise, not only their x: the same x at two points gives other numbers.
        let twice = try Smoother(configuration: config, threads: 2).estimate(sorter, atPoints: Array(x.prefix(4)) + Array(x.prefix(4)), count: 2)
        #expect(twice[0].jacobian != twice[1].jacobian)
    }

    @Test("evaluators kept by the caller give the same bits as fresh ones, call after call")
    func reusedEvaluators() throws {
        let evaluators = try sorter.makeEvaluators(count: 2)
        let smoother = Smoother(configuration: configuration(), threads: 2)
        let fresh = try smoother.estimate(sorter, atPoints: points(5), count: 5)
        for _ in 0..<2 {
            let reused = try smoother.estimate(sorter, atPoints: points(5), count: 5, evaluators: evaluators)
            #expect(reused == fresh)
        }
    }

    @Test("a failing point is reported as the lowest failed point, for any thread count")
    func lowestFailedPoint() throws {
        // Fails at any input row whose first coordinate is beyond 100: points 2 and 4 of 6.
        let box = ClosureBlackBox(inputCount: 2, outputCount: 1, name: "picky") { x, rows, y in
            for r in 0..<rows {
                if x[r * 2] > 100 { throw PickyFailure() }
                y[r] = x[r * 2] + x[r * 2 + 1]
            }
        }
        var x = [Double](repeating: 0, count: 12)
        x[4] = 1000
        x[8] = 1000
        for threads in [1, 2, 3] {
            do {
                _ = try Smoother(configuration: configuration(), threads: threads).estimate(box, atPoints: x, count: 6)
                Issue.record("a failing black box must fail the batch")
            } catch let error as BatchPointError {
                #expect(error.point == 2, "\(threads) threads")
                #expect((error.underlying as? SmoothingError)?.code == .evaluationFailed)
                #expect("\(error)".hasPrefix("at point 2: picky failed at sample"))
            }
        }
    }

    @Test("a wrong number of values for the points is refused with a sentence")
    func wrongSize() {
        #expect(throws: SmoothingError.self) {
            _ = try Smoother(configuration: configuration()).estimate(sorter, atPoints: [1, 2, 3], count: 1)
        }
    }
}

private struct PickyFailure: Error, CustomStringConvertible {
    var description: String { "first coordinate out of range" }
}
