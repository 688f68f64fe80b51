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
            var range = [Int](repeating: -1, count: count)
            range.withUnsafeMutableBufferPointer { permutation.evaluate(from: first, count: count, into: $0.baseAddress!) }
            #expect(range == (first..<(first + count)).map { permutation($0) })
        }
    }

    @Test("different keys give different permutations")
    func permutationDependsOnKey() {
        let a = (0..<64).map { IndexPermutation(size: 64, key: (1, 2))($0) }
        let b = (0..<64).map { IndexPermutation(size: 64, key: (1, 3))($0) }
        #expect(a != b)
        #expect(a != Array(0..<64))
    }
}
