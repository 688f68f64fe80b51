/// Where a smoother's calls of the black box run: on this process's worker threads
/// (`LocalChunkExecutor`, the default), or spread over several processes that each run the same
/// program (MPI ranks, in GSSHost), one of which — the coordinator — merges.
///
/// Every process calls the same operations in the same order with the same arguments (the same
/// program on the same input). Bits never depend on where a call ran: partials are merged on the
/// coordinator strictly in call order, and what crosses processes is encoded exactly
/// (`ExchangeCodec`). An operation that fails on any process throws the same error on every
/// process, so that all of them stop together.
public protocol ChunkExecutor: Sendable {
    /// How many processes take part (1 for this process alone).
    var processCount: Int { get }
    /// Whether this process merges the partials and runs the coordinator's bodies.
    var isCoordinator: Bool { get }

    /// Computes calls 0..<calls — on `workers` threads of this process, and likewise on the others —
    /// and hands their partials to `merge` strictly in call order, on the coordinator only; the
    /// other processes return once every call is merged. At most about `window` calls per process
    /// run ahead of the oldest unmerged one.
    /// - Parameter layout: what else determines a call's partial beyond its index (e.g. how many
    ///   chunks one call covers): a journal reuses a recorded partial only under the same layout.
    /// - Throws: the failure of the lowest failed call, on every process.
    func run<Partial: Sendable>(
        calls: Int, layout: Int, workers: Int, window: Int, codec: ExchangeCodec<Partial>,
        compute: @escaping @Sendable (_ worker: Int, _ call: Int) throws -> Partial,
        merge: @escaping @Sendable (_ call: Int, Partial) -> Void
    ) throws

    /// Runs `body` on the coordinator only and returns its value on every process (or throws its
    /// error on every process).
    /// - Parameter recorded: whether a journal should keep the value (a costly evaluation, a random
    ///   draw) rather than let a resumed run compute it again (it follows from what was kept).
    func fromCoordinator<Value>(_ codec: ExchangeCodec<Value>, recorded: Bool, _ body: () throws -> Value) throws -> Value

    /// Runs `body` on every process; when it fails on any, every process throws the error of the
    /// lowest-numbered process that failed.
    func onEveryProcess<Value>(_ body: () throws -> Value) throws -> Value
}

/// This process alone: calls run on worker threads (`OrderedParallelReduction`), nothing is encoded.
public struct LocalChunkExecutor: ChunkExecutor {
    public init() {}

    public var processCount: Int { 1 }
    public var isCoordinator: Bool { true }

    public func run<Partial: Sendable>(
        calls: Int, layout: Int, workers: Int, window: Int, codec: ExchangeCodec<Partial>,
        compute: @escaping @Sendable (_ worker: Int, _ call: Int) throws -> Partial,
        merge: @escaping @Sendable (_ call: Int, Partial) -> Void
    ) throws {
        try OrderedParallelReduction.run(chunks: calls, workers: workers, window: window, compute: compute, merge: merge)
    }

    public func fromCoordinator<Value>(_ codec: ExchangeCodec<Value>, recorded: Bool, _ body: () throws -> Value) throws -> Value {
        try body()
    }

    public func onEveryProcess<Value>(_ body: () throws -> Value) throws -> Value { try body() }
}
