import Glibc
import SystemPackage

/// Numbers as text on the pipes: rows out as lines of shortest round-trip decimals, lines of
/// numbers back with strtod (the C locale's spelling, which every language prints by default).
enum NumberText {
    /// Appends "x0 x1 … x(n-1)\n"; each number is Swift's shortest text that reads back to the
    /// same double (e.g. 0.1, -2.5e-07, 1e+20), which Python's float(), awk and strtod all accept.
    static func appendLine(_ row: UnsafePointer<Double>, count: Int, to bytes: inout [UInt8]) {
        for index in 0..<count {
            if index > 0 { bytes.append(UInt8(ascii: " ")) }
            bytes.append(contentsOf: row[index].description.utf8)
        }
        bytes.append(UInt8(ascii: "\n"))
    }

    /// The text of one coordinate for an --exec-each placeholder.
    static func word(_ value: Double) -> String { value.description }

    enum ParseOutcome: Equatable {
        case parsed
        /// The text held this many numbers instead of the expected count.
        case wrongCount(Int)
        /// This word is not a number.
        case notANumber(String)
        /// This word is a number but NaN or infinite.
        case notFinite(String)
    }

    /// Parses whitespace-separated numbers from NUL-terminated `text` into `output`, which has room
    /// for `expected` numbers; every word must be a whole number (strtod must consume all of it).
    static func parse(
        _ text: UnsafeMutablePointer<CChar>, expecting expected: Int, into output: UnsafeMutablePointer<Double>
    ) -> ParseOutcome {
        var cursor = text
        var count = 0
        while true {
            while isSpace(cursor.pointee) { cursor += 1 }
            if cursor.pointee == 0 { break }
            var end: UnsafeMutablePointer<CChar>? = cursor
            let value = strtod(cursor, &end)
            guard let end, end != cursor, end.pointee == 0 || isSpace(end.pointee) else {
                return .notANumber(word(at: cursor))
            }
            guard value.isFinite else { return .notFinite(word(at: cursor)) }
            if count < expected { output[count] = value }
            count += 1
            cursor = end
        }
        return count == expected ? .parsed : .wrongCount(count)
    }

    private static func isSpace(_ character: CChar) -> Bool {
        // Space, \t, \n, \v, \f, \r.
        character == 32 || (9...13).contains(character)
    }

    /// The word starting at `start` (up to whitespace or the end), shortened for a message.
    private static func word(at start: UnsafeMutablePointer<CChar>) -> String {
        var end = start
        while end.pointee != 0 && !isSpace(end.pointee) && end - start < 60 { end += 1 }
        let bytes = UnsafeRawBufferPointer(start: start, count: end - start)
        return quoted(bytes, limit: 40) + (end.pointee != 0 && !isSpace(end.pointee) ? "…" : "")
    }
}

/// What one read of a non-blocking pipe gave.
enum ReadOutcome {
    case read(Int)
    case wouldBlock
    case endOfFile
}

extension FileDescriptor {
    /// One read into `buffer`: some bytes, nothing yet (EAGAIN), or the end of the pipe.
    func readSome(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> ReadOutcome {
        do {
            let count = try read(into: buffer, retryOnInterrupt: true)
            return count == 0 ? .endOfFile : .read(count)
        } catch let error as Errno {
            if error == .wouldBlock { return .wouldBlock }
            throw error
        } catch {
            throw Errno.ioError  // swift-system only throws Errno
        }
    }

    /// One write of as much of `buffer` as the pipe takes now (0 when it is full).
    func writeSome(_ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
        do {
            return try write(buffer, retryOnInterrupt: true)
        } catch let error as Errno {
            if error == .wouldBlock { return 0 }
            throw error
        } catch {
            throw Errno.ioError
        }
    }
}

/// Bytes read from a pipe and consumed from the front: complete lines for --exec, everything for
/// --exec-each. The storage is reused, so reading costs no allocation once it has grown.
struct InputBuffer {
    private var storage = [UInt8](repeating: 0, count: 1 << 16)
    /// The first byte not consumed yet.
    private var start = 0
    /// One past the last byte read.
    private var end = 0
    /// Where the search for the next newline resumes.
    private var scanned = 0

