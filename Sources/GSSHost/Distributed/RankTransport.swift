/// Messages between the processes ("ranks") of one run: MPI (`MPIRanks`, with the MPI trait), or
/// threads of one process standing in for them (`InProcessRanks`, for tests). Each process uses
/// its transport from one thread at a time. Messages are arrays of doubles; two messages from one
/// process to another arrive in the order they were sent.
public protocol RankTransport: AnyObject, Sendable {
    /// This process: 0 is the coordinator.
    var rank: Int { get }
    /// How many processes take part.
    var size: Int { get }
    /// Sends `message` to process `destination`.
    func send(_ message: [Double], to destination: Int)
    /// A message that has arrived (from any process), or nil when none is waiting; never blocks.
    func receive() -> (source: Int, message: [Double])?
    /// `message` of process `root` on every process (the others pass nil), once it has arrived;
    /// waiting sleeps rather than spins (root may take minutes to compute it).
    func broadcast(_ message: [Double]?, from root: Int) -> [Double]
    /// The lowest rank that passed `flagged` true, on every process (nil when none did).
    func lowestRank(flagged: Bool) -> Int?
}

/// What processes tell each other during `CoordinatedExecutor.run` (the first number of a message).
enum RunMessage: Int {
    /// worker → coordinator: [kind, operation, calls wanted]
    case request = 1
    /// worker → coordinator: [kind, operation, call, partial…]
    case result
    /// worker → coordinator: [kind, operation, call, error…]
    case failure
    /// worker → coordinator: [kind, operation]: the worker's last message of this operation.
    case acknowledge
    /// coordinator → worker: [kind, operation, call, call, …]
    case assign
    /// coordinator → worker: [kind, operation, call]: drop queued calls above it (it failed).
    case cancel
    /// coordinator → worker: [kind, operation, failed (0 or 1), error…]: the operation is over.
    case end
}
