/// The kinds of framed messages between gss and its worker processes.
enum FrameKind: UInt8 {
    /// Worker → parent, once: the plugin is loaded and an instance made (or why not). WireFormat.
    case hello = 1
    /// Parent → worker: evaluate `rows` rows; inputs are at the start of the shared memory, which
    /// is `mappingSize` bytes long; outputs follow the inputs. Two little-endian Int64.
    case evaluate = 2
    /// Worker → parent: 1 byte (1 = GSS_OK, 0 = failed), then the failure's message as UTF-8.
    case evaluated = 3
    /// Conformance worker → parent: what it is about to do (names the step if it never returns).
    case step = 10
    /// Conformance worker → parent, last: the check's outcome. WireFormat.
    case outcome = 11
}

/// The worker's first message: what the plugin instance is, or the PluginError that stopped it.
struct WorkerHello: Codable, Sendable {
    struct Failure: Codable, Sendable {
        let code: String
        let message: String
    }

    struct Description: Codable, Sendable {
        let id: String
        let inputCount: Int
        let outputCount: Int
        let outputShape: [Int]
        /// Bit patterns, so every double (even a non-finite one) crosses exactly.
        let defaultInputBits: [UInt64]?
        let typicalScaleBits: [UInt64]?
        let flags: UInt64
    }

    var description: Description?
    var failure: Failure?

    func encoded() -> [UInt8] { try! WireFormat.encode(self) }

    static func decode(_ bytes: [UInt8]) throws(ChannelError) -> WorkerHello {
        do {
            return try WireFormat.decode(WorkerHello.self, from: bytes)
        } catch {
            throw .malformed("an unreadable hello (\(error))")
        }
    }
}

/// An evaluate request's fixed-size body.
struct EvaluateRequest: Equatable {
    let rows: Int
    let mappingSize: Int

    var encoded: [UInt8] {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: Int64(rows).littleEndian) { bytes += $0 }
        withUnsafeBytes(of: Int64(mappingSize).littleEndian) { bytes += $0 }
        return bytes
    }

    init(rows: Int, mappingSize: Int) {
        self.rows = rows
        self.mappingSize = mappingSize
    }

    init(decoding bytes: [UInt8]) throws(ChannelError) {
        guard bytes.count == 16 else { throw .malformed("an evaluate request of \(bytes.count) bytes") }
        func field(_ offset: Int) -> Int {
            var value: Int64 = 0
            withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: bytes[offset..<offset + 8]) }
            return Int(Int64(littleEndian: value))
        }
        rows = field(0)
        mappingSize = field(8)
    }
}
