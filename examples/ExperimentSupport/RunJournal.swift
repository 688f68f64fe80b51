import Foundation

/// runs.jsonl: one JSON record per finished run, appended under a lock, so an interrupted
/// experiment resumes where it stopped (the experiments skip the runs it already holds).
public final class RunJournal<Record: Codable>: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()

    public init(path: String) { self.path = path }

    /// Every record so far; a torn last line (an interrupted write) is ignored.
    public func load() throws -> [Record] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let decoder = JSONDecoder()
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n")
        return try lines.enumerated().compactMap { index, line in
            do {
                return try decoder.decode(Record.self, from: Data(line.utf8))
            } catch where index == lines.count - 1 && !text.hasSuffix("\n") {
                return nil
            }
        }
    }

    public func append(_ record: Record) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let line = try encoder.encode(record) + Data("\n".utf8)
        try lock.withLock {
            if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: line)
        }
    }
}