    var pending: Int { end - start }
    var isEmpty: Bool { end == start }
    var unconsumed: ArraySlice<UInt8> { storage[start..<end] }

    /// One read from a non-blocking descriptor into the free space, growing it when it is short.
    mutating func read(from descriptor: FileDescriptor) throws(Errno) -> ReadOutcome {
        if start == end {
            (start, end, scanned) = (0, 0, 0)
        } else if storage.count - end < 4096 {
            if start > 0 {
                storage.replaceSubrange(0..<end - start, with: storage[start..<end])
                (scanned, end, start) = (scanned - start, end - start, 0)
            }
            if storage.count - end < 4096 { storage += repeatElement(0, count: storage.count) }
        }
        let offset = end
        let outcome = try storage.withUnsafeMutableBytes { buffer in
            Result { () throws(Errno) -> ReadOutcome in
                try descriptor.readSome(into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]))
            }
        }.get()
        if case .read(let count) = outcome { end += count }
        return outcome
    }

    /// Calls `body` with the next complete line, NUL-terminated in place of its newline, and
    /// consumes it; nil when no complete line is buffered.
    mutating func withNextLine<R>(_ body: (UnsafeMutablePointer<CChar>) -> R) -> R? {
        guard let newline = storage[scanned..<end].firstIndex(of: UInt8(ascii: "\n")) else {
            scanned = end
            return nil
        }
        let lineStart = start
        storage[newline] = 0
        let result = storage.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { body($0 + lineStart) }
        }
        storage[newline] = UInt8(ascii: "\n")
        start = newline + 1
        scanned = start
        return result
    }

    /// The next line (complete or not), for a message.
    var nextLineText: String {
        let rest = storage[start..<end]
        return quoted(rest[..<(rest.firstIndex(of: UInt8(ascii: "\n")) ?? rest.endIndex)])
    }

    /// The buffered text of line `lineStart` (a pointer handed to withNextLine's body), for a message.
    static func text(of line: UnsafeMutablePointer<CChar>) -> String {
        quoted(UnsafeRawBufferPointer(start: line, count: strlen(line)))
    }

    /// Calls `body` with everything buffered, NUL-terminated.
    mutating func withAllText<R>(_ body: (UnsafeMutablePointer<CChar>) -> R) -> R {
        if end == storage.count { storage.append(0) }
        storage[end] = 0
        let offset = start
        return storage.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { body($0 + offset) }
        }
    }
}

/// The last few KiB a program wrote to stderr, kept for messages; older bytes are dropped as they
/// come, and stderr is read whenever we wait, so a chatty program never stalls on a full pipe.
struct StandardErrorTail {
    static let capacity = 4096
    private var bytes: [UInt8] = []

    mutating func read(from descriptor: FileDescriptor) throws(Errno) -> ReadOutcome {
        let outcome = try withUnsafeTemporaryAllocation(byteCount: Self.capacity, alignment: 1) { buffer in
            Result { () throws(Errno) -> ReadOutcome in
                let outcome = try descriptor.readSome(into: buffer)
                if case .read(let count) = outcome { bytes += buffer[..<count] }
                return outcome
            }
        }.get()
        if bytes.count > 2 * Self.capacity { bytes.removeFirst(bytes.count - Self.capacity) }
        return outcome
    }

    /// The last lines, folded into one line of at most `limit` characters.
    func text(limit: Int = 400) -> String {
        var text = String(decoding: bytes.suffix(Self.capacity), as: UTF8.self).replacingControlCharacters()
        text = text.trimmingSpaces()
        if text.count > limit { text = "…" + String(text.suffix(limit)) }
        return text
    }
}

extension String {
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while scalars.first == " " { scalars.removeFirst() }
        while scalars.last == " " { scalars.removeLast() }
        return String(scalars)
    }
}
