import GSSCore

/// A `ChunkExecutor` over several processes (`transport`: MPI ranks) and/or with a journal.
///
/// Every process runs the same program and calls the same operations. In `run`, process 0 — the
/// coordinator — hands out calls in order, dynamically (a process asks for more when its queue
/// runs low, so a slow process or a slow call holds nobody back), computes calls on its own
/// worker threads too, receives the others' partials (exact numbers), and merges them strictly in
/// call order with the caller's merge: bits never depend on where a call ran. Only the thread that
/// calls the operations talks to other processes (MPI's "funneled" threading); the workers are
/// spawned threads.
///
/// A failed call (an error, a non-finite output, a crashed isolated worker) on any process goes to
/// the coordinator, which stops handing out calls, waits for the calls below it (the lowest failed
/// call is the one reported, as on one process), and ends the operation on every process with
/// that error, which each then throws. With a journal, the coordinator appends every merged
/// partial and every recorded shared value; a rerun with the same arguments takes them from
/// there instead of computing them again.
public final class CoordinatedExecutor: ChunkExecutor, @unchecked Sendable {  // operations come from one thread
    /// nil: this process alone.
    public let transport: (any RankTransport)?
    private let openJournal: (() throws -> RunJournal)?
    private var journal: Result<RunJournal, any Error>?
    /// How an error reads on the processes that did not see it (whether it is a usage error, its sentence).
    private let describe: @Sendable (any Error) -> SmoothingError
    /// Operations so far, counted alike on every process (they name the journal's records).
    private var operation = 0
    /// Seconds between polls for messages while nothing else happens.
    private let pollInterval: Double
    /// True once an operation threw the same error on every process: they all stop together.
    public private(set) var failedTogether = false

    /// - Parameters:
    ///   - transport: the other processes; nil for this one alone.
    ///   - journal: opens the journal (on the coordinator, at the first operation); nil for none.
    ///   - describe: an error as the other processes should throw it.
    public init(
        transport: (any RankTransport)?, journal: (() throws -> RunJournal)? = nil,
        pollInterval: Double = 100e-6,
        describe: @escaping @Sendable (any Error) -> SmoothingError = CoordinatedExecutor.describeError
    ) {
        self.transport = transport
        self.openJournal = journal
        self.pollInterval = pollInterval
        self.describe = describe
    }

    /// A `SmoothingError` as it is; any other error as a black-box failure with its description.
    public static let describeError: @Sendable (any Error) -> SmoothingError = { error in
        (error as? SmoothingError) ?? SmoothingError(code: .evaluationFailed, message: "\(error)")
    }

    public var processCount: Int { transport?.size ?? 1 }
    public var isCoordinator: Bool { (transport?.rank ?? 0) == 0 }
    private var isShared: Bool { processCount > 1 }

    /// The coordinator's journal, opened on first use (a failure to open it fails the operation).
    private func currentJournal() throws -> RunJournal? {
        guard isCoordinator, let openJournal else { return nil }
        if journal == nil { journal = Result { try openJournal() } }
        return try journal!.get()
    }

    /// The journal's records of this run's arguments: (found, reused), or nil without a journal.
    public var journalRecords: (found: Int, reused: Int)? {
        guard case .success(let journal) = journal else { return nil }
        return (journal.recordsFound, journal.recordsReused)
    }

    // MARK: - Shared values

    public func fromCoordinator<Value>(_ codec: ExchangeCodec<Value>, recorded: Bool, _ body: () throws -> Value) throws -> Value {
        operation += 1
        guard isCoordinator else {
            let message = transport!.broadcast(nil, from: 0)
            if message.first == 0 { return try codec.decode(Array(message.dropFirst())) }
            failedTogether = true
            throw try SmoothingError(exchanged: Array(message.dropFirst()))
        }
        let outcome = Result<Value, any Error> {
            let journal = recorded ? try currentJournal() : nil
            if let numbers = journal?.value(operation: operation), let value = try? codec.decode(numbers) { return value }
            let value = try body()
            try journal?.recordValue(operation: operation, codec.encode(value))
            return value
        }
        if isShared {
            switch outcome {
            case .success(let value): _ = transport!.broadcast([0] + codec.encode(value), from: 0)
            case .failure(let error):
                _ = transport!.broadcast([1] + describe(error).exchanged, from: 0)
                failedTogether = true
            }
        }
        return try outcome.get()
    }

    public func onEveryProcess<Value>(_ body: () throws -> Value) throws -> Value {
        guard isShared, let transport else { return try body() }
        let outcome = Result<Value, any Error> { try body() }
        let failed: Bool
        if case .failure = outcome { failed = true } else { failed = false }
        guard let lowest = transport.lowestRank(flagged: failed) else { return try outcome.get() }
        failedTogether = true
        if lowest == transport.rank, case .failure(let error) = outcome {
            _ = transport.broadcast(describe(error).exchanged, from: lowest)
            throw error
        }
        throw try SmoothingError(exchanged: transport.broadcast(nil, from: lowest))
    }

