import ArgumentParser
import FoundationEssentials
import GSSCore
import GSSHost

extension Distribution: ExpressibleByArgument {}
extension SamplingStrategy: ExpressibleByArgument {}
extension Covariate: ExpressibleByArgument {}

/// The smoothing options shared by every command that smooths (CLI.md's table).
struct SmoothingOptions: ParsableArguments {
    @Option(name: .customLong("x"), parsing: .unconditional,
            help: ArgumentHelp("The point: comma-separated numbers, or @FILE (.json array or .npy). Default: the black box's own.", valueName: "x"),
            transform: NumberList.init(parsing:))
    var point: NumberList?

    @Option(name: .customLong("dist"), help: "The smoothing distribution.")
    var distribution: Distribution = .logistic

    @Option(parsing: .unconditional, help: ArgumentHelp("γ > 0: one number, or one per input (diagonal). Default: the plugin's typical scale per input ('gss info'), else 1.", valueName: "γ"),
            transform: NumberList.init(parsing:))
    var scale: NumberList?

    @Option(name: .customLong("scale-matrix"),
            help: ArgumentHelp("An invertible n×n matrix L to smooth f(x + Lε) instead: @FILE, a JSON array (nested or flat, row-major) or a .npy file.", valueName: "@FILE"))
    var scaleMatrix: String?

    @Option(parsing: .unconditional, help: "The number of samples s (at least 2). (default: 1024)", transform: NumberArgument.wholeNumber)
    var samples: Int = 1024

    @Option(help: "How the samples are placed.")
    var sampler: SamplingStrategy = .rqmcLatin

    @Flag(help: "Pair every sample with its mirror (ε and −ε for symmetric distributions).")
    var antithetic = false

    @Option(help: "The control variate subtracted from f.")
    var covariate: Covariate = .loo

    @Option(parsing: .unconditional, help: "The random seed; the same seed and options give bit-identical results. Default: random (printed).",
            transform: NumberArgument.seed)
    var seed: UInt64?

    @Option(parsing: .unconditional, help: "Worker threads. Default: all cores.", transform: NumberArgument.wholeNumber)
    var threads: Int?

    @Option(help: ArgumentHelp(
        "Keep every finished part of the run in FILE; rerun with the same arguments to resume an interrupted run (same output).",
        valueName: "FILE"))
    var journal: String?

    func validate() throws {
        guard samples >= 2 else { throw ValidationError("--samples must be at least 2, got \(samples)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    var workerCount: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }

    /// Where the estimates run: this process, or every MPI rank (rank 0 keeping the journal).
    func executor() throws -> any ChunkExecutor { try Ranks.executor(journal: journal) }

    /// The configuration for `box` (the scale matrix is read and checked here), with a fresh
    /// random seed when none was given; γ is --scale, else the typical scale, else 1.
    func configuration(for box: OpenedBlackBox) throws -> SmoothingConfiguration {
        let n = box.blackBox.inputCount
        var configuration = SmoothingConfiguration(
            distribution: distribution, scale: scale?.values ?? implicitScale(of: box), samples: samples, sampler: sampler,
            antithetic: antithetic, covariate: covariate,
            // Drawn once, on rank 0, for every rank (and kept in the journal, so that a rerun resumes).
            seed: try seed ?? executor().fromCoordinator(.unsigned, recorded: true) { UInt64.random(in: 0...UInt64(UInt32.max)) })
        if let scaleMatrix {
            guard scale == nil else {
                throw CommandError.usage(
                    "--scale and --scale-matrix cannot be combined: give the whole scale as one matrix L (fold γ into it as diag(γ)·L)")
            }
            configuration.scaleMatrix = try Self.readScaleMatrix(scaleMatrix, inputCount: n)
        }
        return configuration
    }

    /// Refuses, before any work, a request whose x + γε overflows or that cannot fit in memory
    /// (`extraBytes`: what the command keeps besides the estimate), after the smoother's own
    /// checks of the options, whose messages are more specific. A wrong x is left to the
    /// smoother, whose message names it.
    func checkRequest(
        _ configuration: SmoothingConfiguration, at x: [Double], inputCount n: Int, outputCount m: Int,
        extraBytes: Double = 0, scaleOption: String? = nil, describedAs request: String, advice: String
    ) throws {
        try configuration.validate(inputCount: n, outputCount: m)
        let scaleFits = configuration.scaleMatrix.map { $0.dimension == n } ?? [1, n].contains(configuration.scale.count)
        if x.count == n && scaleFits && x.allSatisfy(\.isFinite) {
            try RequestChecks.refuseOverflowingPerturbation(
                at: x, scale: configuration.scale, scaleMatrix: configuration.scaleMatrix,
                distribution: configuration.distribution,
                scaleOption: scaleOption ?? (scaleMatrix == nil ? "--scale" : "--scale-matrix"))
        }
        let bytes = RequestChecks.estimateBytes(configuration, inputCount: n, outputCount: m, workers: workerCount) + extraBytes
        try RequestChecks.refuseBeyondPhysicalMemory(bytes, for: request, advice: advice)
    }

    /// Reads @FILE as an n × n matrix: a nested n × n array or a flat one of n·n numbers.
    static func readScaleMatrix(_ argument: String, inputCount n: Int) throws -> ScaleMatrix {
        guard argument.hasPrefix("@") else {
            throw CommandError.usage("--scale-matrix expects @FILE (a JSON or .npy array holding an n×n matrix), got '\(argument)'")
        }
        let path = String(argument.dropFirst())
        let (values, shape) = try NumberFile.readArray(path: path)
        guard let shape else {
            throw CommandError.usage("--scale-matrix '\(path)' has rows of different lengths; expected a \(n)×\(n) matrix")
        }
        guard shape == [n, n] || shape == [n * n] else {
            let described = shape.map(String.init).joined(separator: "×")
            throw CommandError.usage(
                "--scale-matrix must be \(n)×\(n) for this black box (n = \(n) inputs), but '\(path)' holds an array of shape \(described)")
        }
        return try ScaleMatrix(dimension: n, entries: values)
    }

    /// γ when neither --scale nor --scale-matrix is given.
    func implicitScale(of box: OpenedBlackBox) -> [Double] {
        scaleMatrix == nil ? box.typicalScale ?? [1] : [1]
    }

    /// The line for stderr saying that γ is the plugin's typical scale, when it is.
    func typicalScaleNote(of box: OpenedBlackBox) -> String? {
        guard scale == nil, scaleMatrix == nil, let typical = box.typicalScale else { return nil }
        return "gss: no --scale given, so γ = \(formatRow(typical)), the typical scale per input of \(box.blackBox.displayName)"
    }

    /// The scale for messages: "γ = …" or "L from FILE".
    func scaleDescription(_ configuration: SmoothingConfiguration) -> String {
        if let scaleMatrix { return "L = \(scaleMatrix.dropFirst())" }
        return "γ = " + configuration.scale.map { "\($0)" }.joined(separator: ",")
    }
}
