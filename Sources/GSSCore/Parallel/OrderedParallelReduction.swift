import Glibc

/// Runs chunks 0..<chunkCount on `workers` threads and hands their results to `merge` strictly in
/// chunk order, whatever order they finish in. Floating-point sums therefore come out bit-identical
/// for every thread count. At most `window` chunks run ahead of the oldest unmerged one, which
/// bounds the memory held by finished-but-unmerged results.
enum OrderedParallelReduction {
    static func run<Partial: Sendable>(
        chunks chunkCount: Int, workers: Int, window: Int,
        compute: @escaping @Sendable (_ worker: Int, _ chunk: Int) throws -> Partial,
        merge: @escaping @Sendable (_ chunk: Int, Partial) -> Void
    ) throws {
        guard chunkCount > 0 else { return }
        let workerCount = max(1, min(workers, chunkCount))
        if workerCount == 1 {
            // In order on the calling thread already: no lock, no waiting room (a batch's points run so).
            for chunk in 0..<chunkCount { merge(chunk, try compute(0, chunk)) }
            return
        }
        let state = SharedState<Partial>(window: max(window, 1))
        WorkerThreads.run(count: workerCount) { worker in
            while let chunk = state.claim(limit: chunkCount) {
                do {
                    let partial = try compute(worker, chunk)
                    state.finish(chunk: chunk, partial: partial, merge: merge)
                } catch {
                    state.fail(error)
                    return
                }
            }
        }
        if let error = state.firstError { throw error }
    }

    /// All fields are guarded by `condition`'s lock; that is what makes the class Sendable.
    private final class SharedState<Partial: Sendable>: @unchecked Sendable {
        let window: Int
        let condition = ConditionLock()
        var nextToClaim = 0
        var nextToMerge = 0
        var pending: [Int: Partial] = [:]
        var error: (any Error)?

        init(window: Int) { self.window = window }

        var firstError: (any Error)? {
            condition.lock()
            defer { condition.unlock() }
            return error
        }

        /// The next chunk to compute, waiting while too far ahead of the merge; nil when done or failed.
        func claim(limit: Int) -> Int? {
            condition.lock()
            defer { condition.unlock() }
            while true {
                if error != nil || nextToClaim >= limit { return nil }
                if nextToClaim < nextToMerge + window {
                    nextToClaim += 1
                    return nextToClaim - 1
                }
                condition.wait()
            }
        }

        /// Merging happens under the lock, so merges never overlap and always run in chunk order.
        func finish(chunk: Int, partial: Partial, merge: @Sendable (Int, Partial) -> Void) {
            condition.lock()
            defer {
                condition.broadcast()
                condition.unlock()
            }
            pending[chunk] = partial
            while let next = pending.removeValue(forKey: nextToMerge) {
                merge(nextToMerge, next)
                nextToMerge += 1
            }
        }

        func fail(_ error: any Error) {
            condition.lock()
            if self.error == nil { self.error = error }
            condition.broadcast()
            condition.unlock()
        }
    }
}

/// Runs `body(0)` … `body(count − 1)` on dedicated threads (not a shared pool, so that blocking
/// black boxes such as external programs get real concurrency) and returns when all have finished.
public enum WorkerThreads {
    /// Each thread's stack: 8 MiB, what a main thread usually gets, whatever the ulimit says
    /// (black boxes such as plugins and C functions run on these threads).
    static let stackBytes = 8 << 20

    public static func run(count: Int, body: @escaping @Sendable (Int) -> Void) {
        guard count > 1 else {
            if count == 1 { body(0) }
            return
        }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackBytes)
        var threads: [pthread_t] = []
        for worker in 1..<count {
            // The thread owns this retained start; it is released when the thread's body returns.
            let start = Unmanaged.passRetained(ThreadStart { body(worker) }).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(&thread, &attributes, { start in
                Unmanaged<ThreadStart>.fromOpaque(start!).takeRetainedValue().body()
                return nil
            }, start)
            guard status == 0 else {
                fatalError("cannot start a worker thread: \(String(cString: strerror(status)))")
            }
            threads.append(thread)
        }
        body(0)
        for thread in threads { pthread_join(thread, nil) }
    }

    /// What a new thread runs, handed to pthread_create as its one pointer argument.
    private final class ThreadStart {
        let body: () -> Void

        init(_ body: @escaping () -> Void) { self.body = body }
    }
}
