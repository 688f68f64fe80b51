import Foundation
import GSSCore
import GSSHost

/// Appendix D's two TEM problems. Parameters are handled in normalised units — voltage in
/// 100 kV, focal length in mm, x and y in nm — so that every coordinate spans a few units, one
/// learning rate and one smoothing scale suit them all, and the RMSE weighs them alike.
enum ParameterStudy: String, Codable, CaseIterable, Sendable {
    case twoParameters = "2 parameters"
    case fourParameters = "4 parameters"

    /// The plugin's `params` option: which inputs a row holds, in order.
    var pluginParameters: String { self == .twoParameters ? "voltage,x" : "voltage,focal_length,x,y" }

    var names: [String] { self == .twoParameters ? ["voltage/100 kV", "x/nm"] : ["voltage/100 kV", "focal length/mm", "x/nm", "y/nm"] }

    /// The feasible set (normalised): 2 parameters: voltage [0, 1000] kV, x [−5, 5] nm;
    /// 4 parameters: voltage [0, 600] kV, focal length [0, 6] mm, x and y [−3, 3] nm.
    var box: FeasibleBox {
        // The bounds are constants that satisfy FeasibleBox's rules.
        self == .twoParameters
            ? try! FeasibleBox(lower: [0, -5], upper: [10, 5])
            : try! FeasibleBox(lower: [0, 0, -3, -3], upper: [6, 6, 3, 3])
    }

    /// The ground truth: 300 kV, 3 mm, (0, 0) nm (the focal length is the plugin's option in the
    /// 2-parameter study, at its default of 3 mm).
    var truth: [Double] { self == .twoParameters ? [3, 0] : [3, 3, 0, 0] }

    /// Physical input = factor × normalised input.
    var inputFactors: [Double] { self == .twoParameters ? [100, 1] : [100, 1, 1, 1] }

    /// RQMC in the paper's advice: the Cartesian grid (jittered per cell) in two dimensions, where
    /// the sample counts 9, 25, 36 are its 3², 5², 6² grids; Latin hypercubes in four.
    func sampler(samples: Int) -> SamplingStrategy {
        let k = Int(Double(samples).squareRoot().rounded())
        return self == .twoParameters && k * k == samples ? .rqmcCartesian : .rqmcLatin
    }

    /// The root-mean-square error to the truth, in normalised units.
    func rmse(_ x: [Double]) -> Double {
        (zip(x, truth).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(truth.count)).squareRoot()
    }
}

/// One seed's problem: where the descent starts, and the seeds of the measured micrograph's noise
/// and of the smoothing (shared by every configuration of the seed, so comparisons are paired).
struct TEMProblem: Sendable {
    let study: ParameterStudy
    let seed: Int
    /// Uniform in the feasible box.
    let start: [Double]
    let measurementNoiseSeed: UInt64
    let smoothingSeed: UInt64
    /// The seed of the MC-search baseline's uniform points.
    let searchSeed: UInt64

    init(study: ParameterStudy, seed: Int) {
        let generator = Philox4x32(seed: 0x7E3_0000 &+ UInt64(seed))
        let stream: UInt32 = study == .twoParameters ? 2 : 4
        let box = study.box
        start = box.lower.indices.map { j in
            box.lower[j] + (box.upper[j] - box.lower[j]) * .openUnit(bits: generator.bits(stream: stream, index: UInt64(j)).0)
        }
        measurementNoiseSeed = generator.bits(stream: 10 + stream, index: 0).0
        smoothingSeed = generator.bits(stream: 20 + stream, index: 0).0
        searchSeed = generator.bits(stream: 30 + stream, index: 0).0
        self.study = study
        self.seed = seed
    }
}

/// A black box in normalised inputs: scales every input row to physical units and hands it on.
struct ScaledInputBlackBox: BlackBox {
    let inner: any BlackBox
    let factors: [Double]
    var inputCount: Int { inner.inputCount }
    var outputCount: Int { inner.outputCount }
    var displayName: String { inner.displayName }

    func makeEvaluators(count: Int) throws -> [any BatchEvaluator] {
        try inner.makeEvaluators(count: count).map { Evaluator(inner: $0, factors: factors) }
    }

    private final class Evaluator: BatchEvaluator, @unchecked Sendable {
        let inner: any BatchEvaluator
        let factors: [Double]
        var scaled: [Double] = []

        init(inner: any BatchEvaluator, factors: [Double]) {
            self.inner = inner
            self.factors = factors
        }

        func evaluate(_ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>) throws {
            let n = factors.count
            scaled = (0..<(rows * n)).map { inputs[$0] * factors[$0 % n] }
            try inner.evaluate(scaled, rows: rows, into: outputs)
        }
    }
}

/// The micrographs of both studies at one image size, the field of view kept at 60 nm (400
/// pixels of 0.15 nm): `size` pixels of 60/size nm, by the magnification.
struct Microscope: Sendable {
    let size: Int
    /// Whether the simulated candidates carry shot noise too (the measured micrograph always does).
    let candidateNoise: Bool

    var magnification: Double { 50_000 * Double(size) / 400 }

    func options(_ study: ParameterStudy, noise: Bool, noiseSeed: UInt64) -> [(key: String, value: String)] {
        [("params", study.pluginParameters), ("size", "\(size)"), ("magnification", "\(magnification)"),
         ("noise", noise ? "on" : "off"), ("noise_seed", "\(noiseSeed)")]
    }

    /// The black box a descent sees: normalised parameters ↦ simulated micrograph.
    func model(_ study: ParameterStudy, noiseSeed: UInt64) throws -> ScaledInputBlackBox {
        let plugin = try PluginBlackBox(library: PluginLocator.open("tem"), options: options(study, noise: candidateNoise, noiseSeed: noiseSeed))
        return ScaledInputBlackBox(inner: plugin, factors: study.inputFactors)
    }

    /// The measured micrograph: the truth's image with Poisson shot noise from the problem's seed.
    func measurement(_ problem: TEMProblem) throws -> [Double] {
        let plugin = try PluginBlackBox(
            library: PluginLocator.open("tem"), options: options(problem.study, noise: true, noiseSeed: problem.measurementNoiseSeed))
        return try ScaledInputBlackBox(inner: plugin, factors: problem.study.inputFactors).output(at: problem.study.truth, label: "the truth")
    }
}
