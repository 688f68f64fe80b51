import Foundation
import GSSCore
import GSSHost
import Synchronization
import Testing

/// The coordinated executor with ranks that are threads of this process (`InProcessRanks`): the
/// same protocol as across MPI ranks, checked without MPI. Every rank runs the same estimate, as
/// the same program on every MPI rank would.
@Suite("Estimates across ranks")
struct DistributedExecutorTests {
    /// A smooth function with a kink, 3 inputs and 2 outputs.
    static let box = ClosureBlackBox(inputCount: 3, outputCount: 2) { x in
        [sin(x[0]) + x[1] * x[2] + (x[2] > 0.2 ? 1 : 0), cos(x[0] * x[1]) - abs(x[2])]
    }
    static let x = [0.3, -0.2, 0.5]

    /// `body(rank, executor)` on `ranks` threads, one executor each; the results by rank.
    static func onRanks<T: Sendable>(
        _ ranks: Int, journal: String? = nil, _ body: @escaping @Sendable (Int, CoordinatedExecutor) throws -> T
    ) -> [Result<T, any Error>] {
        let transports = InProcessRanks.make(ranks)
        let results = Mutex<[Int: Result<T, any Error>]>([:])
        WorkerThreads.run(count: ranks) { rank in
            let executor = CoordinatedExecutor(
                transport: transports[rank],
                journal: journal.map { path in { try RunJournal(path: path, arguments: "test") } })
            let result = Result { try body(rank, executor) }
            results.withLock { $0[rank] = result }
        }
        return results.withLock { all in (0..<ranks).map { all[$0]! } }
    }

    @Test(
        "every rank returns the one-process estimate bit for bit, for 1-4 ranks and 1-2 threads",
        arguments: [SamplingStrategy.mc, .rqmcLatin, .sobol])
    func sameBitsOnEveryRank(sampler: SamplingStrategy) throws {
        let configuration = SmoothingConfiguration(samples: 1024, sampler: sampler, seed: 11, estimatesCovariance: true)
        let expected = try Smoother(configuration: configuration, threads: 1).estimate(Self.box, at: Self.x)
        for ranks in 1...4 {
            for threads in 1...2 {
                let estimates = Self.onRanks(ranks) { _, executor in
                    try Smoother(configuration: configuration, threads: threads, executor: executor).estimate(Self.box, at: Self.x)
                }
                for (rank, estimate) in estimates.enumerated() {
                    #expect(try estimate.get() == expected, "rank \(rank) of \(ranks), \(threads) threads")
                }
            }
        }
    }

