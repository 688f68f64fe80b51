/// A pseudo-random permutation of 0..<size evaluated one index at a time in O(1) memory: a
/// balanced 4-round Feistel network on the smallest even number of bits covering `size`, with
/// cycle walking back into range (Black & Rogaway, "Ciphers with arbitrary finite domains", 2002).
/// Latin hypercubes need one permutation of s strata per dimension; this keeps them streaming.
public struct IndexPermutation: Sendable {
    public let size: Int
    private let halfBits: UInt64
    private let halfMask: UInt64
    private let roundKeys: (UInt64, UInt64, UInt64, UInt64)

    public init(size: Int, key: (UInt64, UInt64)) {
        precondition(size >= 1, "a permutation needs at least one element")
        self.size = size
        var bits: UInt64 = 1
        while (UInt64(1) << bits) < UInt64(size) { bits += 1 }
        halfBits = (bits + 1) / 2
        halfMask = (UInt64(1) << halfBits) - 1
        roundKeys = (
            SplitMix.mix(key.0), SplitMix.mix(key.0 ^ 0xA076_1D64_78BD_642F),
            SplitMix.mix(key.1), SplitMix.mix(key.1 ^ 0xE703_7ED1_A0B4_28DB)
        )
    }

    @inlinable
    public func callAsFunction(_ index: Int) -> Int {
        var value = UInt64(index)
        repeat { value = feistel(value) } while value >= UInt64(size)
        return Int(value)
    }

    @usableFromInline
    func feistel(_ value: UInt64) -> UInt64 {
        var left = value >> halfBits
        var right = value & halfMask
        (left, right) = (right, left ^ (SplitMix.mix(right ^ roundKeys.0) & halfMask))
        (left, right) = (right, left ^ (SplitMix.mix(right ^ roundKeys.1) & halfMask))
        (left, right) = (right, left ^ (SplitMix.mix(right ^ roundKeys.2) & halfMask))
        (left, right) = (right, left ^ (SplitMix.mix(right ^ roundKeys.3) & halfMask))
        return left << halfBits | right
    }
}

/// The SplitMix64 finaliser (Steele, Lea & Flood, OOPSLA 2014): a fast 64-bit bijective mixer.
public enum SplitMix {
    @inlinable
    public static func mix(_ input: UInt64) -> UInt64 {
        var z = input &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