    // MARK: - Calls

    public func run<Partial: Sendable>(
        calls: Int, layout: Int, workers: Int, window: Int, codec: ExchangeCodec<Partial>,
        compute: @escaping @Sendable (_ worker: Int, _ call: Int) throws -> Partial,
        merge: @escaping @Sendable (_ call: Int, Partial) -> Void
    ) throws {
        operation += 1
        if !isShared && openJournal == nil {
            return try LocalChunkExecutor().run(
                calls: calls, layout: layout, workers: workers, window: window, codec: codec, compute: compute, merge: merge)
        }
        if isCoordinator {
            try coordinate(calls: calls, layout: layout, workers: workers, window: window, codec: codec, compute: compute, merge: merge)
        } else {
            try serve(calls: calls, workers: workers, codec: codec, compute: compute)
        }
    }

    /// Calls a process holds (queued or computing): one per worker, and as many again queued when
    /// calls are plentiful (so that workers never wait for a reply), but not when they are few and
    /// likely costly (a process holding spare calls would keep them from idle processes).
    static func callsHeld(workers: Int, calls: Int, processes: Int) -> Int {
        calls >= 4 * workers * processes ? 2 * workers : workers
    }

    /// The coordinator's side of `run`.
    private func coordinate<Partial: Sendable>(
        calls: Int, layout: Int, workers: Int, window: Int, codec: ExchangeCodec<Partial>,
        compute: @escaping @Sendable (Int, Int) throws -> Partial, merge: @escaping @Sendable (Int, Partial) -> Void
    ) throws {
        let op = operation
        let others = processCount - 1
        var state = CoordinatorState<Partial>(calls: calls)
        // Calls the journal already holds are merged from it, never handed out.
        let journal: RunJournal?
        do {
            journal = try currentJournal()
        } catch {
            journal = nil
            state.noteFailure(call: 0, error)
        }
        var recorded: [Int: Partial] = [:]
        for (call, numbers) in journal?.partials(operation: op, layout: layout, calls: calls) ?? [:] {
            if let partial = try? codec.decode(numbers) { recorded[call] = partial }
        }
        state.skip(Set(recorded.keys))
        let local = CallWorkers(count: min(workers, max(1, calls)), compute: compute, encode: nil)
        let localTarget = Self.callsHeld(workers: workers, calls: calls, processes: processCount)
        let aheadLimit = max(1, window) * processCount
        var waitingRequests: [(rank: Int, wanted: Int)] = []
        var endSent = false
        var acknowledged = 0

        while true {
            var busy = false
            // Finished local calls.
            for (call, outcome) in local.takeFinished() {
                busy = true
                state.outstanding.remove(call)
                switch outcome {
                case .computed(let partial): state.pending[call] = partial
                case .encoded(let numbers): state.store(call, Result { try codec.decode(numbers) })
                case .failed(let error): state.noteFailure(call: call, error)
                }
            }
            // Messages from the other processes.
            while let (source, message) = transport?.receive() {
                busy = true
                guard message.count >= 2, let kind = RunMessage(rawValue: Int(message[0])), Int(message[1]) == op else { continue }
                switch kind {
                case .request:
                    if !endSent { waitingRequests.append((source, max(1, Int(message[2])))) }
                case .result:
                    let call = Int(message[2])
                    state.outstanding.remove(call)
                    if !endSent { state.store(call, Result { try codec.decode(Array(message[3...])) }) }
                case .failure:
                    let call = Int(message[2])
                    state.outstanding.remove(call)
                    let error = (try? SmoothingError(exchanged: Array(message[3...])))
                        ?? SmoothingError(code: .evaluationFailed, message: "process \(source) failed at call \(call) and could not say why")
                    state.noteFailure(call: call, error)
                case .acknowledge:
                    acknowledged += 1
                case .assign, .cancel, .end:
                    continue
                }
            }
            // Merge what is next, in call order, up to a failed call (what is merged, the journal keeps).
            while state.nextToMerge < (state.failure?.call ?? calls) {
                let call = state.nextToMerge
                if let partial = state.pending.removeValue(forKey: call) {
                    do {
                        try journal?.recordPartial(operation: op, layout: layout, calls: calls, call: call, codec.encode(partial))
                    } catch {
                        state.noteFailure(call: call, error)
                        break
                    }
                    merge(call, partial)
                } else if let partial = recorded.removeValue(forKey: call) {
                    journal?.reused()
                    merge(call, partial)
                } else {
                    break
                }
                state.nextToMerge += 1
                busy = true
            }
            // A new lowest failure: the others drop the calls above it they have not started.
            if let failed = state.failure?.call, failed != state.cancelledAbove {
                state.cancelledAbove = failed
                local.dropQueued(above: failed)
                for rank in 1..<processCount { transport!.send([Double(RunMessage.cancel.rawValue), Double(op), Double(failed)], to: rank) }
            }
            // Hand out calls: to the local workers first, then to the processes that asked.
            if state.failure == nil {
                let limit = min(calls, state.nextToMerge + aheadLimit)
                var given: [Int] = []
                while local.held + given.count < localTarget, let call = state.dispense(below: limit) { given.append(call) }
                local.enqueue(given)
                while !waitingRequests.isEmpty {
                    var assigned: [Int] = []
                    while assigned.count < waitingRequests[0].wanted, let call = state.dispense(below: limit) { assigned.append(call) }
                    guard !assigned.isEmpty else { break }
                    transport!.send([Double(RunMessage.assign.rawValue), Double(op)] + assigned.map(Double.init), to: waitingRequests[0].rank)
                    waitingRequests.removeFirst()
                    busy = true
                }
            }
            // The end: every call merged, or every call below the failed one accounted for.
            let finished = state.failure.map { failure in !state.outstanding.contains { $0 < failure.call } } ?? (state.nextToMerge == calls)
            if finished && !endSent {
                endSent = true
                var end = [Double(RunMessage.end.rawValue), Double(op)]
                if let failure = state.failure { end += [1] + describe(failure.error).exchanged } else { end.append(0) }
                for rank in 1..<processCount { transport!.send(end, to: rank) }
            }
            if endSent && acknowledged == others { break }
            if !busy { local.waitForNews(seconds: transport == nil ? 0.05 : pollInterval) }
        }
        local.stop()
        if let failure = state.failure {
            if isShared { failedTogether = true }
            throw failure.error
        }
    }

