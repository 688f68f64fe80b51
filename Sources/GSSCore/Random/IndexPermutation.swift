/// A pseudo-random permutation of 0..<size evaluated one index at a time in O(1) memory: a
/// balanced 4-round Feistel network on the smallest even number of bits covering `size`, with
/// cycle walking back into range (Black & Rogaway, "Ciphers with arbitrary finite domains", 2002).
/// Latin hypercubes need one permutation of s strata per dimension; this keeps them streaming.
///
/// Halves are at most 32 bits wide (size ≤ 2^64), so each round mixes 32-bit words with an
/// independently keyed integer hash (Wellons' "lowbias32"): cheap, and 4 rounds of it make
/// permutations that no statistical use here can tell from uniformly random ones.
public struct IndexPermutation: Sendable {
    public let size: Int
    private let halfBits: UInt32
    private let halfMask: UInt32
    private let roundKeys: (UInt32, UInt32, UInt32, UInt32)

    public init(size: Int, key: (UInt64, UInt64)) {
        precondition(size >= 1, "a permutation needs at least one element")
        self.size = size
        var bits: UInt32 = 1
        while bits < 64 && (UInt64(1) << bits) < UInt64(size) { bits += 1 }
        halfBits = (bits + 1) / 2
        halfMask = UInt32(truncatingIfNeeded: (UInt64(1) << halfBits) - 1)
        let first = SplitMix.mix(key.0)
        let second = SplitMix.mix(key.1 ^ 0xE703_7ED1_A0B4_28DB)
        roundKeys = (
            UInt32(truncatingIfNeeded: first), UInt32(truncatingIfNeeded: first >> 32),
            UInt32(truncatingIfNeeded: second), UInt32(truncatingIfNeeded: second >> 32)
        )
    }

    @inlinable
    public func callAsFunction(_ index: Int) -> Int {
        var value = UInt64(index)
        repeat { value = feistel(value) } while value >= UInt64(size)
        return Int(value)
    }

    /// π(first), π(first + 1), …, π(first + count − 1) into `output`. Four indices at a time in
    /// straight-line code, so that their independent mixing chains overlap in the pipeline.
    public func evaluate(from first: Int, count: Int, into output: UnsafeMutablePointer<Int>) {
        let size = UInt64(self.size)
        var k = 0
        while k + 4 <= count {
            let base = UInt64(first + k)
            let (a, b, c, d) = (feistel(base), feistel(base + 1), feistel(base + 2), feistel(base + 3))
            output[k] = Int(a < size ? a : walk(a))
            output[k + 1] = Int(b < size ? b : walk(b))
            output[k + 2] = Int(c < size ? c : walk(c))
            output[k + 3] = Int(d < size ? d : walk(d))
            k += 4
        }
        while k < count {
            output[k] = self(first + k)
            k += 1
        }
    }

    /// Cycle walking: apply the network again until the value falls back into 0..<size.
    private func walk(_ start: UInt64) -> UInt64 {
        var value = start
        repeat { value = feistel(value) } while value >= UInt64(size)
        return value
    }

    @usableFromInline @inline(__always)
    func feistel(_ value: UInt64) -> UInt64 {
        // Masking shifts (&>>, &<<): halfBits ≤ 32, so no shift reaches the width.
        var left = UInt32(truncatingIfNeeded: value &>> UInt64(halfBits))
        var right = UInt32(truncatingIfNeeded: value) & halfMask
        (left, right) = (right, left ^ (Self.hash(right ^ roundKeys.0) & halfMask))
        (left, right) = (right, left ^ (Self.hash(right ^ roundKeys.1) & halfMask))
        (left, right) = (right, left ^ (Self.hash(right ^ roundKeys.2) & halfMask))
        (left, right) = (right, left ^ (Self.hash(right ^ roundKeys.3) & halfMask))
        return UInt64(left) &<< UInt64(halfBits) | UInt64(right)
    }

    /// "lowbias32" (C. Wellons, 2018): a 32-bit bijective integer hash with low avalanche bias.
    @usableFromInline @inline(__always)
    static func hash(_ input: UInt32) -> UInt32 {
        var x = input
        x ^= x &>> 16
        x &*= 0x7FEB_352D
        x ^= x &>> 15
        x &*= 0x846C_A68B
        x ^= x &>> 16
        return x
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
