import CZlib
import Foundation

/// A strict reader of the PNG files gss writes (8-bit grey or RGB, no interlace), for tests: it
/// checks the signature, every chunk's CRC-32, the chunk order, and inflates the image data
/// with zlib, undoing all five scanline filters.
public struct DecodedPNG: Equatable {
    public let width: Int
    public let height: Int
    /// 0 grey, 2 RGB.
    public let colorType: UInt8
    /// height rows of width × channels bytes, unfiltered.
    public let pixels: [UInt8]
    /// The chunk types in file order.
    public let chunkTypes: [String]

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public init(bytes: [UInt8]) throws {
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else { throw Failure(description: "no PNG signature") }
        func u32(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }
        var offset = 8
        var types: [String] = []
        var header: [UInt8] = []
        var data: [UInt8] = []
        while offset < bytes.count {
            guard offset + 12 <= bytes.count else { throw Failure(description: "truncated chunk at \(offset)") }
            let length = u32(offset)
            guard offset + 12 + length <= bytes.count else { throw Failure(description: "chunk at \(offset) runs past the end") }
            let body = Array(bytes[(offset + 4)..<(offset + 8 + length)])
            let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
            guard Int(crc) == u32(offset + 8 + length) else { throw Failure(description: "bad CRC in chunk at \(offset)") }
            let type = String(decoding: body[0..<4], as: UTF8.self)
            types.append(type)
            if type == "IHDR" { header = Array(body[4...]) }
            if type == "IDAT" { data += body[4...] }
            offset += 12 + length
        }
        guard types.first == "IHDR", types.last == "IEND", header.count == 13 else { throw Failure(description: "chunks out of order: \(types)") }
        let width = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        let height = Int(header[4]) << 24 | Int(header[5]) << 16 | Int(header[6]) << 8 | Int(header[7])
        guard header[8] == 8, header[10] == 0, header[11] == 0, header[12] == 0, [0, 2].contains(header[9]) else {
            throw Failure(description: "unsupported IHDR \(header)")
        }
        let channels = header[9] == 0 ? 1 : 3
        let rowBytes = width * channels
        var inflated = [UInt8](repeating: 0, count: (rowBytes + 1) * height)
        var inflatedCount = uLong(inflated.count)
        let status = inflated.withUnsafeMutableBufferPointer { out in
            data.withUnsafeBufferPointer { uncompress(out.baseAddress, &inflatedCount, $0.baseAddress, uLong($0.count)) }
        }
        guard status == Z_OK, Int(inflatedCount) == inflated.count else {
            throw Failure(description: "zlib inflate failed (status \(status), \(inflatedCount) of \(inflated.count) bytes)")
        }
        var pixels = [UInt8](repeating: 0, count: rowBytes * height)
        for row in 0..<height {
            let filter = inflated[row * (rowBytes + 1)]
            for i in 0..<rowBytes {
                let raw = Int(inflated[row * (rowBytes + 1) + 1 + i])
                let left = i >= channels ? Int(pixels[row * rowBytes + i - channels]) : 0
                let up = row > 0 ? Int(pixels[(row - 1) * rowBytes + i]) : 0
                let upLeft = row > 0 && i >= channels ? Int(pixels[(row - 1) * rowBytes + i - channels]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = left
                case 2: predictor = up
                case 3: predictor = (left + up) / 2
                case 4:
                    let p = left + up - upLeft
                    let (pa, pb, pc) = (abs(p - left), abs(p - up), abs(p - upLeft))
                    predictor = pa <= pb && pa <= pc ? left : (pb <= pc ? up : upLeft)
                default: throw Failure(description: "unknown filter \(filter) in row \(row)")
                }
                pixels[row * rowBytes + i] = UInt8((raw + predictor) & 0xFF)
            }
        }
        self.width = width
        self.height = height
        colorType = header[9]
        self.pixels = pixels
        chunkTypes = types
    }

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure(description: "cannot read \(path)") }
        try self.init(bytes: Array(data))
    }
}
