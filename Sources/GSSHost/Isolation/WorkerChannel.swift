import CGSSSystem
import Glibc

/// Why talking to a worker process failed.
enum ChannelError: Error, Sendable {
    /// The other end closed (for a worker: it ended, usually by crashing).
    case closed
    /// No message arrived within the time limit.
    case timedOut
    /// A system call failed (the text says which and why).
    case system(String)
    /// The other end sent something that is not a message of the protocol.
    case malformed(String)
}

/// File descriptors as a worker process sees them.
enum WorkerDescriptors {
    /// The worker's end of its socket to the parent: requests in, replies and reports out.
    static let socket: Int32 = 3
    /// The shared-memory file holding the batches (isolated evaluation only).
    static let sharedMemory: Int32 = 4
}

/// Descriptor helpers: everything the host creates is close-on-exec and numbered >= 10, so
/// children inherit only what ChildProcess maps for them, and mappings never collide.
enum Descriptors {
    static func movedHigh(_ fd: Int32) throws(ChannelError) -> Int32 {
        let moved = fcntl(fd, F_DUPFD_CLOEXEC, 10)
        let failure = errno
        close(fd)
        guard moved >= 0 else { throw .system("fcntl(F_DUPFD_CLOEXEC): \(String(cString: strerror(failure)))") }
        return moved
    }

    /// A connected pair of stream sockets: (parent's end, child's end).
    static func socketPair() throws(ChannelError) -> (Int32, Int32) {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw .system("socketpair: \(String(cString: strerror(errno)))")
        }
        return (try movedHigh(pair[0]), try movedHigh(pair[1]))
    }

    /// A pipe: (read end, write end).
    static func pipePair() throws(ChannelError) -> (Int32, Int32) {
        var pair: [Int32] = [-1, -1]
        guard pipe(&pair) == 0 else { throw .system("pipe: \(String(cString: strerror(errno)))") }
        return (try movedHigh(pair[0]), try movedHigh(pair[1]))
    }

    /// Waits until `fd` is readable (or closed); false when `seconds` passed first (nil: no limit).
    static func waitReadable(_ fd: Int32, seconds: Double?) -> Bool {
        let deadline = seconds.map { ContinuousClock.now.advanced(bySeconds: $0) }
        while true {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds: Int32
            if let deadline {
                let left = ContinuousClock.now.duration(to: deadline).inSeconds
                if left <= 0 { return false }
                milliseconds = Int32(min(left * 1000, Double(Int32.max)).rounded(.up))
            } else {
                milliseconds = -1
            }
            let ready = Glibc.poll(&entry, 1, milliseconds)
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { return true }  // let the read report the error
        }
    }
}

/// One end of a stream socket carrying whole messages: never raises SIGPIPE, reports EOF as
/// `.closed`. Owns and closes its descriptor.
final class MessageSocket: @unchecked Sendable {
    let fd: Int32

    init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    func send(_ bytes: UnsafeRawBufferPointer) throws(ChannelError) {
        var offset = 0
        while offset < bytes.count {
            let sent = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if sent < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE || errno == ECONNRESET { throw .closed }
                throw .system("send: \(String(cString: strerror(errno)))")
            }
            offset += sent
        }
    }

    func send(_ bytes: [UInt8]) throws(ChannelError) {
        // Array's withUnsafeBytes rethrows untyped errors, so the typed one is carried out by hand.
        var failure: ChannelError?
        bytes.withUnsafeBytes { raw in
            do throws(ChannelError) { try send(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Fills `buffer` completely; `.closed` when the other end closed first.
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(ChannelError) {
        var offset = 0
        while offset < buffer.count {
            let count = recv(fd, buffer.baseAddress! + offset, buffer.count - offset, 0)
            if count == 0 { throw .closed }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { throw .closed }
                throw .system("recv: \(String(cString: strerror(errno)))")
            }
            offset += count
        }
    }

    func receive<T: FixedWidthInteger>(_ type: T.Type) throws(ChannelError) -> T {
        var value = T.zero
        try withUnsafeMutableBytes(of: &value) { (raw: UnsafeMutableRawBufferPointer) throws(ChannelError) in
            try receive(into: raw)
        }
        return T(littleEndian: value)
    }

    func receive(count: Int) throws(ChannelError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var failure: ChannelError?
        bytes.withUnsafeMutableBytes { raw in
            do throws(ChannelError) { try receive(into: raw) } catch { failure = error }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Waits for the next message to start arriving; `.timedOut` after `seconds` (nil: no limit).
    func waitForMessage(seconds: Double?) throws(ChannelError) {
        guard Descriptors.waitReadable(fd, seconds: seconds) else { throw .timedOut }
    }

    // Framed messages: a 1-byte kind, a 4-byte little-endian length, then the payload.

    func sendFrame(kind: UInt8, payload: [UInt8]) throws(ChannelError) {
        var frame: [UInt8] = [kind]
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { frame += $0 }
        try send(frame + payload)
    }

    /// Frames larger than this are refused as a sign of a confused peer.
    static let frameLimit = 64 << 20

    func receiveFrame() throws(ChannelError) -> (kind: UInt8, payload: [UInt8]) {
        let kind = try receive(UInt8.self)
        let length = Int(try receive(UInt32.self))
        guard length <= Self.frameLimit else { throw .malformed("a message of \(length) bytes") }
        return (kind, try receive(count: length))
    }
}

/// A shared-memory file mapped into this process: memfd_create + mmap(MAP_SHARED). The parent
/// sizes it; a worker maps the same file at the size each request names.
final class SharedMemory: @unchecked Sendable {
    let fd: Int32
    private(set) var base: UnsafeMutableRawPointer?
    private(set) var size = 0

    /// A new, empty shared-memory file (owned: closed on deinit).
    init() throws(ChannelError) {
        let fd = gss_shared_memory_file("gss-batches")
        guard fd >= 0 else { throw .system("memfd_create: \(String(cString: strerror(errno)))") }
        self.fd = try Descriptors.movedHigh(fd)
    }

    /// The shared-memory file a parent passed as `fd`.
    init(inherited fd: Int32) { self.fd = fd }

    deinit {
        unmap()
        close(fd)
    }

    /// Grows the file to hold at least `bytes` (rounded up to a power of two, at least 64 KiB)
    /// and maps it; a no-op when it is already large enough.
    func reserve(_ bytes: Int) throws(ChannelError) {
        guard bytes > size else { return }
        var newSize = 64 << 10
        while newSize < bytes { newSize *= 2 }
        guard ftruncate(fd, off_t(newSize)) == 0 else {
            throw .system("ftruncate(\(newSize)): \(String(cString: strerror(errno)))")
        }
        try map(size: newSize)
    }

    /// Maps the file at `newSize` bytes (the worker's side of `reserve`).
    func map(size newSize: Int) throws(ChannelError) {
        guard newSize != size else { return }
        unmap()
        guard let pointer = mmap(nil, newSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), pointer != MAP_FAILED else {
            throw .system("mmap(\(newSize)): \(String(cString: strerror(errno)))")
        }
        base = pointer
        size = newSize
    }

    private func unmap() {
        if let base { munmap(base, size) }
        base = nil
        size = 0
    }
}
