import Glibc

/// What a coordinator keeps of a run so that a rerun with the same arguments resumes it: every
/// merged call's partial and every recorded shared value (a costly evaluation, a drawn seed), as
/// exact bit patterns (16 hex digits per double), one line each, appended as they happen.
///
/// A line: `<key> v <operation> <numbers>` for a shared value, `<key> c <operation> <layout>
/// <calls> <call> <numbers>` for a call's partial, where key is a 64-bit hash of the run's
/// arguments (lines of other runs are kept and ignored) and operations are numbered as the run
/// performs them, the same on every rerun. A torn last line (a killed run) is ignored.
public final class RunJournal: @unchecked Sendable {  // appended to from one thread at a time
    public let path: String
    private let key: String
    private var values: [Int: [Double]] = [:]
    private var partials: [PartialKey: [Double]] = [:]
    private var descriptor: Int32 = -1
    /// Records found in the file for this run's arguments.
    public private(set) var recordsFound = 0
    /// Records of this run's arguments used instead of computing.
    public private(set) var recordsReused = 0

    private struct PartialKey: Hashable {
        let operation, layout, calls, call: Int
    }

    /// Opens (or creates) the journal at `path` for a run whose arguments hash to `key`.
    public init(path: String, arguments key: String) throws(SmoothingJournalError) {
        self.path = path
        self.key = String(fnv1a64(key), radix: 16)
        var existing: [UInt8] = []
        if access(path, F_OK) == 0 {
            guard let bytes = readWholeFile(path) else { throw .cannotOpen(path, String(cString: strerror(errno))) }
            existing = bytes
        }
        var lineStart = 0
        for (index, byte) in existing.enumerated() where byte == UInt8(ascii: "\n") {
            parse(existing[lineStart..<index])
            lineStart = index + 1
        }
        descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .cannotOpen(path, String(cString: strerror(errno))) }
        // After a torn line, start the next record on a line of its own.
        if lineStart < existing.count { try append("\n") }
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// The shared value recorded for `operation`.
    func value(operation: Int) -> [Double]? {
        let found = values[operation]
        if found != nil { recordsReused += 1 }
        return found
    }

    /// The partials recorded for `operation` under this layout and call count, by call.
    func partials(operation: Int, layout: Int, calls: Int) -> [Int: [Double]] {
        var found: [Int: [Double]] = [:]
        for call in 0..<calls {
            if let numbers = partials[PartialKey(operation: operation, layout: layout, calls: calls, call: call)] {
                found[call] = numbers
            }
        }
        return found
    }

    /// Counts a recorded partial as used.
    func reused() { recordsReused += 1 }

    func recordValue(operation: Int, _ numbers: [Double]) throws(SmoothingJournalError) {
        values[operation] = numbers
        try append("\(key) v \(operation) \(hex(numbers))\n")
    }

    func recordPartial(operation: Int, layout: Int, calls: Int, call: Int, _ numbers: [Double]) throws(SmoothingJournalError) {
        try append("\(key) c \(operation) \(layout) \(calls) \(call) \(hex(numbers))\n")
    }

    /// One write(2) per record, so that a killed run leaves whole lines (at worst one torn last line).
    private func append(_ line: String) throws(SmoothingJournalError) {
        let bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw .cannotWrite(path, String(cString: strerror(errno))) }
            offset += written
        }
    }

    private func parse(_ line: ArraySlice<UInt8>) {
        let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard fields.count >= 4, fields[0] == key else { return }
        func integer(_ text: String) -> Int? { Int(text).flatMap { $0 >= 0 ? $0 : nil } }
        switch fields[1] {
        case "v" where fields.count == 4:
            guard let operation = integer(fields[2]), let numbers = unhex(fields[3]) else { return }
            values[operation] = numbers
        case "c" where fields.count == 7:
            guard let operation = integer(fields[2]), let layout = integer(fields[3]), let calls = integer(fields[4]),
                let call = integer(fields[5]), call < calls, let numbers = unhex(fields[6])
            else { return }
            partials[PartialKey(operation: operation, layout: layout, calls: calls, call: call)] = numbers
        default: return
        }
        recordsFound += 1
    }

    private func hex(_ numbers: [Double]) -> String {
        var text = ""
        text.reserveCapacity(numbers.count * 16)
        for number in numbers {
            let digits = String(number.bitPattern, radix: 16)
            text += String(repeating: "0", count: 16 - digits.count) + digits
        }
        return text.isEmpty ? "-" : text
    }

    private func unhex(_ text: String) -> [Double]? {
        if text == "-" { return [] }
        let bytes = Array(text.utf8)
        guard bytes.count % 16 == 0 else { return nil }
        var numbers: [Double] = []
        numbers.reserveCapacity(bytes.count / 16)
        for start in stride(from: 0, to: bytes.count, by: 16) {
            guard let bits = UInt64(String(decoding: bytes[start..<start + 16], as: UTF8.self), radix: 16) else { return nil }
            numbers.append(Double(bitPattern: bits))
        }
        return numbers
    }
}

/// Why a journal could not be used; the run stops with this sentence.
public enum SmoothingJournalError: Error, CustomStringConvertible, Sendable {
    case cannotOpen(String, String)
    case cannotWrite(String, String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): return "cannot open the journal '\(path)' given to --journal (\(reason))"
        case .cannotWrite(let path, let reason): return "cannot append to the journal '\(path)' (\(reason))"
        }
    }

    /// A journal that cannot be opened is bad input; one that cannot be written to, a failure of the run.
    public var isUsageError: Bool {
        if case .cannotOpen = self { return true }
        return false
    }
}

/// 64-bit FNV-1a of the text's UTF-8 bytes.
func fnv1a64(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01B3
    }
    return hash
}

/// The whole file, or nil (errno set) when it cannot be read.
private func readWholeFile(_ path: String) -> [UInt8]? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count < 0 { return nil }
        if count == 0 { return bytes }
        bytes += buffer[0..<count]
    }
}