    @Test("median smoothing and the fx covariate, with more ranks than chunks")
    func medianWithManyRanks() throws {
        let scalar = ClosureBlackBox(inputCount: 2, outputCount: 1) { x in [x[0] > 0 ? 1 + x[1] : x[1] * x[1]] }
        // 16 samples are 8 chunks: 10 ranks leave some without a call.
        let configuration = SmoothingConfiguration(samples: 16, sampler: .mc, covariate: .fx, seed: 3, medianSampleCount: 3)
        let expected = try Smoother(configuration: configuration).estimate(scalar, at: [0.1, 0.4])
        let estimates = Self.onRanks(10) { _, executor in
            try Smoother(configuration: configuration, threads: 2, executor: executor).estimate(scalar, at: [0.1, 0.4])
        }
        for estimate in estimates { #expect(try estimate.get() == expected) }
    }

    @Test("a failing row stops every rank with the sentence one process gives: the lowest failed sample's")
    func failureReachesEveryRank() throws {
        let configuration = SmoothingConfiguration(samples: 2048, sampler: .mc, seed: 5)
        // Rows whose first input exceeds 5 fail: about 18 of them, in several chunks.
        let failing = Mutex<[[Double]]>([])
        let recording = ClosureBlackBox(inputCount: 3, outputCount: 2) { x in
            if x[0] > 5 { failing.withLock { $0.append(x) } }
            return [x[0], x[1]]
        }
        _ = try Smoother(configuration: configuration, threads: 1).estimate(recording, at: Self.x)
        let lowest = try #require(failing.withLock { $0.first })
        #expect(failing.withLock { $0.count } > 5)
        // The lowest failing row fails late, so that higher chunks fail first in time.
        let box = ClosureBlackBox(inputCount: 3, outputCount: 2, name: "box") { x, rows, y in
            for r in 0..<rows {
                let row = Array(UnsafeBufferPointer(start: x + r * 3, count: 3))
                if row == lowest { usleep(50_000) }
                if row[0] > 5 { throw TooLarge() }
                (y[r * 2], y[r * 2 + 1]) = (row[0], row[1])
            }
        }
        var expected = ""
        do {
            _ = try Smoother(configuration: configuration, threads: 1).estimate(box, at: Self.x)
        } catch let error as SmoothingError {
            expected = error.message
        }
        #expect(expected.contains("failed at sample") && expected.contains("too large"))
        for ranks in [2, 4] {
            let outcomes = Self.onRanks(ranks) { _, executor in
                try Smoother(configuration: configuration, threads: 2, executor: executor).estimate(box, at: Self.x)
            }
            for (rank, outcome) in outcomes.enumerated() {
                #expect(throws: SmoothingError.self, "rank \(rank)") { try outcome.get() }
                if case .failure(let error as SmoothingError) = outcome {
                    #expect(error.message == expected, "rank \(rank) of \(ranks)")
                }
            }
        }
    }

    @Test("an interrupted run resumes from its journal and gives the uninterrupted bits")
    func journalResumes() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gss-journal-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let configuration = SmoothingConfiguration(samples: 4096, sampler: .rqmcLatin, seed: 9)
        let expected = try Smoother(configuration: configuration, threads: 2).estimate(Self.box, at: Self.x)

        // The first run's black box gives out after 20 calls (as if its rank had been killed).
        let calls = Atomic<Int>(0)
        let tiring = ClosureBlackBox(inputCount: 3, outputCount: 2, name: "tiring") { x, rows, y in
            if calls.add(1, ordering: .relaxed).newValue > 20 { throw SmoothingError(code: .evaluationFailed, message: "gone") }
            for r in 0..<rows {
                let row = Array(UnsafeBufferPointer(start: x + r * 3, count: 3))
                let out = try Self.box.makeEvaluators(count: 1)[0]
                try row.withUnsafeBufferPointer { try out.evaluate($0.baseAddress!, rows: 1, into: y + r * 2) }
            }
        }
        let interrupted = Self.onRanks(3, journal: path) { _, executor in
            try Smoother(configuration: configuration, threads: 1, executor: executor).estimate(tiring, at: Self.x)
        }
        for outcome in interrupted { #expect(throws: SmoothingError.self) { try outcome.get() } }

        // Resumed on another number of ranks and threads: the journal's calls are not computed again.
        let resumedCalls = Atomic<Int>(0)
        let counting = ClosureBlackBox(inputCount: 3, outputCount: 2, name: "box") { x, rows, y in
            resumedCalls.add(1, ordering: .relaxed)
            let out = try Self.box.makeEvaluators(count: 1)[0]
            try out.evaluate(x, rows: rows, into: y)
        }
        let resumed = Self.onRanks(2, journal: path) { rank, executor in
            let estimate = try Smoother(configuration: configuration, threads: 2, executor: executor).estimate(counting, at: Self.x)
            return (estimate, executor.journalRecords?.reused ?? 0)
        }
        for outcome in resumed { #expect(try outcome.get().0 == expected) }
        // 64 chunks: the first run merged (and kept) about 19 of them, and sample 0's output.
        let reused = try resumed[0].get().1
        #expect(reused >= 11)
        #expect(resumedCalls.load(ordering: .relaxed) == 64 - (reused - 1))
    }
}

/// What the failing test box throws (a plain error, as a plugin's would be).
struct TooLarge: Error, CustomStringConvertible {
    var description: String { "too large" }
}
