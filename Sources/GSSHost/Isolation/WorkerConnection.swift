import CGSSSystem
import Glibc

/// The parent's side of one worker process (`gss worker …`): the process, a socket for framed
/// messages, and the worker's stdout and stderr captured through a pipe, drained whenever the
/// parent waits, so a chatty plugin never blocks on a full pipe.
final class WorkerConnection: @unchecked Sendable {
    let process: ChildProcess
    let socket: MessageSocket
    private let outputFD: Int32
    private var captured: [UInt8] = []
    /// Bytes of output kept for messages (the end of it is what explains a crash).
    private static let capturedLimit = 8192

    /// Starts `executable worker <invocation>` with its socket as fd 3 and, when given, the
    /// shared-memory file as fd 4.
    init(
        executable: String, invocation: WorkerInvocation, sharedMemory: SharedMemory? = nil,
        environment: [String: String]? = nil
    ) throws(ChannelError) {
        let (parentEnd, childEnd) = try Descriptors.socketPair()
        let outputRead: Int32
        let outputWrite: Int32
        do {
            (outputRead, outputWrite) = try Descriptors.pipePair()
        } catch {
            close(parentEnd)
            close(childEnd)
            throw error
        }
        defer {
            // The child has its copies now (or never started); ours would keep EOF from coming.
            close(childEnd)
            close(outputWrite)
        }
        var descriptors: [Int32: Int32] = [WorkerDescriptors.socket: childEnd]
        if let sharedMemory { descriptors[WorkerDescriptors.sharedMemory] = sharedMemory.fd }
        // Swift's crash backtracer would spend time and print a backtrace of gss's worker loop
        // when a plugin crashes; the signal and the plugin's own last words say more.
        var workerEnvironment = environment ?? ProcessEnvironment.all
        workerEnvironment["SWIFT_BACKTRACE"] = "enable=no"
        do {
            process = try ChildProcess(
                executable: executable, arguments: ["worker"] + invocation.arguments, descriptors: descriptors,
                output: outputWrite, environment: workerEnvironment)
        } catch {
            close(parentEnd)
            close(outputRead)
            throw .system(error.description)
        }
        socket = MessageSocket(fd: parentEnd)
        _ = fcntl(outputRead, F_SETFL, fcntl(outputRead, F_GETFL) | O_NONBLOCK)
        outputFD = outputRead
    }

    deinit {
        _ = finish(grace: 5)
        close(outputFD)
    }

    /// The worker's output so far, taken (the capture starts empty again).
    func takeOutput() -> String {
        drainOutput()
        defer { captured.removeAll() }
        return String(decoding: captured, as: UTF8.self)
    }

    /// The last non-empty line the worker printed, cleaned for a one-line message ("" if none).
    func lastOutputLine() -> String {
        drainOutput()
        let text = String(decoding: captured, as: UTF8.self)
        let line = text.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
        let printable = line.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7f }
        // Trimmed of tabs and space separators (what CharacterSet.whitespaces holds).
        let isBlank = { (scalar: Unicode.Scalar) in scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator }
        guard let first = printable.firstIndex(where: { !isBlank($0) }), let last = printable.lastIndex(where: { !isBlank($0) }) else {
            return ""
        }
        let cleaned = String(String.UnicodeScalarView(printable[first...last]))
        return cleaned.count > 200 ? String(cleaned.prefix(200)) + "…" : cleaned
    }

    /// Reads whatever output is waiting, without blocking.
    private func drainOutput() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(outputFD, &buffer, buffer.count)
            if count > 0 {
                captured += buffer[0..<count]
                if captured.count > Self.capturedLimit { captured.removeFirst(captured.count - Self.capturedLimit) }
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }

    func send(kind: UInt8, payload: [UInt8]) throws(ChannelError) {
        try socket.sendFrame(kind: kind, payload: payload)
    }

    /// The next framed message, draining the worker's output while waiting; `.timedOut` once
    /// `deadline` passes (nil: no limit), `.closed` when the worker closed its end (it ended).
    func nextFrame(deadline: ContinuousClock.Instant?) throws(ChannelError) -> (kind: UInt8, payload: [UInt8]) {
        while true {
            var entries = [
                pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: outputFD, events: Int16(POLLIN), revents: 0),
            ]
            var milliseconds: Int32 = -1
            if let deadline {
                let left = ContinuousClock.now.duration(to: deadline).inSeconds
                if left <= 0 { throw .timedOut }
                milliseconds = Int32(min(left * 1000, Double(Int32.max)).rounded(.up))
            }
            let ready = poll(&entries, 2, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw .system("poll: \(String(cString: strerror(errno)))")
            }
            if entries[1].revents != 0 {
                drainOutput()
                // A closed output pipe stays readable: stop polling it by waiting on the socket alone.
                if entries[1].revents & Int16(POLLHUP) != 0 && entries[0].revents == 0 {
                    guard Descriptors.waitReadable(socket.fd, seconds: deadline.map { max(0, ContinuousClock.now.duration(to: $0).inSeconds) }) else {
                        throw .timedOut
                    }
                    return try socket.receiveFrame()
                }
            }
            if entries[0].revents != 0 { return try socket.receiveFrame() }
        }
    }

    /// Ends the conversation: closes the socket (a worker quits at EOF), waits up to `grace`
    /// seconds for it to exit by itself, then kills it. Always reaps.
    @discardableResult
    func finish(grace: Double) -> ProcessTermination {
        shutdown(socket.fd, Int32(SHUT_RDWR))
        return process.terminate(within: grace)
    }

    /// Kills the worker at once (it hung, or it is no longer wanted) and reaps it.
    @discardableResult
    func kill() -> ProcessTermination {
        let termination = process.kill()
        drainOutput()
        return termination
    }

    /// How the worker ended, once the socket said it closed: it is dead or about to be.
    func reapAfterClose() -> ProcessTermination {
        let termination = process.terminate(within: 5)
        drainOutput()
        return termination
    }
}

/// Where the running gss binary is, for starting workers from it.
public enum WorkerExecutable {
    /// This process's executable (via /proc/self/exe, which resolves symbolic links).
    public static var current: String? { FileSystem.linkTarget("/proc/self/exe") }
}
