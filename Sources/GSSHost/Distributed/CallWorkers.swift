import Glibc

/// One process's worker threads for a distributed run: they take call indices from a queue that
/// the process's communicating thread fills, compute them, and leave the results for that thread
/// to merge or send. The threads are spawned (never the caller's), so that the caller — the only
/// thread that talks to the other processes — stays free to do so.
final class CallWorkers<Partial: Sendable>: @unchecked Sendable {  // all state is guarded by `lock`
    /// What became of one call.
    enum Outcome {
        case computed(Partial)
        /// Already encoded on the worker thread, for sending.
        case encoded([Double])
        case failed(any Error)
    }

    private let lock = ConditionLock()
    private var queue: [Int] = []
    private var running = 0
    private var finished: [(call: Int, outcome: Outcome)] = []
    private var closed = false
    private var threads: [pthread_t] = []

    /// `count` threads computing calls with `compute(worker, call)`; `encode`, when given, turns
    /// each partial into numbers on the worker thread.
    init(
        count: Int, compute: @escaping @Sendable (Int, Int) throws -> Partial,
        encode: (@Sendable (Partial) -> [Double])?
    ) {
        threads = (0..<max(1, count)).map { worker in
            SpawnedThread.start { [self] in work(worker: worker, compute: compute, encode: encode) }
        }
    }

    private func work(worker: Int, compute: @Sendable (Int, Int) throws -> Partial, encode: (@Sendable (Partial) -> [Double])?) {
        lock.lock()
        while true {
            while queue.isEmpty && !closed { lock.wait() }
            if queue.isEmpty { break }
            let call = queue.removeFirst()
            running += 1
            lock.unlock()
            let outcome: Outcome
            do {
                let partial = try compute(worker, call)
                outcome = encode.map { .encoded($0(partial)) } ?? .computed(partial)
            } catch {
                outcome = .failed(error)
            }
            lock.lock()
            running -= 1
            finished.append((call, outcome))
            lock.broadcast()
        }
        lock.unlock()
    }

    /// Calls queued or being computed.
    var held: Int { lock.withLock { queue.count + running } }

    func enqueue(_ calls: [Int]) {
        guard !calls.isEmpty else { return }
        lock.withLock {
            queue += calls
            lock.broadcast()
        }
    }

    /// Forgets queued calls above `call` (a lower call failed: they are no longer needed); returns them.
    @discardableResult
    func dropQueued(above call: Int) -> [Int] {
        lock.withLock {
            let dropped = queue.filter { $0 > call }
            queue.removeAll { $0 > call }
            return dropped
        }
    }

    /// The calls finished since the last time.
    func takeFinished() -> [(call: Int, outcome: Outcome)] {
        lock.withLock {
            defer { finished.removeAll() }
            return finished
        }
    }

    /// Waits up to `seconds` for a call to finish, unless one already has (its outcome stays to be taken).
    func waitForNews(seconds: Double) {
        lock.withLock {
            if finished.isEmpty { lock.wait(seconds: seconds) }
        }
    }

    /// Drops the queue, lets the calls being computed finish, and joins the threads.
    func stop() {
        lock.withLock {
            queue.removeAll()
            closed = true
            lock.broadcast()
        }
        for thread in threads { pthread_join(thread, nil) }
        threads.removeAll()
    }

    deinit { if !threads.isEmpty { stop() } }
}

/// A pthread mutex with one condition variable.
final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    /// Waits for a broadcast (the mutex held).
    func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits for a broadcast or `seconds`, whichever comes first (the mutex held).
    func wait(seconds: Double) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let nanoseconds = Int(now.tv_nsec) + Int(seconds * 1e9)
        var deadline = timespec(tv_sec: now.tv_sec + nanoseconds / 1_000_000_000, tv_nsec: nanoseconds % 1_000_000_000)
        pthread_cond_timedwait(condition, mutex, &deadline)
    }

    func broadcast() { pthread_cond_broadcast(condition) }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A joinable pthread running a closure, with an 8 MiB stack (as the reduction's workers have).
enum SpawnedThread {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    static func start(_ body: @escaping @Sendable () -> Void) -> pthread_t {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, 8 << 20)
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, context)
        precondition(status == 0, "cannot start a worker thread (pthread_create returned \(status))")
        return thread
    }
}

/// Sleeps the calling thread for `seconds` (a poll interval).
func sleep(seconds: Double) {
    var interval = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    nanosleep(&interval, nil)
}
