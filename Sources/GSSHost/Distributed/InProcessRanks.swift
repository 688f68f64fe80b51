import Synchronization

/// Ranks that are threads of this process, for testing what runs across MPI ranks without MPI:
/// `InProcessRanks.make(size)` gives one transport per rank; run each rank's program on its own
/// thread. Collective operations (`broadcast`, `lowestRank`) pair up by their order, as in MPI.
public final class InProcessRanks: RankTransport, @unchecked Sendable {  // each rank's transport is used by one thread
    public let rank: Int
    public let size: Int
    private let network: Network
    private var collectives = 0

    private init(rank: Int, network: Network) {
        self.rank = rank
        self.size = network.size
        self.network = network
    }

    /// One transport per rank, rank 0 first.
    public static func make(_ size: Int) -> [InProcessRanks] {
        let network = Network(size: size)
        return (0..<size).map { InProcessRanks(rank: $0, network: network) }
    }

    public func send(_ message: [Double], to destination: Int) {
        network.mailboxes.withLock { $0[destination].append((rank, message)) }
    }

    public func receive() -> (source: Int, message: [Double])? {
        network.mailboxes.withLock { $0[rank].isEmpty ? nil : $0[rank].removeFirst() }
    }

    public func broadcast(_ message: [Double]?, from root: Int) -> [Double] {
        let slot = nextCollective()
        if rank == root { network.post(slot: slot, rank: rank, message!) }
        return network.await(slot: slot) { $0[root] }
    }

    public func lowestRank(flagged: Bool) -> Int? {
        let slot = nextCollective()
        network.post(slot: slot, rank: rank, [flagged ? 1 : 0])
        let size = self.size
        return network.await(slot: slot) { posted -> Int?? in
            guard posted.count == size else { return nil }
            return .some((0..<size).first { posted[$0]![0] == 1 })
        }
    }

    private func nextCollective() -> Int {
        collectives += 1
        return collectives
    }

    private final class Network: Sendable {
        let size: Int
        /// Per rank, the messages sent to it (source, numbers), oldest first.
        let mailboxes: Mutex<[[(Int, [Double])]]>
        /// Per collective operation (numbered alike on every rank), what each rank posted.
        let posts = Mutex<[Int: [Int: [Double]]]>([:])

        init(size: Int) {
            self.size = size
            mailboxes = Mutex(Array(repeating: [], count: size))
        }

        func post(slot: Int, rank: Int, _ message: [Double]) {
            posts.withLock { $0[slot, default: [:]][rank] = message }
        }

        /// Polls until `ready` finds what it needs among the posts of `slot`.
        func await<T>(slot: Int, _ ready: ([Int: [Double]]) -> T?) -> T {
            while true {
                if let value = posts.withLock({ ready($0[slot] ?? [:]) }) { return value }
                sleep(seconds: 50e-6)
            }
        }
    }
}
