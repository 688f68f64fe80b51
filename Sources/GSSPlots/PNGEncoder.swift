import Glibc

/// PNG files (ISO/IEC 15948) with 8-bit grey or RGB pixels. The pixel rows are deflated by the
/// system's zlib and every chunk carries zlib's CRC-32, so only the container is written here.
public enum PNGEncoder {
    /// How the bytes of a pixel are read.
    public enum ColorType: UInt8, Sendable {
        /// One byte per pixel, black 0 to white 255.
        case gray = 0
        /// Three bytes per pixel: red, green, blue.
        case rgb = 2

        /// Bytes per pixel.
        public var channels: Int { self == .gray ? 1 : 3 }
    }

    /// Why an image could not be encoded.
    public struct EncodingError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// The eight bytes every PNG file starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// A complete PNG file for `pixels`: `height` rows of `width` pixels, row 0 at the top,
    /// `colorType.channels` bytes per pixel.
    /// - Throws: `EncodingError` for a size that does not match the pixels or zlib's failure.
    public static func encode(pixels: [UInt8], width: Int, height: Int, colorType: ColorType) throws -> [UInt8] {
        guard width >= 1, height >= 1, width <= Int(Int32.max), height <= Int(Int32.max) else {
            throw EncodingError(description: "a PNG needs a positive width and height, got \(width)×\(height)")
        }
        let rowBytes = width * colorType.channels
        guard pixels.count == rowBytes * height else {
            throw EncodingError(description: "\(width)×\(height) \(colorType) pixels need \(rowBytes * height) bytes, got \(pixels.count)")
        }
        // Every scanline starts with its filter type; 0 (none) keeps the file trivially checkable.
        var scanlines = [UInt8]()
        scanlines.reserveCapacity((rowBytes + 1) * height)
        for row in 0..<height {
            scanlines.append(0)
            scanlines += pixels[row * rowBytes..<(row + 1) * rowBytes]
        }
        var header = [UInt8]()
        header += bigEndian(UInt32(width))
        header += bigEndian(UInt32(height))
        header += [8, colorType.rawValue, 0, 0, 0]  // bit depth 8, deflate, adaptive filtering, no interlace
        let zlib = try Zlib.library.get()
        var file = signature
        file += chunk("IHDR", header, zlib)
        file += chunk("IDAT", try deflate(scanlines, zlib), zlib)
        file += chunk("IEND", [], zlib)
        return file
    }

    /// The zlib stream (RFC 1950) of `bytes` at the best compression.
    static func deflate(_ bytes: [UInt8], _ zlib: Zlib) throws -> [UInt8] {
        var capacity = zlib.compressBound(UInt(bytes.count))
        var output = [UInt8](repeating: 0, count: Int(capacity))
        let status = output.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBufferPointer { input in
                zlib.compress2(out.baseAddress, &capacity, input.baseAddress, UInt(input.count), Zlib.bestCompression)
            }
        }
        guard status == Zlib.ok else { throw EncodingError(description: "zlib's compress2 failed with status \(status)") }
        return Array(output.prefix(Int(capacity)))
    }

    /// Length, type, data and the CRC-32 of type and data.
    static func chunk(_ type: String, _ data: [UInt8], _ zlib: Zlib) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        let body = typeBytes + data
        let crc = body.withUnsafeBufferPointer { zlib.crc32(0, $0.baseAddress, UInt32($0.count)) }
        return bigEndian(UInt32(data.count)) + body + bigEndian(UInt32(crc))
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }
}

/// The system's zlib (libz.so.1), opened on first use (dlopen) rather than linked: most runs of
/// gss draw no picture, and every library linked in costs every start its loading (BENCHMARKS.md,
/// "Start-up"). The C types on LP64: uLong is UInt, uInt is UInt32, Bytef is UInt8.
struct Zlib: Sendable {
    let compressBound: @convention(c) @Sendable (UInt) -> UInt
    let compress2: @convention(c) @Sendable (UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt>?, UnsafePointer<UInt8>?, UInt, Int32) -> Int32
    let crc32: @convention(c) @Sendable (UInt, UnsafePointer<UInt8>?, UInt32) -> UInt

    /// Z_OK and Z_BEST_COMPRESSION of zlib.h.
    static let ok: Int32 = 0
    static let bestCompression: Int32 = 9

    static let library: Result<Zlib, PNGEncoder.EncodingError> = {
        func failure(_ what: String) -> Result<Zlib, PNGEncoder.EncodingError> {
            .failure(PNGEncoder.EncodingError(description: "cannot load \(what) from zlib (libz.so.1): \(dlerror().map { String(cString: $0) } ?? "unknown reason")"))
        }
        guard let handle = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL) else { return failure("libz.so.1") }
        guard let compressBound = dlsym(handle, "compressBound") else { return failure("compressBound") }
        guard let compress2 = dlsym(handle, "compress2") else { return failure("compress2") }
        guard let crc32 = dlsym(handle, "crc32") else { return failure("crc32") }
        return .success(Zlib(
            compressBound: unsafeBitCast(compressBound, to: (@convention(c) @Sendable (UInt) -> UInt).self),
            compress2: unsafeBitCast(compress2, to: (@convention(c) @Sendable (UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt>?, UnsafePointer<UInt8>?, UInt, Int32) -> Int32).self),
            crc32: unsafeBitCast(crc32, to: (@convention(c) @Sendable (UInt, UnsafePointer<UInt8>?, UInt32) -> UInt).self)))
    }()
}
