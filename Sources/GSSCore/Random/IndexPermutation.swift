/// A pseudo-random permutation of 0..<size evaluated one index at a time in O(1) memory: a 4-round
/// unbalanced Feistel network on the smallest number of bits covering `size`, with cycle walking
/// back into range (Black & Rogaway, "Ciphers with arbitrary finite domains", 2002). Latin
/// hypercubes need one permutation of s strata per dimension; this keeps them streaming.
///
/// The index splits into a left part of ⌊bits/2⌋ bits and a right part of the rest; rounds
/// alternate L ^= F(R), R ^= F(L), each F an independently keyed 32-bit integer hash (Wellons'
/// "lowbias32"). Every round is invertible, so the network is a bijection on 2^bits values and a
/// power-of-two size never needs cycle walking. Ranges of indices are evaluated 16 at a time in
/// SIMD registers.
public struct IndexPermutation: Sendable {
    public let size: Int
    private let rightBits: UInt32
    private let leftMask: UInt32
    private let rightMask: UInt32
    private let roundKeys: (UInt32, UInt32, UInt32, UInt32)

    public init(size: Int, key: (UInt64, UInt64)) {
        precondition(size >= 1, "a permutation needs at least one element")
        self.size = size
        var bits: UInt32 = 1
        while bits < 64 && (UInt64(1) << bits) < UInt64(size) { bits += 1 }
        let leftBits = bits / 2
        rightBits = bits - leftBits
        leftMask = UInt32(truncatingIfNeeded: (UInt64(1) << leftBits) - 1)
        rightMask = UInt32(truncatingIfNeeded: (UInt64(1) << rightBits) - 1)
        let first = SplitMix.mix(key.0)
        let second = SplitMix.mix(key.1 ^ 0xE703_7ED1_A0B4_28DB)
        roundKeys = (
            UInt32(truncatingIfNeeded: first), UInt32(truncatingIfNeeded: first >> 32),
            UInt32(truncatingIfNeeded: second), UInt32(truncatingIfNeeded: second >> 32)
        )
    }

    public func callAsFunction(_ index: Int) -> Int {
        var value = UInt64(index)
        repeat { value = network(value) } while value >= UInt64(size)
        return Int(value)
    }

    /// π(first), π(first + 1), …, π(first + count − 1) into `output`.
    public func evaluate(from first: Int, count: Int, into output: UnsafeMutablePointer<Int>) {
        var k = 0
        // Sixteen lanes of 32-bit halves at once, while indices fit in 32 bits.
        if rightBits <= 16, first + count <= Int(UInt32.max) {
            let lanes = SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
            let size = SIMD16<UInt32>(repeating: UInt32(truncatingIfNeeded: self.size))
            while k + 16 <= count {
                let values = network(SIMD16<UInt32>(repeating: UInt32(first + k)) &+ lanes)
                if any(values .>= size) {
                    for lane in 0..<16 { output[k + lane] = self(first + k + lane) }  // cycle walking
                } else {
                    for lane in 0..<16 { output[k + lane] = Int(values[lane]) }
                }
                k += 16
            }
        }
        while k < count {
            output[k] = self(first + k)
            k += 1
        }
    }

    /// One pass of the network on a value of `rightBits + leftBits` bits.
    private func network(_ value: UInt64) -> UInt64 {
        var left = SIMD2<UInt32>(repeating: UInt32(truncatingIfNeeded: value &>> UInt64(rightBits)) & leftMask)
        var right = SIMD2<UInt32>(repeating: UInt32(truncatingIfNeeded: value) & rightMask)
        rounds(&left, &right)
        return UInt64(left[0]) &<< UInt64(rightBits) | UInt64(right[0])
    }

    /// The same network on sixteen values (each below 2^32) at once.
    @inline(__always)
    private func network(_ value: SIMD16<UInt32>) -> SIMD16<UInt32> {
        var left = (value &>> rightBits) & leftMask
        var right = value & rightMask
        rounds(&left, &right)
        return left &<< rightBits | right
    }

    /// The four rounds, lane by lane: L ^= F₀(R), R ^= F₁(L), L ^= F₂(R), R ^= F₃(L).
    @inline(__always)
    private func rounds<Lanes: SIMD>(_ left: inout Lanes, _ right: inout Lanes) where Lanes.Scalar == UInt32 {
        left ^= Self.hash(right ^ roundKeys.0) & leftMask
        right ^= Self.hash(left ^ roundKeys.1) & rightMask
        left ^= Self.hash(right ^ roundKeys.2) & leftMask
        right ^= Self.hash(left ^ roundKeys.3) & rightMask
    }

    /// "lowbias32" (C. Wellons, 2018), lane by lane: a 32-bit bijective integer hash with low
    /// avalanche bias.
    @inline(__always)
    static func hash<Lanes: SIMD>(_ input: Lanes) -> Lanes where Lanes.Scalar == UInt32 {
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
