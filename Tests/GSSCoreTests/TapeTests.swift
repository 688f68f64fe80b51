import GSSCore
import Testing

/// `Smoother.estimateWithTape`: the value and gᵀJ from kept samples equal the full estimate's value
/// and gᵀ(its Jacobian) to rounding, for every covariate, sampler, antithetic pairs and both
/// scale derivatives; bit-identical across thread counts and batch sizes; and the full estimate
/// kept instead where samples would cost more.
struct TapeTests {
    /// f(x)_i = [x_i > i/20] and f(x)_(n+i) = x_i³: wide enough (m·p > 8(m + p)) for kept samples.
    static func thresholds(n: Int) -> ClosureBlackBox {
        ClosureBlackBox(inputCount: n, outputCount: 2 * n, name: "thresholds") { x, rows, y in
            for r in 0..<rows {
                for i in 0..<n {
                    let v = x[r * n + i]
                    y[r * 2 * n + i] = v > Double(i) / 20 ? 1 : 0
                    y[r * 2 * n + n + i] = v * v * v
                }
            }
        }
    }

    let n = 20
    var box: ClosureBlackBox { Self.thresholds(n: n) }

    func points(_ count: Int) -> [Double] {
        (0..<(count * n)).map { Double(($0 * 37) % 23) / 11 - 0.8 }
    }

    func cotangent(_ count: Int, m: Int) -> [Double] {
        (0..<(count * m)).map { Double(($0 * 53) % 29) / 14 - 1 }
    }

    /// gᵀJ per point from full estimates, and how far rounding may move it (1e-13 of Σ|g||J|).
    func fullProducts(_ estimates: [SmoothedEstimate], _ g: [Double], scale: Bool = false) -> (value: [Double], tolerance: [Double]) {
        var value: [Double] = []
        var tolerance: [Double] = []
        for (b, estimate) in estimates.enumerated() {
            let m = estimate.outputCount
            let matrix = scale ? (estimate.scaleGradient ?? estimate.scaleMatrixGradient!) : estimate.jacobian
            let q = matrix.count / m
            for k in 0..<q {
                var sum = 0.0
                var magnitude = 0.0
                for i in 0..<m {
                    sum += g[b * m + i] * matrix[i * q + k]
                    magnitude += abs(g[b * m + i] * matrix[i * q + k])
                }
                value.append(sum)
                tolerance.append(1e-13 * magnitude + 1e-300)
            }
        }
        return (value, tolerance)
    }

    func products(_ tape: VJPTape, _ g: [Double]) -> (input: [Double], scale: [Double]) {
        var input = [Double](repeating: .nan, count: tape.count * tape.inputCount)
        var scale = [Double](repeating: .nan, count: tape.differentiatesScale ? tape.count * tape.scaleCount : 0)
        g.withUnsafeBufferPointer { g in
            input.withUnsafeMutableBufferPointer { input in
                scale.withUnsafeMutableBufferPointer { scale in
                    tape.vectorJacobianProducts(cotangent: g.baseAddress!, input: input.baseAddress!, scale: scale.baseAddress)
                }
            }
        }
        return (input, scale)
    }

    func expectClose(_ actual: [Double], _ expected: (value: [Double], tolerance: [Double]), _ label: String) {
        #expect(actual.count == expected.value.count, "\(label): \(actual.count) numbers")
        let worst = zip(actual.indices, expected.value.indices).first { i, _ in
            !(abs(actual[i] - expected.value[i]) <= expected.tolerance[i])
        }
        #expect(worst == nil, "\(label): entry \(worst?.0 ?? -1) is \(worst.map { actual[$0.0] } ?? 0), expected \(worst.map { expected.value[$0.0] } ?? 0)")
    }

    static let cases: [(SamplingStrategy, Covariate, Bool)] = [
        (.rqmcLatin, .loo, false), (.mc, .none, false), (.sobol, .fx, false), (.rqmcLatin, .loo, true), (.mc, .fx, true),
    ]

    @Test("kept samples give the full estimate's value and gᵀJ to rounding", arguments: cases)
    func samplesEqualTheFullEstimate(sampler: SamplingStrategy, covariate: Covariate, antithetic: Bool) throws {
        let config = SmoothingConfiguration(
            distribution: .gaussian, scale: [0.3], samples: 128, sampler: sampler, antithetic: antithetic,
            covariate: covariate, seed: 3)
        let smoother = Smoother(configuration: config, threads: 2)
        let x = points(3)
        let tape = try smoother.estimateWithTape(box, atPoints: x, count: 3)
        #expect(tape.keepsSamples)
        #expect(tape.bytes == 8 * 3 * 128 * (2 * n + n))
        let full = try smoother.estimate(box, atPoints: x, count: 3)
        let g = cotangent(3, m: 2 * n)
        expectClose(products(tape, g).input, fullProducts(full, g), "gᵀJ")
        let value = full.flatMap(\.value)
        expectClose(tape.value, (value, value.map { 1e-13 * max(1, abs($0)) }), "value")
        let stderr = full.flatMap(\.valueStderr)
        expectClose(tape.valueStderr, (stderr, stderr.map { 1e-9 * max(1e-12, abs($0)) }), "value's standard error")
    }

