import GSSCore
import Synchronization
import Testing

@Suite("Perturbed inputs")
struct PerturbationTests {
    /// Every row the black box gets is x + γ∘ε, bit for bit, with ε the sampler's uniforms through the
    /// inverse CDF: for rows shorter than the kernel's tile (n < 8, tiled by period n), as long
    /// (n = 8) and longer, and sample counts whose last block is partial.
    @Test("the black box's rows are x + γ∘ε exactly", arguments: [1, 2, 3, 5, 7, 8, 9, 13])
    func rowsAreShiftedScaledNoise(n: Int) throws {
        let samples = 301 + 2 * n  // odd: the last chunk and the last tile are partial
        let x = (0..<n).map { 0.37 * Double($0) - 1.1 }
        let gamma = (0..<n).map { 0.25 + 0.5 * Double($0 % 3) }
        let seen = Mutex<[Double]>([])
        let box = ClosureBlackBox(inputCount: n, outputCount: 1) { inputs, rows, outputs in
            seen.withLock { $0 += UnsafeBufferPointer(start: inputs, count: rows * n) }
            for r in 0..<rows { outputs[r] = inputs[r * n] }
        }
        let configuration = SmoothingConfiguration(
            distribution: .logistic, scale: gamma, samples: samples, sampler: .rqmcLatin, seed: 11)
        // One thread: sample 0 alone, then chunk after chunk from sample 1, so the rows arrive in order.
        _ = try Smoother(configuration: configuration, threads: 1).estimate(box, at: x)

        let points = try PointSet(strategy: .rqmcLatin, antithetic: false, count: samples, dimension: n, seed: 11)
        var uniforms = [Double](repeating: 0, count: samples * n)
        var noise = uniforms
        var scores = uniforms
        uniforms.withUnsafeMutableBufferPointer { points.fill(start: 0, rows: samples, into: $0.baseAddress!) }
        Distribution.logistic.transform(uniforms: uniforms, count: samples * n, noise: &noise, score: &scores)
        let expected = (0..<(samples * n)).map { x[$0 % n] + gamma[$0 % n] * noise[$0] }

        let rows = seen.withLock { $0 }
        #expect(rows.count == samples * n)
        let first = zip(rows, expected).enumerated().first { $0.element.0.bitPattern != $0.element.1.bitPattern }
        #expect(first == nil, "sample \(first.map { $0.offset / n } ?? 0), input \(first.map { $0.offset % n } ?? 0): got \(first?.element.0 ?? 0), expected \(first?.element.1 ?? 0)")
    }
}
