import GSSCore
import Testing

/// Partial sums cross processes (MPI ranks) and go into journals as arrays of doubles: reading
/// them back must give the same sums bit for bit, and a damaged array an error, never a crash.
@Suite("Exact encoding of partial sums")
struct ExchangeCodecTests {
    static func data(_ count: Int, seed: UInt64) -> [Double] {
        let generator = Philox4x32(seed: seed)
        return (0..<count).map { Double.openUnit(bits: generator.bits(stream: 3, index: UInt64($0)).0) * 3 - 1 }
    }

    static func roundTrip<T>(_ value: T, write: (T, inout ExchangeWriter) -> Void, read: (inout ExchangeReader) throws -> T) throws -> T {
        var writer = ExchangeWriter()
        write(value, &writer)
        var reader = ExchangeReader(writer.values)
        let copy = try read(&reader)
        try reader.finish()
        return copy
    }

    @Test("moment and covariance sums read back equal, for single samples and antithetic pairs", arguments: [1, 2])
    func sumsRoundTrip(unitSize: Int) throws {
        let (q, p, rows) = (3, 4, 96)
        let responses = Self.data(rows * q, seed: 1)
        let features = Self.data(rows * p, seed: 2)
        var moments = MomentSums(responseCount: q, featureCount: p, unitSize: unitSize)
        moments.add(responses: responses, features: features, rows: rows)
        // Merged covariance chunks: a sealed batch, one being filled, and the total.
        var covariance = CovarianceSums(responseCount: q, featureCount: p, unitSize: unitSize)
        for chunk in 0..<3 {
            var part = CovarianceSums(responseCount: q, featureCount: p, unitSize: unitSize)
            part.add(responses: Array(responses[(chunk * 32 * q)...]), features: Array(features[(chunk * 32 * p)...]), rows: 32 - 16 * (chunk / 2))
            covariance.mergeChunk(part)
        }
        let momentsCopy = try Self.roundTrip(moments, write: { $0.write(to: &$1) }, read: { try MomentSums(reading: &$0) })
        let covarianceCopy = try Self.roundTrip(covariance, write: { $0.write(to: &$1) }, read: { try CovarianceSums(reading: &$0) })
        #expect(momentsCopy == moments)
        #expect(covarianceCopy == covariance)
        #expect(covarianceCopy.estimate() == covariance.estimate())
    }

    @Test("doubles keep their bit patterns, integers and text their values")
    func valuesRoundTrip() throws {
        let odd: [Double] = [-0.0, .infinity, .leastNonzeroMagnitude, Double(bitPattern: 0x7FF8_0000_0000_1234), 1e308]
        var writer = ExchangeWriter()
        writer.append(counted: odd)
        writer.append(bitsOf: UInt64.max - 12)
        writer.append("sample 7 of ‘box’")
        var reader = ExchangeReader(writer.values)
        #expect(try reader.countedDoubles().map(\.bitPattern) == odd.map(\.bitPattern))
        #expect(try reader.unsigned() == UInt64.max - 12)
        #expect(try reader.string() == "sample 7 of ‘box’")
        #expect(reader.isAtEnd)

        let error = SmoothingError(code: .evaluationFailed, message: "box failed at sample 3", sampleIndex: 3, input: [0.5, -1])
        let copy = try SmoothingError(exchanged: error.exchanged)
        #expect(copy.message == error.message && copy.sampleIndex == 3 && copy.input == [0.5, -1] && copy.code == .evaluationFailed)
    }

    @Test("damaged arrays are errors")
    func damagedArrays() throws {
        var moments = MomentSums(responseCount: 2, featureCount: 2, unitSize: 1)
        moments.add(responses: Self.data(8, seed: 4), features: Self.data(8, seed: 5), rows: 4)
        var writer = ExchangeWriter()
        moments.write(to: &writer)
        let whole = writer.values
        for damaged in [Array(whole.dropLast()), [0.5] + whole.dropFirst(), [Double(1 << 40)] + whole.dropFirst(), whole + [1]] {
            #expect(throws: SmoothingError.self) {
                var reader = ExchangeReader(damaged)
                _ = try MomentSums(reading: &reader)
                try reader.finish()
            }
        }
        #expect(throws: SmoothingError.self) { try SmoothingError(exchanged: [7]) }
    }
}
