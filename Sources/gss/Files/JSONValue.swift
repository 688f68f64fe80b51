/// A JSON document with ordered keys, written with one top-level key per line and inner arrays
/// inline. Doubles print in Swift's shortest round-trip form; non-finite numbers become null.
indirect enum JSONValue {
    case number(Double)
    case integer(Int)
    case unsigned(UInt64)
    case string(String)
    case bool(Bool)
    case array([JSONValue])
    case object([(String, JSONValue)])

    static func numbers(_ values: [Double]) -> JSONValue { .array(values.map(JSONValue.number)) }

    /// rows × columns row-major → nested arrays.
    static func matrix(_ values: [Double], columns: Int) -> JSONValue {
        .array(stride(from: 0, to: values.count, by: columns).map { .numbers(Array(values[$0..<$0 + columns])) })
    }

    /// A row-major array of the given shape → nested arrays (a matrix for two extents).
    static func tensor(_ values: [Double], shape: [Int]) -> JSONValue {
        guard shape.count > 1 else { return .numbers(values) }
        let inner = shape.dropFirst().reduce(1, *)
        return .array((0..<shape[0]).map { .tensor(Array(values[$0 * inner..<($0 + 1) * inner]), shape: Array(shape.dropFirst())) })
    }

    var text: String {
        switch self {
        case .object(let members):
            let lines = members.map { "  \(JSONValue.quote($0.0)): \($0.1.inline)" }
            return "{\n" + lines.joined(separator: ",\n") + "\n}"
        default:
            return inline
        }
    }

    var inline: String {
        switch self {
        case .number(let value): return value.isFinite ? "\(value)" : "null"
        case .integer(let value): return "\(value)"
        case .unsigned(let value): return "\(value)"
        case .string(let value): return JSONValue.quote(value)
        case .bool(let value): return value ? "true" : "false"
        case .array(let items): return "[" + items.map(\.inline).joined(separator: ", ") + "]"
        case .object(let members):
            return "{" + members.map { "\(JSONValue.quote($0.0)): \($0.1.inline)" }.joined(separator: ", ") + "}"
        }
    }

    static func quote(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
