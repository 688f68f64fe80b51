// The Utah-teapot camera-pose experiment of the paper's appendix D, on the bundled hard renderer:
// for every seed a ground-truth camera and a perturbed start; for every configuration (samples,
// distribution, sampler, smoothing of the algorithm or of the objective) 1,000 Adam steps on
// smoothed gradients; success = the final viewing direction within 5° of the truth.
// See examples/teapot-pose/README.md.
import ArgumentParser
import ExperimentSupport
import Foundation
import GSSCore
import GSSHost
import GSSPlots

/// One configuration of the comparison (LOO covariate throughout, as in the paper's best settings).
struct Cell: Codable, Hashable, Sendable {
    var samples: Int
    var distribution: Distribution
    /// mc, or the RQMC sampler for this sample count.
    var sampler: SamplingStrategy
    var target: SmoothingTarget

    var isRQMC: Bool { sampler != .mc }
    var key: String { "s\(samples) \(distribution.rawValue) \(sampler.rawValue) \(target.rawValue)" }

    /// RQMC: the 2⁴ Cartesian grid jittered per cell for s = 16 (the paper's advice in low
    /// dimension), Owen-scrambled Sobol' points for s = 64 (64 is not k⁴, so no grid exists).
    static func rqmcSampler(samples: Int) -> SamplingStrategy {
        let k = Int((Double(samples).squareRoot().squareRoot()).rounded())
        return k * k * k * k == samples ? .rqmcCartesian : .sobol
    }
}

/// The outcome of one optimisation.
struct RunRecord: Codable, Sendable {
    var seed: Int
    var cell: Cell
    var steps: Int
    var size: Int
    var truth: CameraPose
    var start: CameraPose
    var result: CameraPose
    /// Degrees between the result's and the truth's viewing directions.
    var angleError: Double
    var success: Bool
    var initialLoss: Double
    var finalLoss: Double
    /// Wall time of the run.
    var seconds: Double
    /// CPU time of the run's thread (the cost, unaffected by other load on the machine).
    var cpuSeconds: Double
}

