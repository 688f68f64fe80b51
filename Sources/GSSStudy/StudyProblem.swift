import GSSCore
import GSSHost

/// The black boxes the variance study runs on (the paper's section 4.1), and the fixed inputs at
/// which their Jacobians are estimated.
public enum StudyProblem: String, CaseIterable, Sendable, Codable {
    /// The hard permutation matrix of n numbers: R^n → {0,1}^(n×n) (bundled plugin `sorter`).
    case sorting
    /// The 0/1 mask of the cheapest 8-neighbour path through an N×N grid of vertex costs:
    /// R^(N×N) → {0,1}^(N×N) (bundled plugin `shortest-path`).
    case shortestPath = "shortest-path"

    /// The sizes run when none is given: the paper's Figures 3 and 11 (n = 3, 5, 7, 10) and Figure 4.
    public var defaultSizes: [Int] { self == .sorting ? [3, 5, 7, 10] : [8, 12] }

    /// Sizes accepted; beyond them one Jacobian (m × n numbers, three accumulators of it per
    /// estimate) grows past about a million entries.
    public var sizeRange: ClosedRange<Int> { self == .sorting ? 2...64 : 2...32 }

    /// n, the number of inputs, for a size.
    public func inputCount(size: Int) -> Int { self == .sorting ? size : size * size }

    /// "n = 5" or "12×12".
    public func sizeLabel(_ size: Int) -> String { self == .sorting ? "n = \(size)" : "\(size)×\(size)" }

    public var pluginID: String { self == .sorting ? "sorter" : "shortest-path" }

    public func pluginOptions(size: Int) -> [(key: String, value: String)] {
        self == .sorting ? [("n", "\(size)")] : [("rows", "\(size)"), ("cols", "\(size)")]
    }

    /// The fixed point x of the study. Sorting: n standard-normal draws (the normal quantile of
    /// Philox4x32-10 uniforms, seed 0x534F5254, stream 1, index i), so ranks overlap under γ = 1
    /// noise. Shortest path: N×N costs uniform in [0.5, 5), row-major (seed 0x50415448, same
    /// stream), the range of the plugin's own default grid. Never depends on --seed.
    public func input(size: Int) -> [Double] {
        let generator = Philox4x32(seed: self == .sorting ? 0x534F_5254 : 0x5041_5448)
        return (0..<inputCount(size: size)).map { i in
            let u = Double.openUnit(bits: generator.bits(stream: 1, index: UInt64(i)).0)
            return self == .sorting ? Distribution.gaussian.quantile(u) : 0.5 + 4.5 * u
        }
    }

    /// Whether the exact smoothed permutation matrix (SmoothedSorting) is the oracle at this size.
    public func hasExactOracle(size: Int) -> Bool { self == .sorting && size <= 5 }

    /// A fresh instance of the bundled plugin for this size.
    public func openBlackBox(size: Int) throws -> any BlackBox {
        try PluginBlackBox(library: try PluginLocator.open(pluginID), options: pluginOptions(size: size))
    }
}

/// Seeds derived from the study's base seed by SplitMix64 finalisation, so that every estimate,
/// and every oracle scramble, gets its own well-mixed seed.
enum StudySeeds {
    /// Repeat r uses the same seed in every configuration (common random numbers across samplers
    /// and covariates); different samplers still draw from different Philox streams.
    static func estimate(base: UInt64, repeat r: Int) -> UInt64 {
        mix(base ^ mix(UInt64(r) &+ 1))
    }

    /// Scramble k of an oracle of `samples` samples: independent of every estimate's seed.
    static func oracle(base: UInt64, samples: Int, scramble k: Int) -> UInt64 {
        mix(base ^ 0x4F52_4143_4C45_0000 ^ mix(UInt64(samples) &* 0x1_0000 &+ UInt64(k)))
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// FNV-1a over the bit patterns of a vector: identifies an input or an oracle in the journal.
func bitDigest(_ values: [Double]) -> String {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for value in values {
        var bits = value.bitPattern
        for _ in 0..<8 {
            hash = (hash ^ (bits & 0xFF)) &* 0x0000_0100_0000_01B3
            bits >>= 8
        }
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}
