import Synchronization

/// Estimates at a batch of points (the library's layer call: B inputs of a network per step).
///
/// Point b is estimated with the seed `Smoother.pointSeed(seed, point: b)`, so its estimate equals,
/// bit for bit, the one-point estimate with that seed, whatever B and the thread count: a point's
/// sums never depend on which worker or how many computed them.
///
/// Work is spread so that every worker is busy with few hand-overs: whole points go to workers
/// (each point on one worker, claimed in order) while there are at least as many points left as
/// workers; the last few points each use all workers, chunk by chunk.
extension Smoother {
    /// The seed of point b of a batch: seed + b · 0x9E3779B97F4A7C15 (mod 2^64). Point 0 keeps the
    /// seed itself; the multiplier is odd, so distinct points get distinct seeds.
    public static func pointSeed(_ seed: UInt64, point b: Int) -> UInt64 {
        seed &+ UInt64(truncatingIfNeeded: b) &* 0x9E37_79B9_7F4A_7C15
    }

    /// Estimates at `count` points stored row-major in `points` (count · n numbers).
    /// - Parameter evaluators: made by this black box (at least one; the first `threads` are used)
    ///   and kept by the caller to reuse across calls (an external program is then started once,
    ///   not once per step); nil to make them for this call.
    /// - Throws: as `estimate(_:at:)`, for the lowest-numbered point that failed, with
    ///   `BatchPointError` naming the point around the `SmoothingError` when count > 1.
    public func estimate(
        _ blackBox: some BlackBox, atPoints points: [Double], count: Int,
        evaluators given: [any BatchEvaluator]? = nil
    ) throws -> [SmoothedEstimate] {
        try forEachPoint(of: blackBox, atPoints: points, count: count, evaluators: given) { _, smoother, x, evaluators in
            try smoother.estimate(blackBox, at: x, evaluators: evaluators)
        }
    }

    /// Runs `body` for every point of a batch, as the batch rule above spreads them, with b, point b's
    /// smoother (its seed `pointSeed(seed, point: b)`), x and evaluators; the results in point order.
    func forEachPoint<Result: Sendable>(
        of blackBox: some BlackBox, atPoints points: [Double], count: Int, evaluators given: [any BatchEvaluator]?,
        _ body: @escaping @Sendable (Int, Smoother, [Double], ArraySlice<any BatchEvaluator>) throws -> Result
    ) throws -> [Result] {
        let n = blackBox.inputCount
        guard count >= 1, points.count == count * n else {
            throw SmoothingError.invalidConfiguration(
                "a batch needs at least one point of \(n) numbers, got \(points.count) numbers for \(count) points")
        }
        let evaluators = try given ?? blackBox.makeEvaluators(count: threads)
        precondition(!evaluators.isEmpty, "a batch needs at least one evaluator")
        let workers = min(threads, evaluators.count)
        let results = BatchResults<Result>(count: count)
        // Point b's smoother and x.
        let point = { @Sendable (b: Int, base: Smoother) -> (Smoother, [Double]) in
            var smoother = base
            smoother.configuration.seed = Self.pointSeed(base.configuration.seed, point: b)
            return (smoother, Array(points[b * n..<(b + 1) * n]))
        }

        // Whole points on single workers first (each with its own evaluator and a one-thread smoother).
        let perWorker = count >= workers && workers > 1 ? count - count % workers : 0
        if perWorker > 0 {
            let next = Atomic<Int>(0)
            var single = self
            single.threads = 1
            single.progress = nil
            WorkerThreads.run(count: workers) { [single] worker in
                while !results.hasFailed {
                    let b = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard b < perWorker else { return }
                    results.record(b) {
                        let (smoother, x) = point(b, single)
                        return try body(b, smoother, x, evaluators[worker..<worker + 1])
                    }
                }
            }
        }
        // The rest, one point at a time on every worker.
        var remaining = self
        remaining.progress = nil
        for b in perWorker..<count where !results.hasFailed {
            results.record(b) {
                let (smoother, x) = point(b, remaining)
                return try body(b, smoother, x, evaluators[0..<workers])
            }
        }
        return try results.collect(naming: count > 1)
    }
}

/// The failure of one point of a batch: which point, and why (the estimate's own error).
public struct BatchPointError: Error, CustomStringConvertible, Sendable {
    public let point: Int
    public let underlying: any Error

    public var description: String { "at point \(point): \(underlying)" }
}

/// Every point's estimate or error, each slot written by exactly one worker.
private final class BatchResults<Result>: @unchecked Sendable {
    private var estimates: [Result?]
    private var errors: [(point: Int, error: any Error)] = []
    private let lock = Mutex<Void>(())
    private let failed = Atomic<Bool>(false)

    init(count: Int) { estimates = Array(repeating: nil, count: count) }

    var hasFailed: Bool { failed.load(ordering: .relaxed) }

    func record(_ point: Int, _ body: () throws -> Result) {
        do {
            let estimate = try body()
            lock.withLock { _ in estimates[point] = estimate }
        } catch {
            lock.withLock { _ in errors.append((point, error)) }
            failed.store(true, ordering: .relaxed)
        }
    }

    /// The estimates in order, or the error of the lowest failed point: points are claimed in
    /// order and claimed points finish, so that point is the same for any thread count.
    func collect(naming: Bool) throws -> [Result] {
        try lock.withLock { _ in
            if let first = errors.min(by: { $0.point < $1.point }) {
                throw naming ? BatchPointError(point: first.point, underlying: first.error) : first.error
            }
            return estimates.map { $0! }
        }
    }
}