@main
struct TeapotPose: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teapot-pose",
        abstract: "Appendix D's teapot camera-pose experiment on the hard renderer: success rates per configuration.")

    @Option(help: "Number of seeds (pose problems), 0..<seeds.")
    var seeds = 64

    @Option(help: "Adam steps per run.")
    var steps = 1000

    @Option(parsing: .upToNextOption, help: "Sample counts to compare.")
    var samples: [Int] = [16, 64]

    @Option(help: "Image width and height of the renderer.")
    var size = 64

    @Option(help: "Worker threads (one run per thread). Default: all cores.")
    var threads: Int?

    @Option(help: "Folder for the results: runs.jsonl (the journal; finished runs are not repeated), results.md, figures.")
    var out = "docs/teapot-pose"

    @Option(help: "How many seeds the example figure shows.")
    var exampleSeeds = 4

    static let successAngle = 5.0
    static let learningRate = 0.3
    static let betas = (0.5, 0.99)
    /// appendix D's scale diagonal (distance, azimuth°, elevation°, field of view°), before the factor.
    static let scaleBase = [0.1, 5, 5, 0.25]
    static let scaleStart = scaleBase.map { $0 * pow(10, 0.75) }
    static let scaleEnd = scaleBase.map { $0 * pow(10, -1.75) }

    var cells: [Cell] {
        samples.flatMap { s in
            [Distribution.gaussian, .logistic].flatMap { distribution in
                [Cell.rqmcSampler(samples: s), .mc].flatMap { sampler in
                    [SmoothingTarget.algorithm, .objective].map { Cell(samples: s, distribution: distribution, sampler: sampler, target: $0) }
                }
            }
        }
    }

    func validate() throws {
        guard seeds >= 1, steps >= 1, size >= 8, !samples.isEmpty, samples.allSatisfy({ $0 >= 2 }) else {
            throw ValidationError("--seeds, --steps need at least 1, --size at least 8, --samples at least 2 each")
        }
    }

    func run() throws {
        let renderer = try Self.renderer(size: size)
        let workers = threads ?? ProcessInfo.processInfo.activeProcessorCount
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let journal = RunJournal<RunRecord>(path: out + "/runs.jsonl")
        var records = try journal.load().filter { $0.steps == steps && $0.size == size }
        let done = Set(records.map { JobKey(seed: $0.seed, cell: $0.cell) })
        // Seed by seed (an interrupted experiment leaves whole seeds), the costliest runs of a seed first.
        let byCost = cells.sorted { $0.samples > $1.samples }
        let jobs = (0..<seeds).flatMap { seed in byCost.map { JobKey(seed: seed, cell: $0) } }.filter { !done.contains($0) }
        log("teapot-pose: \(seeds) seeds × \(cells.count) configurations, \(steps) steps, \(size)×\(size) lambert; "
            + "\(records.count) runs in the journal, \(jobs.count) to do on \(workers) threads")

        let started = Date()
        let settings = (steps: steps, size: size)
        try runJobs(jobs, threads: workers, name: { "seed \($0.seed), \($0.cell.key)" }) { job in
            let (record, _) = try Self.optimize(problem: PoseProblem(seed: job.seed), cell: job.cell, steps: settings.steps,
                                                size: settings.size, renderer: renderer)
            try journal.append(record)
        }
        let wall = Date().timeIntervalSince(started)
        records = try journal.load().filter { $0.steps == steps && $0.size == size }
        let report = Report(records: records, cells: cells, seeds: seeds, steps: steps, size: size, runsDone: jobs.count, wallSeconds: wall, threads: workers)
        print(report.table)
        try report.write(to: out)
        try writeExampleFigure(records: records, renderer: renderer)
        log("wrote \(out)/results.md, success-rates.svg, examples.svg, example-losses.svg")
    }

    /// The bundled renderer at size × size with Lambert shading.
    static func renderer(size: Int) throws -> PluginBlackBox {
        try PluginBlackBox(library: PluginLocator.open("renderer"), options: [
            ("width", "\(size)"), ("height", "\(size)"), ("shading", "lambert"),
        ])
    }

    /// One run of appendix D's protocol for one configuration.
    static func optimize(problem: PoseProblem, cell: Cell, steps: Int, size: Int, renderer: PluginBlackBox) throws
        -> (RunRecord, MinimizationResult)
    {
        let began = Date()
        let beganCPU = threadCPUSeconds()
        let target = try renderer.output(at: problem.truth.input, label: "the truth")
        let configuration = LossMinimizationConfiguration(
            smoothing: SmoothingConfiguration(
                distribution: cell.distribution, samples: cell.samples, sampler: cell.sampler, covariate: .loo,
                seed: problem.smoothingSeed),
            target: cell.target, steps: steps, learningRate: learningRate, beta1: betas.0, beta2: betas.1,
            scaleStart: scaleStart, scaleEnd: scaleEnd)
        let result = try SmoothedLossMinimizer(configuration: configuration, threads: 1)
            .minimize(renderer, loss: .meanSquaredError(target: target), from: problem.start.input)
        let pose = CameraPose(result.x)
        let error = pose.angle(to: problem.truth)
        let record = RunRecord(
            seed: problem.seed, cell: cell, steps: steps, size: size, truth: problem.truth, start: problem.start, result: pose,
            angleError: error, success: error < successAngle, initialLoss: result.initialLoss, finalLoss: result.finalLoss,
            seconds: Date().timeIntervalSince(began), cpuSeconds: threadCPUSeconds() - beganCPU)
        return (record, result)
    }

    /// Seeds that show the range of outcomes for a configuration and its objective twin: the
    /// first that only the algorithm solves, only the objective, both, neither; then the lowest others.
    func exampleSeedList(records: [RunRecord], algorithm: Cell, objective: Cell) -> [Int] {
        func success(_ cell: Cell, _ seed: Int) -> Bool? { records.first { $0.cell == cell && $0.seed == seed }?.success }
        var chosen: [Int] = []
        for (a, o) in [(true, false), (false, true), (true, true), (false, false)] {
            if let seed = (0..<seeds).first(where: { success(algorithm, $0) == a && success(objective, $0) == o }) { chosen.append(seed) }
        }
        chosen += (0..<seeds).filter { !chosen.contains($0) }
        return Array(chosen.prefix(exampleSeeds))
    }

    /// Target, start and result of a few seeds under the best configuration and its
    /// objective-smoothing twin, re-run (deterministically) to get their loss curves too.
    func writeExampleFigure(records: [RunRecord], renderer: PluginBlackBox) throws {
        let report = Report(records: records, cells: cells, seeds: seeds, steps: steps, size: size, runsDone: 0, wallSeconds: 0, threads: 1)
        guard let best = report.bestAlgorithmCell else { return }
        var twin = best
        twin.target = .objective
        var rows: [[ImageGridFigure.Cell]] = []
        var curves: [LossCurveFigure.Series] = []
        func image(_ values: [Double]) -> GrayscaleImage { GrayscaleImage(width: size, height: size, values: values) }
        let exampleSeedList = exampleSeedList(records: records, algorithm: best, objective: twin)
        for seed in exampleSeedList {
            let problem = PoseProblem(seed: seed)
            let truthImage = try renderer.output(at: problem.truth.input, label: "the truth")
            var row = [ImageGridFigure.Cell(image: image(truthImage), caption: "seed \(seed): target")]
            var startImage: [Double] = []
            var results: [ImageGridFigure.Cell] = []
            for cell in [best, twin] {
                let (record, result) = try Self.optimize(problem: problem, cell: cell, steps: steps, size: size, renderer: renderer)
                // A build reproduces its own runs bit for bit (any thread, any order); a journal written
                // by another build may differ in the last bits of its sums, so a mismatch is reported.
                if let logged = records.first(where: { $0.seed == seed && $0.cell == cell }), logged.result != record.result {
                    FileHandle.standardError.write(Data(
                        ("teapot-pose: seed \(seed), \(cell.key): the re-run ended at \(record.result), the journal at "
                            + "\(logged.result) (a journal from another build of gss); the figure shows the re-run\n").utf8))
                }
                startImage = result.initialOutput
                let mark = record.success ? "✓" : "✗"
                results.append(ImageGridFigure.Cell(
                    image: image(result.finalOutput), caption: String(format: "%@ %.1f° %@", cell.target.rawValue, record.angleError, mark)))
                // The unsmoothed loss along the path: comparable between the two kinds of smoothing.
                let mse = DifferentiableLoss.meanSquaredError(target: truthImage)
                let losses = try result.history.map { try mse.value(renderer.output(at: $0.x, label: "x_\($0.step)")) }
                curves.append(LossCurveFigure.Series(
                    label: seed == exampleSeedList.first ? "smoothing the \(cell.target.rawValue)" : "", losses: losses,
                    color: LossCurveFigure.palette[cell.target == .algorithm ? 0 : 1]))
            }
            row.append(ImageGridFigure.Cell(image: image(startImage), caption: String(format: "start (%.0f° off)", problem.perturbation)))
            rows.append(row + results)
        }
        let grid = ImageGridFigure(
            title: "Teapot pose, \(best.distribution.rawValue) \(best.sampler.rawValue) s = \(best.samples): target, start, results",
            columnTitles: ["target", "start", "algorithm", "objective"], rows: rows, pixelSize: Double(max(2, 128 / size)))
        try grid.svg().write(toFile: out + "/examples.svg", atomically: true, encoding: .utf8)
        var lossFigure = LossCurveFigure(
            title: "Unsmoothed loss along the descent, seeds \(exampleSeedList.map(String.init).joined(separator: ", ")) (\(best.distribution.rawValue) \(best.sampler.rawValue) s = \(best.samples))",
            series: curves)
        lossFigure.yLabel = "MSE of f(x_t) against the target"
        try lossFigure.svg().write(toFile: out + "/example-losses.svg", atomically: true, encoding: .utf8)
    }
}

struct JobKey: Hashable, Sendable {
    let seed: Int
    let cell: Cell
}
