import Foundation

/// Reads numbers from a file named by @FILE: a JSON array (nested arrays are flattened row-major)
/// or a NumPy .npy array of little-endian float64 or float32 in C order.
enum NumberFile {
    static func read(path: String) throws(CommandError) -> [Double] {
        try readArray(path: path).values
    }

    /// The numbers and the array's shape: a .npy file's shape, a JSON array's nesting (nil when
    /// its rows have different lengths).
    static func readArray(path: String) throws(CommandError) -> (values: [Double], shape: [Int]?) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .usage("cannot read '\(path)': no such readable file")
        }
        if path.hasSuffix(".npy") { return try readNumPy(data, path: path) }
        return try readJSON(data, path: path)
    }

    /// A number or a (nested) array of numbers; JSONDecoder refuses booleans, strings and nulls.
    private enum NestedNumbers: Decodable {
        case number(Double)
        case array([NestedNumbers])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else {
                self = .array(try container.decode([NestedNumbers].self))
            }
        }

        func flattened(into values: inout [Double]) {
            switch self {
            case .number(let value): values.append(value)
            case .array(let items): items.forEach { $0.flattened(into: &values) }
            }
        }

        /// The extents of a regular nesting ([] for a number), nil when it is ragged.
        var shape: [Int]? {
            switch self {
            case .number: return []
            case .array(let items):
                guard let first = items.first else { return [0] }
                guard let inner = first.shape, items.allSatisfy({ $0.shape == inner }) else { return nil }
                return [items.count] + inner
            }
        }
    }

    private static func readJSON(_ data: Data, path: String) throws(CommandError) -> (values: [Double], shape: [Int]?) {
        guard let nested = try? JSONDecoder().decode(NestedNumbers.self, from: data), case .array = nested else {
            throw .usage("'\(path)' must hold a JSON array of finite numbers (nested arrays allowed), such as [0.5, -1, 2]")
        }
        var values: [Double] = []
        nested.flattened(into: &values)
        guard values.allSatisfy(\.isFinite) else { throw .usage("'\(path)' contains non-finite numbers") }
        return (values, nested.shape)
    }

    /// The .npy format, version 1–3: magic, version, header length, a Python-dict header, data.
    private static func readNumPy(_ data: Data, path: String) throws(CommandError) -> (values: [Double], shape: [Int]?) {
        let bytes = [UInt8](data)
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw .usage("'\(path)' is not a .npy file (bad magic bytes)")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            guard bytes.count >= 12 else { throw .usage("'\(path)' is a truncated .npy file") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        }
        guard bytes.count >= headerStart + headerLength,
            let header = String(bytes: bytes[headerStart..<headerStart + headerLength], encoding: .utf8)
        else { throw .usage("'\(path)' is a truncated .npy file") }
        let compact = header.replacingOccurrences(of: " ", with: "")
        let isFloat64 = compact.contains("'descr':'<f8'") || compact.contains("'descr':'float64'")
        let isFloat32 = compact.contains("'descr':'<f4'") || compact.contains("'descr':'float32'")
        guard isFloat64 || isFloat32 else {
            throw .usage("'\(path)' must hold little-endian float64 or float32 numbers (dtype <f8 or <f4)")
        }
        guard compact.contains("'fortran_order':False") else {
            throw .usage("'\(path)' is in Fortran order; save it with numpy.ascontiguousarray first")
        }
        guard let shapeStart = compact.range(of: "'shape':("),
            let shapeEnd = compact[shapeStart.upperBound...].firstIndex(of: ")")
        else { throw .usage("'\(path)' has no shape in its .npy header") }
        let extents = compact[shapeStart.upperBound..<shapeEnd].split(separator: ",").compactMap { Int($0) }
        let count = extents.reduce(1, *)
        let width = isFloat64 ? 8 : 4
        let dataStart = headerStart + headerLength
        guard bytes.count - dataStart == count * width else {
            throw .usage("'\(path)' holds \(bytes.count - dataStart) data bytes, but its shape \(extents) needs \(count * width)")
        }
        var values = [Double](repeating: 0, count: count)
        for i in 0..<count {
            let offset = dataStart + i * width
            if isFloat64 {
                let bits = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
                values[i] = Double(bitPattern: bits)
            } else {
                let bits = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
                values[i] = Double(Float(bitPattern: bits))
            }
        }
        guard values.allSatisfy(\.isFinite) else { throw .usage("'\(path)' contains NaN or infinite numbers") }
        return (values, extents)
    }
}
