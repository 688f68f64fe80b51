import GSSCore
import Testing

@Suite("Random numbers")
struct RandomTests {
    @Test("Philox4x32-10 matches the Random123 known-answer vectors")
    func philoxKnownAnswers() {
        let zero = Philox4x32(seed: 0).block(0, 0, 0, 0)
        #expect(zero == (0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8))
        let ones = Philox4x32(seed: UInt64.max).block(.max, .max, .max, .max)
        #expect(ones == (0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD))
    }

    @Test("uniforms stay strictly inside (0, 1), also at the extreme bit patterns")
    func openUnitInterval() {
        for bits: UInt64 in [0, 1, 1 << 11, .max, .max - 1, 1 << 63] {
            let u = Double.openUnit(bits: bits)
            #expect(u > 0 && u < 1 && 1 - u < 1 && 1 - u > 0)
        }
        #expect(0.0.clampedToOpenUnit == Double.uniformFloor)
        #expect(1.0.clampedToOpenUnit == 1 - Double.uniformFloor)
    }

    @Test("index permutations are bijections", arguments: [1, 2, 3, 5, 16, 17, 1000, 4097])
    func permutationIsBijective(size: Int) {
        let permutation = IndexPermutation(size: size, key: (42, 7))
        let image = (0..<size).map { permutation($0) }
        #expect(Set(image).count == size)
        #expect(image.allSatisfy { (0..<size).contains($0) })
    }

    @Test("evaluating a range equals evaluating each index", arguments: [1, 3, 17, 1000, 4097])
    func rangeEqualsPointwise(size: Int) {
        let permutation = IndexPermutation(size: size, key: (9, 4))
        for (first, count) in [(0, size), (size / 3, size - size / 3), (size - 1, 1)] {
            var range = [Double](repeating: -1, count: count)
            range.withUnsafeMutableBufferPointer { permutation.evaluate(from: first, count: count, into: $0.baseAddress!) }
            #expect(range == (first..<(first + count)).map { Double(permutation($0)) })
            // Every third slot of a strided output, the others untouched.
            var strided = [Double](repeating: -1, count: 3 * count)
            strided.withUnsafeMutableBufferPointer {
                permutation.evaluate(from: first, count: count, into: $0.baseAddress! + 1, stride: 3)
            }
            #expect((0..<count).map { strided[3 * $0 + 1] } == range)
            #expect((0..<count).allSatisfy { strided[3 * $0] == -1 && strided[3 * $0 + 2] == -1 })
        }
    }

    // Values from an independent Python transcription of the network (SplitMix64 keys, lowbias32
    // rounds, cycle walking): they pin the sampler's bits, so that a faster kernel cannot drift.
    @Test("index permutations match their known answers, in blocks and one by one")
    func permutationKnownAnswers() {
        let small = IndexPermutation(size: 1000, key: (42, 7))
        let expectedSmall: [Double] = [774, 356, 110, 141, 620, 403, 533, 861, 868, 786, 502, 924]
        #expect((0..<12).map { Double(small($0)) } == expectedSmall)
        var block = [Double](repeating: -1, count: 16)
        block.withUnsafeMutableBufferPointer { small.evaluate(from: 0, count: 16, into: $0.baseAddress!) }
        #expect(Array(block.prefix(12)) == expectedSmall)

        let walking = IndexPermutation(size: 4097, key: (9, 4))  // 13 bits: cycle walks often
        let expectedTail: [Double] = [
            178, 582, 917, 1971, 714, 2832, 2860, 2307, 1631, 2114, 129, 1206, 3083, 509, 3507, 1766, 3615,
        ]
        var tail = [Double](repeating: -1, count: 17)
        tail.withUnsafeMutableBufferPointer { walking.evaluate(from: 4080, count: 17, into: $0.baseAddress!) }
        #expect(tail == expectedTail)
    }

    @Test("different keys give different permutations")
    func permutationDependsOnKey() {
        let a = (0..<64).map { IndexPermutation(size: 64, key: (1, 2))($0) }
        let b = (0..<64).map { IndexPermutation(size: 64, key: (1, 3))($0) }
        #expect(a != b)
        #expect(a != Array(0..<64))
    }
}
