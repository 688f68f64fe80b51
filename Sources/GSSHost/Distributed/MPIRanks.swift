import Glibc

#if MPI
import CGSSMPI
#endif

/// How this process was started: by an MPI launcher (mpirun, srun) or alone.
public enum MPILaunch {
    /// Whether this build can use MPI (the package's MPI trait).
    public static var isBuiltIn: Bool {
        #if MPI
        return true
        #else
        return false
        #endif
    }

    /// This process's rank as the launcher's environment gives it (Open MPI's mpirun, PMIx or
    /// PMI under srun), known before MPI starts; nil when no launcher started this process.
    public static var environmentRank: Int? {
        for name in ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"] {
            if let text = getenv(name), let rank = Int(String(cString: text)) { return rank }
        }
        return nil
    }
}

#if MPI
/// The MPI ranks of this job (MPI_COMM_WORLD), for `CoordinatedExecutor`. MPI is started with
/// funneled threading: only the thread that started it — the main thread — calls MPI.
public final class MPIRanks: RankTransport, @unchecked Sendable {  // used from the main thread only
    public let rank: Int
    public let size: Int
    /// Sends not yet completed (nonblocking: a rank never waits for another to receive).
    private var sending: [UnsafeMutableRawPointer] = []

    private init(rank: Int, size: Int) {
        self.rank = rank
        self.size = size
    }

    /// Starts MPI; call once, from the main thread.
    public static func start() throws(MPIError) -> MPIRanks {
        var rank: Int32 = 0
        var size: Int32 = 0
        switch gss_mpi_start(&rank, &size) {
        case 0: return MPIRanks(rank: Int(rank), size: Int(size))
        case -2: throw MPIError(description: "this MPI library cannot give MPI_THREAD_FUNNELED threading, which gss needs")
        default: throw MPIError(description: "MPI could not start (MPI_Init_thread failed)")
        }
    }

    /// Ends MPI (every process calls it when the job ends normally, success or a shared failure).
    public static func finish() { gss_mpi_finish() }

    /// Ends every process of the job with `code` (for a failure the other processes do not share).
    public static func abort(code: Int32) -> Never {
        gss_mpi_abort(code)
        exit(code)
    }

    /// The tags of gss's point-to-point messages: a run's (their first number says what they are),
    /// and the agreement on a failure outside the shared operations.
    private static let runTag: Int32 = 7
    private static let failureTag: Int32 = 8

    public func send(_ message: [Double], to destination: Int) { send(message, to: destination, tag: Self.runTag) }

    public func receive() -> (source: Int, message: [Double])? { receive(from: nil, tag: Self.runTag) }

    private func send(_ message: [Double], to destination: Int, tag: Int32) {
        let handle = message.withUnsafeBufferPointer { gss_mpi_start_send($0.baseAddress, Int32($0.count), Int32(destination), tag) }
        guard let handle else { preconditionFailure("MPI_Isend to rank \(destination) failed") }
        sending.append(handle)
        completeSends()
    }

    /// Forgets the sends that have completed.
    private func completeSends() {
        sending.removeAll { handle in
            var unused: Int32 = 0
            let done = gss_mpi_test(handle, &unused)
            precondition(done >= 0, "an MPI send failed")
            return done == 1
        }
    }

    /// Waits until every message sent has been delivered (before MPI ends).
    public func flush() {
        while !sending.isEmpty {
            completeSends()
            if !sending.isEmpty { sleep(seconds: 50e-6) }
        }
    }

    private func receive(from origin: Int?, tag: Int32) -> (source: Int, message: [Double])? {
        completeSends()
        var source: Int32 = 0
        var count: Int32 = 0
        guard gss_mpi_poll(Int32(origin ?? -1), tag, &source, &count) == 1 else { return nil }
        var message = [Double](repeating: 0, count: Int(count))
        let status = message.withUnsafeMutableBufferPointer { gss_mpi_receive($0.baseAddress, count, source, tag) }
        precondition(status == 0, "MPI_Recv from rank \(source) failed")
        return (Int(source), message)
    }

    /// After an error outside the shared operations (e.g. a bad option every rank rejects alike):
    /// whether every rank met one within `seconds`, and then rank 0's exit code, for all to end
    /// normally with; nil when some rank is still running (this rank must then abort the job).
    public func agreeOnFailure(code: Int32, seconds: Double) -> Int32? {
        var waited = 0.0
        if rank == 0 {
            var failed = Set<Int>()
            while failed.count < size - 1 {
                if let (source, _) = receive(from: nil, tag: Self.failureTag) {
                    failed.insert(source)
                } else if waited > seconds {
                    return nil
                } else {
                    sleep(seconds: 1e-3)
                    waited += 1e-3
                }
            }
            for other in 1..<size { send([Double(code)], to: other, tag: Self.failureTag) }
            return code
        }
        send([Double(code)], to: 0, tag: Self.failureTag)
        while waited <= seconds + 1 {
            if let (_, verdict) = receive(from: 0, tag: Self.failureTag) { return Int32(verdict.first ?? Double(code)) }
            sleep(seconds: 1e-3)
            waited += 1e-3
        }
        return nil
    }

    public func broadcast(_ message: [Double]?, from root: Int) -> [Double] {
        completeSends()
        // The length first, so that every process can make room for the numbers.
        var header = [Double(message?.count ?? 0)]
        header.withUnsafeMutableBufferPointer { complete(gss_mpi_start_broadcast($0.baseAddress, 1, Int32(root))) }
        var payload = message ?? [Double](repeating: 0, count: Int(header[0]))
        if !payload.isEmpty {
            payload.withUnsafeMutableBufferPointer {
                complete(gss_mpi_start_broadcast($0.baseAddress, Int32($0.count), Int32(root)))
            }
        }
        return payload
    }

    public func lowestRank(flagged: Bool) -> Int? {
        completeSends()
        let lowest = complete(gss_mpi_start_minimum(Int32(flagged ? rank : size)))
        return lowest < size ? lowest : nil
    }

    /// Waits for a nonblocking collective, sleeping between tests (20 µs at first, growing to
    /// 0.25 ms: a broadcast may wait minutes for the coordinator's evaluation, without spinning).
    @discardableResult
    private func complete(_ handle: UnsafeMutableRawPointer?) -> Int {
        precondition(handle != nil, "an MPI collective operation could not start")
        var result: Int32 = 0
        var interval = 20e-6
        while true {
            switch gss_mpi_test(handle, &result) {
            case 1: return Int(result)
            case 0:
                sleep(seconds: interval)
                interval = min(interval * 2, 250e-6)
            default: preconditionFailure("an MPI collective operation failed")
            }
        }
    }
}

/// MPI could not be used.
public struct MPIError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
#endif