    /// A worker process's side of `run`: ask for calls, compute them, send their partials back.
    private func serve<Partial: Sendable>(
        calls: Int, workers: Int, codec: ExchangeCodec<Partial>, compute: @escaping @Sendable (Int, Int) throws -> Partial
    ) throws {
        let op = Double(operation)
        let transport = self.transport!
        let local = CallWorkers(count: workers, compute: compute, encode: codec.encode)
        let target = Self.callsHeld(workers: workers, calls: calls, processes: processCount)
        var asking = false
        var end: [Double]?
        while end == nil {
            var busy = false
            for (call, outcome) in local.takeFinished() {
                busy = true
                switch outcome {
                case .encoded(let numbers): transport.send([Double(RunMessage.result.rawValue), op, Double(call)] + numbers, to: 0)
                case .computed(let partial): transport.send([Double(RunMessage.result.rawValue), op, Double(call)] + codec.encode(partial), to: 0)
                case .failed(let error): transport.send([Double(RunMessage.failure.rawValue), op, Double(call)] + describe(error).exchanged, to: 0)
                }
            }
            while end == nil, let (_, message) = transport.receive() {
                busy = true
                guard message.count >= 2, let kind = RunMessage(rawValue: Int(message[0])), message[1] == op else { continue }
                switch kind {
                case .assign:
                    local.enqueue(message[2...].map { Int($0) })
                    asking = false
                case .cancel: local.dropQueued(above: Int(message[2]))
                case .end: end = message
                case .request, .result, .failure, .acknowledge: continue
                }
            }
            if end == nil && !asking && local.held < target {
                transport.send([Double(RunMessage.request.rawValue), op, Double(target - local.held)], to: 0)
                asking = true
            }
            if end == nil && !busy { local.waitForNews(seconds: pollInterval) }
        }
        // Calls still being computed (after a failure) finish; their partials are no longer wanted.
        local.stop()
        transport.send([Double(RunMessage.acknowledge.rawValue), op], to: 0)
        if let end, end.count >= 3, end[2] == 1 {
            failedTogether = true
            throw try SmoothingError(exchanged: Array(end[3...]))
        }
    }
}

/// The coordinator's bookkeeping of one `run`.
private struct CoordinatorState<Partial> {
    let calls: Int
    /// Calls not to hand out (the journal holds them).
    private var skipped: Set<Int> = []
    private var nextToDispense = 0
    var nextToMerge = 0
    /// Computed, waiting for their turn to merge.
    var pending: [Int: Partial] = [:]
    /// Handed out, neither finished nor failed yet.
    var outstanding: Set<Int> = []
    /// The lowest failed call so far and its error.
    private(set) var failure: (call: Int, error: any Error)?
    var cancelledAbove: Int?

    init(calls: Int) { self.calls = calls }

    mutating func skip(_ calls: Set<Int>) { skipped = calls }

    /// The next call to hand out, below `limit`.
    mutating func dispense(below limit: Int) -> Int? {
        while nextToDispense < limit && skipped.contains(nextToDispense) { nextToDispense += 1 }
        guard nextToDispense < limit else { return nil }
        defer { nextToDispense += 1 }
        outstanding.insert(nextToDispense)
        return nextToDispense
    }

    mutating func store(_ call: Int, _ partial: Result<Partial, any Error>) {
        switch partial {
        case .success(let value): pending[call] = value
        case .failure(let error): noteFailure(call: call, error)
        }
    }

    mutating func noteFailure(call: Int, _ error: any Error) {
        if failure == nil || call < failure!.call { failure = (call, error) }
    }
}
