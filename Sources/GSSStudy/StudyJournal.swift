import FoundationEssentials
import Glibc
import GSSCore

/// One finished configuration, as appended to the journal: what was run, against which oracle,
/// and the per-repeat errors with their summary.
public struct JournalEntry: Codable, Sendable, Equatable {
    public var configuration: StudyConfiguration
    public var repeats: Int
    public var scale: Double
    public var seed: UInt64
    public var inputDigest: String
    public var oracleDigest: String
    public var oracleMethod: OracleJacobian.Method
    public var oracleSamples: Int
    public var oracleError: Double
    /// The L2 (Frobenius) distance of each repeat's Jacobian to the oracle, in repeat order.
    public var errors: [Double]
    public var meanL2Error: Double
    public var ci95Low: Double
    public var ci95High: Double

    /// Entries with equal keys are the same computation: a resumed study reuses them.
    public struct Key: Hashable, Sendable {
        let configuration: StudyConfiguration
        let repeats: Int
        let scale: Double
        let seed: UInt64
        let inputDigest: String
        let oracleDigest: String
    }

    public var key: Key {
        Key(
            configuration: configuration, repeats: repeats, scale: scale, seed: seed, inputDigest: inputDigest,
            oracleDigest: oracleDigest)
    }
}

/// The append-only record of finished configurations (DIR/journal.jsonl, one JSON object per
/// line). Each line is written with a single write(2) on an O_APPEND descriptor and flushed, so
/// an interrupted study leaves whole lines, at worst followed by one torn line, which loading
/// drops (and truncates, so later appends start on a fresh line).
public final class StudyJournal: @unchecked Sendable {
    public let path: String
    private let lock = Lock()
    private var entries: [JournalEntry.Key: JournalEntry] = [:]
    private let descriptor: Int32

    public init(path: String) throws {
        self.path = path
        var data = FileManager.default.contents(atPath: path) ?? Data()
        if let last = data.last, last != UInt8(ascii: "\n") {
            // A torn final line from an interrupted write: cut it off.
            let keep = data.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            data = data.prefix(keep)
            guard truncate(path, off_t(keep)) == 0 else {
                throw StudyError.failure("cannot repair the journal '\(path)' (\(String(cString: strerror(errno))))")
            }
        }
        let decoder = JSONDecoder()
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            // A line that does not decode (another version's format) is ignored, never trusted.
            if let entry = try? decoder.decode(JournalEntry.self, from: Data(line)) {
                entries[entry.key] = entry
            }
        }
        descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw StudyError.failure("cannot open the journal '\(path)' (\(String(cString: strerror(errno))))")
        }
    }

    deinit { close(descriptor) }

    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }

    public func entry(for key: JournalEntry.Key) -> JournalEntry? {
        lock.lock()
        defer { lock.unlock() }
        return entries[key]
    }

    public func append(_ entry: JournalEntry) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line = try encoder.encode(entry)
        line.append(UInt8(ascii: "\n"))
        lock.lock()
        defer { lock.unlock() }
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count, fsync(descriptor) == 0 else {
            throw StudyError.failure("cannot append to the journal '\(path)' (\(String(cString: strerror(errno))))")
        }
        entries[entry.key] = entry
    }
}

/// Why a study could not finish. Usage errors are the caller's to report as such (exit 2).
public struct StudyError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public let isUsageError: Bool

    public static func usage(_ message: String) -> StudyError { StudyError(description: message, isUsageError: true) }
    public static func failure(_ message: String) -> StudyError { StudyError(description: message, isUsageError: false) }
}