    @Test("the scale's products: gᵀ ∂value/∂γ (Lemma 6) and gᵀ ∂value/∂L (Theorem 7)")
    func scaleProducts() throws {
        let g = cotangent(2, m: 2 * n)
        let x = points(2)
        var diagonal = SmoothingConfiguration(scale: (0..<n).map { 0.2 + 0.01 * Double($0) }, samples: 96, seed: 8)
        diagonal.differentiatesScale = true
        var matrix = SmoothingConfiguration(samples: 96, seed: 8, differentiatesScale: true)
        var entries = [Double](repeating: 0, count: n * n)
        for j in 0..<n {
            entries[j * n + j] = 0.3
            if j > 0 { entries[j * n + j - 1] = 0.05 }
        }
        matrix.scaleMatrix = try ScaleMatrix(dimension: n, entries: entries)
        for config in [diagonal, matrix] {
            let smoother = Smoother(configuration: config, threads: 2)
            let tape = try smoother.estimateWithTape(box, atPoints: x, count: 2)
            #expect(tape.keepsSamples && tape.differentiatesScale)
            let full = try smoother.estimate(box, atPoints: x, count: 2)
            let (input, scale) = products(tape, g)
            expectClose(input, fullProducts(full, g), "gᵀJ")
            expectClose(scale, fullProducts(full, g, scale: true), "gᵀ ∂value/∂scale")
        }
    }

    @Test("bit-identical across thread counts and batch sizes: point b is the one-point tape with its seed")
    func threadAndBatchInvariance() throws {
        let config = SmoothingConfiguration(samples: 200, seed: 21)
        let x = points(5)
        let g = cotangent(5, m: 2 * n)
        let reference = try Smoother(configuration: config, threads: 1).estimateWithTape(box, atPoints: x, count: 5)
        let referenceProducts = products(reference, g).input
        for threads in [2, 3] {
            let tape = try Smoother(configuration: config, threads: threads).estimateWithTape(box, atPoints: x, count: 5)
            #expect(tape.value == reference.value && tape.valueStderr == reference.valueStderr)
            #expect(products(tape, g).input == referenceProducts)
        }
        for b in [0, 3] {
            var single = config
            single.seed = Smoother.pointSeed(config.seed, point: b)
            let one = try Smoother(configuration: single, threads: 2).estimateWithTape(
                box, atPoints: Array(x[b * n..<(b + 1) * n]), count: 1)
            #expect(one.value == Array(reference.value[b * 2 * n..<(b + 1) * 2 * n]))
            #expect(products(one, Array(g[b * 2 * n..<(b + 1) * 2 * n])).input == Array(referenceProducts[b * n..<(b + 1) * n]))
        }
    }

    @Test("the full estimate is kept for a narrow box, past the byte limit, and for the median")
    func fullEstimateFallback() throws {
        let sorter = sorterBlackBox(n: 4)  // m·p = 64 < 8(m + p) = 160
        let config = SmoothingConfiguration(samples: 64, seed: 2)
        let narrow = try Smoother(configuration: config).estimateWithTape(sorter, atPoints: [0.1, 0.5, -0.2, 0.3], count: 1)
        #expect(!narrow.keepsSamples)
        let full = try Smoother(configuration: config).estimate(sorter, at: [0.1, 0.5, -0.2, 0.3])
        #expect(narrow.value == full.value)
        let g = cotangent(1, m: 16)
        expectClose(products(narrow, g).input, fullProducts([full], g), "gᵀJ of the kept estimate")

        let limited = try Smoother(configuration: config).estimateWithTape(box, atPoints: points(2), count: 2, sampleBytesLimit: 1000)
        #expect(!limited.keepsSamples)
        let median = SmoothingConfiguration(samples: 64, seed: 2, medianSampleCount: 3)
        let scalar = ClosureBlackBox(inputCount: 40, outputCount: 1) { x, rows, y in
            for r in 0..<rows { y[r] = x[r * 40] > 0 ? 1 : 0 }
        }
        #expect(!(try Smoother(configuration: median).estimateWithTape(scalar, atPoints: [Double](repeating: 0.1, count: 40), count: 1)).keepsSamples)
    }

    @Test("a black box failing at a sample fails the tape with the estimate's sentence")
    func failuresNameTheSample() throws {
        let failing = ClosureBlackBox(inputCount: n, outputCount: 2 * n, name: "nan box") { x, rows, y in
            for r in 0..<rows {
                for i in 0..<(2 * n) { y[r * 2 * n + i] = x[r * n] > 0.9 ? .nan : 0 }
            }
        }
        let smoother = Smoother(configuration: SmoothingConfiguration(samples: 64, seed: 1), threads: 2)
        let x = [Double](repeating: 0.5, count: n)
        #expect(throws: SmoothingError.self) { try smoother.estimateWithTape(failing, atPoints: x, count: 1) }
        do {
            _ = try smoother.estimateWithTape(failing, atPoints: x, count: 1)
        } catch let error as SmoothingError {
            do {
                _ = try smoother.estimate(failing, at: x)
            } catch let full as SmoothingError {
                #expect(error.message == full.message)
            }
        }
    }
}
