/// A value written as an array of doubles and read back bit for bit: how partial sums, shared
/// results and errors cross between processes (MPI ranks) or into a journal file.
public struct ExchangeCodec<Value>: Sendable {
    public let encode: @Sendable (Value) -> [Double]
    public let decode: @Sendable ([Double]) throws -> Value

    public init(encode: @escaping @Sendable (Value) -> [Double], decode: @escaping @Sendable ([Double]) throws -> Value) {
        self.encode = encode
        self.decode = decode
    }
}

extension ExchangeCodec where Value == [Double] {
    /// Doubles as they are.
    public static var doubles: ExchangeCodec<[Double]> { ExchangeCodec(encode: { $0 }, decode: { $0 }) }
}

extension ExchangeCodec where Value == UInt64 {
    /// One 64-bit integer (a seed), in two exact 32-bit halves.
    public static var unsigned: ExchangeCodec<UInt64> {
        ExchangeCodec(
            encode: { value in
                var writer = ExchangeWriter()
                writer.append(bitsOf: value)
                return writer.values
            },
            decode: { values in
                var reader = ExchangeReader(values)
                let value = try reader.unsigned()
                try reader.finish()
                return value
            })
    }
}

extension ExchangeCodec where Value == Int {
    /// One integer of magnitude below 2^53.
    public static var integer: ExchangeCodec<Int> {
        ExchangeCodec(
            encode: { [Double($0)] },
            decode: { values in
                var reader = ExchangeReader(values)
                let value = try reader.int()
                try reader.finish()
                return value
            })
    }
}

/// Builds the flat array of an encoded value. Doubles are kept as they are (bit patterns, NaN
/// payloads included); integers of magnitude below 2^53 are exact as doubles.
public struct ExchangeWriter: Sendable {
    public private(set) var values: [Double] = []

    public init() {}

    public mutating func append(_ value: Int) {
        precondition(abs(value) < 1 << 53, "\(value) does not fit a double exactly")
        values.append(Double(value))
    }

    public mutating func append(_ flag: Bool) { values.append(flag ? 1 : 0) }

    /// 64 bits as two 32-bit halves (a double holds 53 bits exactly, not 64).
    public mutating func append(bitsOf value: UInt64) {
        values.append(Double(value >> 32))
        values.append(Double(value & 0xFFFF_FFFF))
    }

    /// Numbers whose count the reader knows from what it read before (a shape).
    public mutating func append(contentsOf numbers: some Collection<Double>) { values.append(contentsOf: numbers) }

    /// Numbers preceded by their count.
    public mutating func append(counted numbers: [Double]) {
        append(numbers.count)
        values.append(contentsOf: numbers)
    }

    /// UTF-8 text, one byte per double, preceded by its length.
    public mutating func append(_ text: String) {
        let bytes = Array(text.utf8)
        append(bytes.count)
        values.append(contentsOf: bytes.map { Double($0) })
    }
}

/// Reads back what an `ExchangeWriter` wrote, in the same order; anything out of place (a short
/// array, a non-integer where an integer belongs) is a `SmoothingError`, never a crash.
public struct ExchangeReader: Sendable {
    private let values: [Double]
    private var position = 0

    public init(_ values: [Double]) { self.values = values }

    /// Whether everything was read.
    public var isAtEnd: Bool { position == values.count }

    public mutating func double() throws(SmoothingError) -> Double {
        guard position < values.count else { throw Self.malformed("it ends early") }
        position += 1
        return values[position - 1]
    }

    public mutating func int() throws(SmoothingError) -> Int {
        let value = try double()
        guard let integer = Int(exactly: value), abs(integer) < 1 << 53 else { throw Self.malformed("\(value) is not an integer") }
        return integer
    }

    /// A count or size: an integer in 0...limit.
    public mutating func count(atMost limit: Int = 1 << 40) throws(SmoothingError) -> Int {
        let value = try int()
        guard value >= 0 && value <= limit else { throw Self.malformed("\(value) is not a count up to \(limit)") }
        return value
    }

    public mutating func bool() throws(SmoothingError) -> Bool {
        switch try int() {
        case 0: return false
        case 1: return true
        case let other: throw Self.malformed("\(other) is not a flag")
        }
    }

    public mutating func unsigned() throws(SmoothingError) -> UInt64 {
        let high = try count(atMost: 0xFFFF_FFFF)
        let low = try count(atMost: 0xFFFF_FFFF)
        return UInt64(high) << 32 | UInt64(low)
    }

    /// `count` numbers as they are.
    public mutating func doubles(count: Int) throws(SmoothingError) -> [Double] {
        guard count >= 0 && count <= values.count - position else { throw Self.malformed("it ends early") }
        defer { position += count }
        return Array(values[position..<position + count])
    }

    /// Numbers preceded by their count.
    public mutating func countedDoubles() throws(SmoothingError) -> [Double] {
        try doubles(count: try count(atMost: values.count - position))
    }

    public mutating func string() throws(SmoothingError) -> String {
        let length = try count(atMost: values.count - position)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        for _ in 0..<length {
            let value = try int()
            guard let byte = UInt8(exactly: value) else { throw Self.malformed("\(value) is not a byte") }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Fails unless every number was read.
    public func finish() throws(SmoothingError) {
        guard isAtEnd else { throw Self.malformed("\(values.count - position) numbers are left over") }
    }

    static func malformed(_ reason: String) -> SmoothingError {
        SmoothingError(code: .evaluationFailed, message: "a result exchanged between processes is malformed: \(reason)")
    }
}

extension SmoothingError {
    /// The error as numbers (code, message, sample, input), for the processes that did not see it.
    public var exchanged: [Double] {
        var writer = ExchangeWriter()
        writer.append(code == .invalidConfiguration)
        writer.append(message)
        writer.append(sampleIndex != nil)
        writer.append(sampleIndex ?? 0)
        writer.append(input != nil)
        writer.append(counted: input ?? [])
        return writer.values
    }

    /// The error `exchanged` wrote.
    public init(exchanged values: [Double]) throws(SmoothingError) {
        var reader = ExchangeReader(values)
        let isUsage = try reader.bool()
        let message = try reader.string()
        let hasSample = try reader.bool()
        let sample = try reader.int()
        let hasInput = try reader.bool()
        let input = try reader.countedDoubles()
        try reader.finish()
        self.init(
            code: isUsage ? .invalidConfiguration : .evaluationFailed, message: message,
            sampleIndex: hasSample ? sample : nil, input: hasInput ? input : nil)
    }
}
