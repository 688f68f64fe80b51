/// The bytes of a .npy file (version 1.0): little-endian float64 in C order, as numpy.load reads it.
enum NumPyArray {
    static func bytes(_ values: [Double], shape: [Int]) -> [UInt8] {
        let extents = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (\(extents)), }"
        // The header ends in a newline and pads magic, version, length and header to a multiple of 64.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let length = UInt16(header.utf8.count)
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)]
        bytes += header.utf8
        bytes.reserveCapacity(bytes.count + 8 * values.count)
        for value in values {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
        }
        return bytes
    }
}
