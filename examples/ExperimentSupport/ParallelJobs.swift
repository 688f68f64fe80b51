import Foundation

/// Runs independent jobs on worker threads, one job per thread at a time, in the given order,
/// logging progress (about every 1% and at the end) with an estimate of the time left. The first
/// failure stops the hand-out of further jobs and is rethrown, naming the job.
public func runJobs<Job: Sendable>(
    _ jobs: [Job], threads: Int, name: @escaping @Sendable (Job) -> String, work: @escaping @Sendable (Job) throws -> Void
) throws {
    guard !jobs.isEmpty else { return }
    let queue = JobQueue(jobs: jobs)
    let started = Date()
    DispatchQueue.concurrentPerform(iterations: max(1, min(threads, jobs.count))) { _ in
        while let job = queue.next() {
            do {
                try work(job)
                let finished = queue.finish()
                if finished % max(1, jobs.count / 100) == 0 || finished == jobs.count {
                    let elapsed = Date().timeIntervalSince(started)
                    let remaining = elapsed / Double(finished) * Double(jobs.count - finished)
                    log(String(format: "  %d/%d runs, %.0f s elapsed, about %.0f s to go", finished, jobs.count, elapsed, remaining))
                }
            } catch {
                queue.fail("\(name(job)): \(error)")
            }
        }
    }
    if let failure = queue.failure { throw JobFailure(description: "a run failed: \(failure)") }
}

public struct JobFailure: Error, CustomStringConvertible {
    public let description: String
}

/// Hands out jobs in order and counts the finished ones; a failure empties the queue.
private final class JobQueue<Job>: @unchecked Sendable {
    private let lock = NSLock()
    private let jobs: [Job]
    private var nextIndex = 0
    private var finished = 0
    private var firstFailure: String?

    init(jobs: [Job]) { self.jobs = jobs }

    func next() -> Job? {
        lock.withLock {
            guard nextIndex < jobs.count else { return nil }
            defer { nextIndex += 1 }
            return jobs[nextIndex]
        }
    }

    /// Counts a finished job; returns how many have finished.
    func finish() -> Int { lock.withLock { finished += 1; return finished } }

    func fail(_ message: String) {
        lock.withLock {
            if firstFailure == nil { firstFailure = message }
            nextIndex = jobs.count
        }
    }

    var failure: String? { lock.withLock { firstFailure } }
}

/// CPU seconds used by the calling thread so far (a run's cost, unaffected by other load).
public func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + 1e-9 * Double(time.tv_nsec)
}

/// A line on stderr.
public func log(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
