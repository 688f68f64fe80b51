import FoundationEssentials
import Glibc

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
            throw .usage("cannot read \(quotedInput(path)): no such readable file")
        }
        return try parseArray(data, path: path)
    }

    /// The numbers and shape of a file's contents: .npy when `path` ends in .npy, else JSON.
    static func parseArray(_ data: Data, path: String) throws(CommandError) -> (values: [Double], shape: [Int]?) {
        path.hasSuffix(".npy") ? try readNumPy(data, file: quotedInput(path)) : try readJSON(data, file: quotedInput(path))
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
                // Each item's shape once: asking twice per level took time exponential in the depth.
                var inner: [Int]? = nil
                for item in items {
                    guard let shape = item.shape, inner == nil || shape == inner else { return nil }
                    inner = shape
                }
                return [items.count] + (inner ?? [])
            }
        }
    }

    private static func readJSON(_ data: Data, file: String) throws(CommandError) -> (values: [Double], shape: [Int]?) {
        guard let nested = try? JSONDecoder().decode(NestedNumbers.self, from: data), case .array = nested else {
            throw .usage("\(file) must hold a JSON array of finite numbers (nested arrays allowed), such as [0.5, -1, 2]")
        }
        var values: [Double] = []
        nested.flattened(into: &values)
        guard values.allSatisfy(\.isFinite) else { throw .usage("\(file) contains non-finite numbers") }
        return (values, nested.shape)
    }

    /// The .npy format, versions 1.0, 2.0 and 3.0: magic, version, header length, a Python-dict
    /// header, data.
    private static func readNumPy(_ data: Data, file: String) throws(CommandError) -> (values: [Double], shape: [Int]?) {
        let bytes = [UInt8](data)
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw .usage("\(file) is not a .npy file (bad magic bytes)")
        }
        let (major, minor) = (bytes[6], bytes[7])
        guard (1...3).contains(major), minor == 0 else {
            throw .usage("\(file) is a .npy file of version \(major).\(minor); gss reads versions 1.0, 2.0 and 3.0 (what numpy.save writes)")
        }
        let headerLength: Int
        let headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            guard bytes.count >= 12 else { throw .usage("\(file) is a truncated .npy file") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        }
        guard bytes.count >= headerStart + headerLength,
            let header = String(bytes: bytes[headerStart..<headerStart + headerLength], encoding: .utf8)
        else { throw .usage("\(file) is a truncated .npy file") }
        let compact = header.replacing(" ", with: "")
        let isFloat64 = compact.contains("'descr':'<f8'") || compact.contains("'descr':'float64'")
        let isFloat32 = compact.contains("'descr':'<f4'") || compact.contains("'descr':'float32'")
        guard isFloat64 || isFloat32 else {
            throw .usage("\(file) must hold little-endian float64 or float32 numbers (dtype <f8 or <f4)")
        }
        guard compact.contains("'fortran_order':False") else {
            throw .usage("\(file) is in Fortran order; save it with numpy.ascontiguousarray first")
        }
        guard let shapeStart = compact.firstRange(of: "'shape':("),
            let shapeEnd = compact[shapeStart.upperBound...].firstIndex(of: ")")
        else { throw .usage("\(file) has no shape in its .npy header") }
        let shapeText = compact[shapeStart.upperBound..<shapeEnd]
        var extents: [Int] = []
        for part in shapeText.split(separator: ",") {
            guard let extent = Int(part), extent >= 0 else {
                throw .usage(
                    "\(file) has the shape \(quotedInput("(" + shapeText + ")")) in its .npy header; expected whole numbers ≥ 0 such as (5,) or (3,4)")
            }
            extents.append(extent)
        }
        let width = isFloat64 ? 8 : 4
        let dataStart = headerStart + headerLength
        let dataBytes = bytes.count - dataStart
        // Multiplied with overflow checks: a header may claim any shape (a huge one used to trap).
        var count = 1
        var overflows = false
        for extent in extents {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            (count, overflows) = (product, overflows || overflow)
        }
        if extents.contains(0) { (count, overflows) = (0, false) }
        let (needed, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflows, !overflow, needed == dataBytes else {
            let neededText = overflows || overflow
                ? String(cFormat: "%.3g", extents.reduce(Double(width)) { $0 * Double($1) }) : "\(needed)"
            throw .usage("\(file) holds \(dataBytes) data bytes, but its shape \(extents) needs \(neededText)")
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
        guard values.allSatisfy(\.isFinite) else { throw .usage("\(file) contains NaN or infinite numbers") }
        return (values, extents)
    }
}
