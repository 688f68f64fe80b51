/// Codable values as bytes, for the structured messages between gss and its workers (the hello, a
/// check's outcome). Both ends are this code, so the format need only round-trip: a value becomes
/// a tree of WireValue, written depth-first as a tag byte and a payload per node.
enum WireFormat {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let root = WireNode()
        try root.store(value, codingPath: [])
        var bytes: [UInt8] = []
        root.tree.write(to: &bytes)
        return bytes
    }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        var reader = WireReader(bytes: bytes)
        let tree = try WireValue(reading: &reader)
        guard reader.isAtEnd else { throw WireReader.corrupt("\(bytes.count - reader.offset) bytes after the value") }
        return try tree.load(T.self, codingPath: [])
    }
}

/// One node of an encoded value.
private indirect enum WireValue {
    case null
    case bool(Bool)
    case signed(Int64)
    case unsigned(UInt64)
    /// Float and Double, by bit pattern (so NaN payloads and infinities cross exactly).
    case float(Double)
    case string(String)
    case list([WireValue])
    case keyed([String: WireValue])

    private enum Tag: UInt8 {
        case null, bool, signed, unsigned, float, string, list, keyed
    }

    func write(to bytes: inout [UInt8]) {
        func append<I: FixedWidthInteger>(_ integer: I) { withUnsafeBytes(of: integer.littleEndian) { bytes += $0 } }
        func append(_ text: String) {
            append(UInt32(text.utf8.count))
            bytes += text.utf8
        }
        switch self {
        case .null: bytes.append(Tag.null.rawValue)
        case .bool(let value): bytes += [Tag.bool.rawValue, value ? 1 : 0]
        case .signed(let value):
            bytes.append(Tag.signed.rawValue)
            append(value)
        case .unsigned(let value):
            bytes.append(Tag.unsigned.rawValue)
            append(value)
        case .float(let value):
            bytes.append(Tag.float.rawValue)
            append(value.bitPattern)
        case .string(let value):
            bytes.append(Tag.string.rawValue)
            append(value)
        case .list(let items):
            bytes.append(Tag.list.rawValue)
            append(UInt32(items.count))
            for item in items { item.write(to: &bytes) }
        case .keyed(let entries):
            bytes.append(Tag.keyed.rawValue)
            append(UInt32(entries.count))
            for (key, value) in entries {
                append(key)
                value.write(to: &bytes)
            }
        }
    }

    init(reading reader: inout WireReader) throws {
        let tag = try reader.integer(UInt8.self)
        switch Tag(rawValue: tag) {
        case .null: self = .null
        case .bool: self = .bool(try reader.integer(UInt8.self) != 0)
        case .signed: self = .signed(try reader.integer(Int64.self))
        case .unsigned: self = .unsigned(try reader.integer(UInt64.self))
        case .float: self = .float(Double(bitPattern: try reader.integer(UInt64.self)))
        case .string: self = .string(try reader.string())
        case .list:
            var items: [WireValue] = []
            for _ in 0..<(try reader.integer(UInt32.self)) { items.append(try WireValue(reading: &reader)) }
            self = .list(items)
        case .keyed:
            var entries: [String: WireValue] = [:]
            for _ in 0..<(try reader.integer(UInt32.self)) {
                let key = try reader.string()
                entries[key] = try WireValue(reading: &reader)
            }
            self = .keyed(entries)
        case nil: throw WireReader.corrupt("an unknown tag \(tag)")
        }
    }

    /// Decodes a `T` from this node: primitives directly, anything else through its init(from:).
    func load<T: Decodable>(_ type: T.Type, codingPath: [any CodingKey]) throws -> T {
        guard let primitive = T.self as? any WirePrimitive.Type else {
            return try T(from: WireDecoder(value: self, codingPath: codingPath))
        }
        guard let value = primitive.init(wireValue: self) else {
            throw DecodingError.typeMismatch(T.self, .init(codingPath: codingPath, debugDescription: "found \(self)"))
        }
        return value as! T
    }
}

/// Reads an encoded tree, refusing to run past the end.
private struct WireReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    static func corrupt(_ what: String) -> DecodingError {
        .dataCorrupted(.init(codingPath: [], debugDescription: what))
    }

    mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count <= bytes.count - offset else { throw Self.corrupt("the bytes end inside a value") }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        var value = I.zero
        let slice = try take(MemoryLayout<I>.size)
        withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: slice) }
        return I(littleEndian: value)
    }

    mutating func string() throws -> String {
        let length = Int(try integer(UInt32.self))
        return String(decoding: try take(length), as: UTF8.self)
    }
}

// MARK: Primitives

/// The standard library's own Codable scalars, which are stored as one node each (their
/// encode(to:) would hand themselves straight back to the container).
private protocol WirePrimitive {
    var wireValue: WireValue { get }
    init?(wireValue: WireValue)
}

extension Bool: WirePrimitive {
    fileprivate var wireValue: WireValue { .bool(self) }
    fileprivate init?(wireValue: WireValue) {
        guard case .bool(let value) = wireValue else { return nil }
        self = value
    }
}

extension String: WirePrimitive {
    fileprivate var wireValue: WireValue { .string(self) }
    fileprivate init?(wireValue: WireValue) {
        guard case .string(let value) = wireValue else { return nil }
        self = value
    }
}

extension Double: WirePrimitive {
    fileprivate var wireValue: WireValue { .float(self) }
    fileprivate init?(wireValue: WireValue) {
        guard case .float(let value) = wireValue else { return nil }
        self = value
    }
}

