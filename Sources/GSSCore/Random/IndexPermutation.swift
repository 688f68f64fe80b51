import CGSSVectorMath

/// A pseudo-random permutation of 0..<size evaluated one index at a time in O(1) memory: a 4-round
/// unbalanced Feistel network on the smallest number of bits covering `size`, with cycle walking
/// back into range (Black & Rogaway, "Ciphers with arbitrary finite domains", 2002). Latin
/// hypercubes need one permutation of s strata per dimension; this keeps them streaming.
///
/// The index splits into a left part of ⌊bits/2⌋ bits and a right part of the rest; rounds
/// alternate L ^= F(R), R ^= F(L), each F an independently keyed 32-bit integer hash (Wellons'
/// "lowbias32"). Every round is invertible, so the network is a bijection on 2^bits values and a
/// power-of-two size never needs cycle walking. The network runs in C (gss_sampling_kernels.h),
/// ranges of indices 16 at a time in the CPU's widest vectors.
public struct IndexPermutation: Sendable {
    public let size: Int
    private let parameters: gss_feistel_permutation

    public init(size: Int, key: (UInt64, UInt64)) {
        precondition(size >= 1, "a permutation needs at least one element")
        self.size = size
        var bits: UInt32 = 1
        while bits < 64 && (UInt64(1) << bits) < UInt64(size) { bits += 1 }
        let leftBits = bits / 2
        let rightBits = bits - leftBits
        let first = SplitMix.mix(key.0)
        let second = SplitMix.mix(key.1 ^ 0xE703_7ED1_A0B4_28DB)
        parameters = gss_feistel_permutation(
            size: UInt64(size), right_bits: rightBits,
            left_mask: UInt32(truncatingIfNeeded: (UInt64(1) << leftBits) - 1),
            right_mask: UInt32(truncatingIfNeeded: (UInt64(1) << rightBits) - 1),
            round_keys: (
                UInt32(truncatingIfNeeded: first), UInt32(truncatingIfNeeded: first >> 32),
                UInt32(truncatingIfNeeded: second), UInt32(truncatingIfNeeded: second >> 32)
            ))
    }

    public func callAsFunction(_ index: Int) -> Int {
        withUnsafePointer(to: parameters) { Int(gss_feistel_apply($0, UInt64(index))) }
    }

    /// π(first + k) for k < count into output[k · stride], as doubles (exact: below 2^53).
    public func evaluate(from first: Int, count: Int, into output: UnsafeMutablePointer<Double>, stride: Int = 1) {
        precondition(first >= 0 && count >= 0 && first + count <= size && stride >= 1, "permutation range out of bounds")
        withUnsafePointer(to: parameters) { gss_feistel_evaluate($0, UInt64(first), count, output, stride) }
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