extension Float: WirePrimitive {
    fileprivate var wireValue: WireValue { .float(Double(self)) }
    fileprivate init?(wireValue: WireValue) {
        guard case .float(let value) = wireValue else { return nil }
        self = Float(value)
    }
}

private protocol WireInteger: WirePrimitive, FixedWidthInteger {}

extension WireInteger {
    fileprivate var wireValue: WireValue { Self.isSigned ? .signed(Int64(self)) : .unsigned(UInt64(self)) }
    fileprivate init?(wireValue: WireValue) {
        switch wireValue {
        case .signed(let value): self.init(exactly: value)
        case .unsigned(let value): self.init(exactly: value)
        default: return nil
        }
    }
}

extension Int: WireInteger {}
extension Int8: WireInteger {}
extension Int16: WireInteger {}
extension Int32: WireInteger {}
extension Int64: WireInteger {}
extension UInt: WireInteger {}
extension UInt8: WireInteger {}
extension UInt16: WireInteger {}
extension UInt32: WireInteger {}
extension UInt64: WireInteger {}

// MARK: Encoding

/// A node being filled in by an encoder's containers (they write into it after they are made,
/// hence a reference); `tree` is the finished value.
private final class WireNode {
    var value = WireValue.null
    var list: [WireNode]?
    var keyed: [String: WireNode]?

    var tree: WireValue {
        if let list { return .list(list.map(\.tree)) }
        if let keyed { return .keyed(keyed.mapValues(\.tree)) }
        return value
    }

    /// Encodes `value` here: a primitive directly, anything else through its encode(to:).
    func store<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws {
        if let primitive = value as? any WirePrimitive {
            self.value = primitive.wireValue
        } else {
            try value.encode(to: WireEncoder(node: self, codingPath: codingPath))
        }
    }
}

/// The key of a list item, or "super", in coding paths.
private struct WireKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        intValue = nil
    }

    init(intValue: Int) {
        stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

private struct WireEncoder: Encoder {
    let node: WireNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if node.keyed == nil { node.keyed = [:] }
        return KeyedEncodingContainer(KeyedWriter<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if node.list == nil { node.list = [] }
        return ListWriter(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { ValueWriter(node: node, codingPath: codingPath) }
}

// One generic encode witnesses every typed requirement (encode(_: Int, …), encode(_: String, …), …).

private struct KeyedWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: WireNode
    let codingPath: [any CodingKey]

    private func child(_ key: any CodingKey) -> WireEncoder {
        let child = WireNode()
        node.keyed![key.stringValue] = child
        return WireEncoder(node: child, codingPath: codingPath + [key])
    }

    mutating func encodeNil(forKey key: Key) throws { _ = child(key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        let encoder = child(key)
        try encoder.node.store(value, codingPath: encoder.codingPath)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        child(key).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { child(key).unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { child(WireKey(stringValue: "super")) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { child(key) }
}

private struct ListWriter: UnkeyedEncodingContainer {
    let node: WireNode
    let codingPath: [any CodingKey]
    var count: Int { node.list!.count }

    private func next() -> WireEncoder {
        let key = WireKey(intValue: count)
        let child = WireNode()
        node.list!.append(child)
        return WireEncoder(node: child, codingPath: codingPath + [key])
    }

    mutating func encodeNil() throws { _ = next() }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let encoder = next()
        try encoder.node.store(value, codingPath: encoder.codingPath)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        next().container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { next().unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { next() }
}

private struct ValueWriter: SingleValueEncodingContainer {
    let node: WireNode
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { node.value = .null }
    mutating func encode<T: Encodable>(_ value: T) throws { try node.store(value, codingPath: codingPath) }
}

// MARK: Decoding

private struct WireDecoder: Decoder {
    let value: WireValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    private func mismatch(_ expected: Any.Type, _ what: String) -> DecodingError {
        .typeMismatch(expected, .init(codingPath: codingPath, debugDescription: "expected \(what), found \(value)"))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .keyed(let entries) = value else { throw mismatch([String: Any].self, "keyed values") }
        return KeyedDecodingContainer(KeyedReader<Key>(entries: entries, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .list(let items) = value else { throw mismatch([Any].self, "a list") }
        return ListReader(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { ValueReader(value: value, codingPath: codingPath) }
}

private struct KeyedReader<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let entries: [String: WireValue]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { entries.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { entries[key.stringValue] != nil }

    private func child(_ key: any CodingKey) throws -> WireDecoder {
        guard let value = entries[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no value for '\(key.stringValue)'"))
        }
        return WireDecoder(value: value, codingPath: codingPath + [key])
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = try child(key).value { return true }
        return false
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let decoder = try child(key)
        return try decoder.value.load(type, codingPath: decoder.codingPath)
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
    func superDecoder() throws -> any Decoder { try child(WireKey(stringValue: "super")) }
    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
}

private struct ListReader: UnkeyedDecodingContainer {
    let items: [WireValue]
    let codingPath: [any CodingKey]
    private(set) var currentIndex = 0

    init(items: [WireValue], codingPath: [any CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next() throws -> WireDecoder {
        let key = WireKey(intValue: currentIndex)
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath + [key], debugDescription: "the list has ended"))
        }
        currentIndex += 1
        return WireDecoder(value: items[currentIndex - 1], codingPath: codingPath + [key])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, case .null = items[currentIndex] else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let decoder = try next()
        return try decoder.value.load(type, codingPath: decoder.codingPath)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

private struct ValueReader: SingleValueDecodingContainer {
    let value: WireValue
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool {
        if case .null = value { return true }
        return false
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try value.load(type, codingPath: codingPath) }
}
