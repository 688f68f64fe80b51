// The cryo-electron-microscopy experiment of the paper's section 4.5 and appendix D, on the
// bundled `tem` plugin's built-in micrograph model: recover microscope parameters (voltage and
// specimen x; or voltage, focal length, x and y) from a measured micrograph by Adam on the
// smoothed L2 loss, against an MC search with as many simulator calls.
// See examples/tem-parameters/README.md.
import ArgumentParser
import ExperimentSupport
import Foundation
import GSSCore
import GSSHost
import GSSPlots

/// One method on one study at one sample count: smoothing with a distribution and a covariate,
/// or (distribution nil) the MC-search baseline with the same number of simulator calls.
struct Cell: Codable, Hashable, Sendable {
    var study: ParameterStudy
    var samples: Int
    var distribution: Distribution?
    var covariate: Covariate?

    var isSearch: Bool { distribution == nil }
    var method: String { distribution.map { "\($0.rawValue), \(covariate == .loo ? "LOO" : "no covariate")" } ?? "MC search" }
    var key: String { "\(study.rawValue), s = \(samples), \(method)" }
}

/// What makes runs comparable: a journal entry counts only under the same settings.
struct Settings: Codable, Equatable, Sendable {
    var steps: Int
    var size: Int
    var learningRate: Double
    var scaleStart: Double
    var scaleEnd: Double
    var candidateNoise: Bool
}

/// The outcome of one run.
struct RunRecord: Codable, Sendable {
    var seed: Int
    var cell: Cell
    var settings: Settings
    /// Simulator calls the method spent: steps × samples (the descent also renders its start and
    /// end once, for the record).
    var calls: Int
    /// Where the descent started (nil for MC search).
    var start: [Double]?
    /// The parameters found (normalised units).
    var result: [Double]
    /// RMSE to the ground truth, normalised units.
    var rmse: Double
    /// MSE of the result's micrograph against the measured one.
    var loss: Double
    /// CPU time of the run's thread.
    var cpuSeconds: Double
}

enum Job: Sendable {
    case descent(seed: Int, cell: Cell)
    /// One MC search per seed and study serves every sample count: its first steps × s points.
    case search(seed: Int, study: ParameterStudy)

    var name: String {
        switch self {
        case .descent(let seed, let cell): return "seed \(seed), \(cell.key)"
        case .search(let seed, let study): return "seed \(seed), \(study.rawValue), MC search"
        }
    }
}

@main
struct TEMParameters: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tem-parameters",
        abstract: "Appendix D's TEM experiment on the built-in micrograph model: RMSE of recovered microscope parameters per method.")

    @Option(help: "Number of seeds (problems per study), 0..<seeds.")
    var seeds = 20

    @Option(help: "Adam steps per descent.")
    var steps = 200

    @Option(parsing: .upToNextOption, help: "Samples per step to compare (the MC search gets steps × samples points).")
    var samples: [Int] = [9, 25, 36]

    @Option(help: "Micrograph width and height in pixels; the field of view stays 60 nm.")
    var size = 200

    @Option(help: "Adam's first learning rate (cosine-annealed), in normalised units.")
    var learningRate = 0.2

    @Option(help: "Smoothing scale γ at the first step (normalised units; decays exponentially).")
    var scaleStart = 0.5

    @Option(help: "Smoothing scale γ at the last step.")
    var scaleEnd = 0.05

    @Flag(help: "Simulate the candidates with shot noise too (default: the expected micrograph).")
    var candidateNoise = false

    @Option(parsing: .upToNextOption, help: "Studies to run: 2, 4 or both.")
    var parameters: [Int] = [2, 4]

    @Option(help: "Seeds start here (tuning seeds kept apart from the reported ones).")
    var firstSeed = 0

    @Option(help: "Worker threads (one run per thread). Default: all cores.")
    var threads: Int?

    @Option(help: "Folder for the results: runs.jsonl (the journal; finished runs are not repeated), results.md, figures.")
    var out = "docs/tem-parameters"

    static let betas = (0.5, 0.9)
    static let distributions: [Distribution] = [.gaussian, .laplace, .triangular]
    static let covariates: [Covariate] = [.loo, .none]

    var settings: Settings {
        Settings(steps: steps, size: size, learningRate: learningRate, scaleStart: scaleStart, scaleEnd: scaleEnd, candidateNoise: candidateNoise)
    }

    var studies: [ParameterStudy] { parameters.map { $0 == 2 ? .twoParameters : .fourParameters } }

    var seedRange: Range<Int> { firstSeed..<(firstSeed + seeds) }

    /// Every cell of the comparison, the MC search included.
    var cells: [Cell] {
        studies.flatMap { study in
            samples.flatMap { s in
                Self.distributions.flatMap { d in Self.covariates.map { Cell(study: study, samples: s, distribution: d, covariate: $0) } }
                    + [Cell(study: study, samples: s, distribution: nil, covariate: nil)]
            }
        }
    }

    func validate() throws {
        guard seeds >= 1, steps >= 1, size >= 16, !samples.isEmpty, samples.allSatisfy({ $0 >= 2 }),
            learningRate > 0, scaleStart > 0, scaleEnd > 0, !parameters.isEmpty, parameters.allSatisfy({ $0 == 2 || $0 == 4 })
        else {
            throw ValidationError("--seeds, --steps need at least 1, --size 16, --samples 2 each; rates and scales must be positive; --parameters takes 2 and 4")
        }
    }

    func run() throws {
        let microscope = Microscope(size: size, candidateNoise: candidateNoise)
        let workers = threads ?? ProcessInfo.processInfo.activeProcessorCount
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let journal = RunJournal<RunRecord>(path: out + "/runs.jsonl")
        let settings = settings
        var records = try journal.load().filter { $0.settings == settings }
        let done = Set(records.map { JobKey(seed: $0.seed, cell: $0.cell) })
        // Seed by seed, so an interrupted experiment leaves whole seeds; the costliest runs first.
        var jobs: [Job] = []
        for seed in seedRange {
            for study in studies {
                let searches = samples.map { Cell(study: study, samples: $0, distribution: nil, covariate: nil) }
                if searches.contains(where: { !done.contains(JobKey(seed: seed, cell: $0)) }) { jobs.append(.search(seed: seed, study: study)) }
            }
            for cell in cells.filter({ !$0.isSearch }).sorted(by: { $0.samples > $1.samples })
            where !done.contains(JobKey(seed: seed, cell: cell)) {
                jobs.append(.descent(seed: seed, cell: cell))
            }
        }
        log("tem-parameters: seeds \(seedRange.lowerBound)..<\(seedRange.upperBound) × \(cells.count) cells, \(steps) steps, "
            + "\(size)×\(size) pixels; \(records.count) runs in the journal, \(jobs.count) jobs to do on \(workers) threads")

        let started = Date()
        let chosen = (steps: steps, samples: samples)
        try runJobs(jobs, threads: workers, name: { $0.name }) { job in
            switch job {
            case .descent(let seed, let cell):
                try journal.append(Self.descend(problem: TEMProblem(study: cell.study, seed: seed), cell: cell, settings: settings, microscope: microscope))
            case .search(let seed, let study):
                for record in try Self.search(problem: TEMProblem(study: study, seed: seed), steps: chosen.steps, samples: chosen.samples,
                                              settings: settings, microscope: microscope) {
                    try journal.append(record)
                }
            }
        }
        let wall = Date().timeIntervalSince(started)
        records = try journal.load().filter { $0.settings == settings && seedRange.contains($0.seed) }
        let report = Report(records: records, cells: cells, studies: studies, samples: samples, seeds: seedRange, settings: settings,
                            jobsDone: jobs.count, wallSeconds: wall, threads: workers)
        print(report.tables)
        try report.write(to: out)
        try writeExampleFigure(records: records, microscope: microscope)
        log("wrote \(out)/results.md and its figures")
    }

    /// One descent: Adam on the smoothed MSE (the objective), projected into the feasible box.
    static func descend(problem: TEMProblem, cell: Cell, settings: Settings, microscope: Microscope) throws -> RunRecord {
        let beganCPU = threadCPUSeconds()
        let measured = try microscope.measurement(problem)
        let model = try microscope.model(problem.study, noiseSeed: problem.smoothingSeed)
        let configuration = LossMinimizationConfiguration(
            smoothing: SmoothingConfiguration(
                distribution: cell.distribution!, samples: cell.samples, sampler: problem.study.sampler(samples: cell.samples),
                covariate: cell.covariate!, seed: problem.smoothingSeed),
            target: .objective, steps: settings.steps, learningRate: settings.learningRate, beta1: betas.0, beta2: betas.1,
            scaleStart: [settings.scaleStart], scaleEnd: [settings.scaleEnd], feasibleBox: problem.study.box)
        let result = try SmoothedLossMinimizer(configuration: configuration, threads: 1)
            .minimize(model, loss: .meanSquaredError(target: measured), from: problem.start)
        return RunRecord(
            seed: problem.seed, cell: cell, settings: settings, calls: settings.steps * cell.samples, start: problem.start,
            result: result.x, rmse: problem.study.rmse(result.x), loss: result.finalLoss, cpuSeconds: threadCPUSeconds() - beganCPU)
    }

    /// The baseline: uniform points in the feasible box, the one whose micrograph has the lowest
    /// MSE wins; for every sample count s, among the first steps × s points.
    static func search(problem: TEMProblem, steps: Int, samples: [Int], settings: Settings, microscope: Microscope) throws -> [RunRecord] {
        let beganCPU = threadCPUSeconds()
        let measured = try microscope.measurement(problem)
        let mse = DifferentiableLoss.meanSquaredError(target: measured)
        let model = try microscope.model(problem.study, noiseSeed: problem.smoothingSeed)
        let evaluator = try model.makeEvaluators(count: 1)[0]
        let box = problem.study.box, n = box.dimension, m = model.outputCount
        let generator = Philox4x32(seed: problem.searchSeed)
        let budgets = samples.map { steps * $0 }
        var best: (loss: Double, x: [Double]) = (.infinity, [])
        var records: [RunRecord] = []
        var evaluated = 0
        let batch = 16
        var images = [Double](repeating: 0, count: batch * m)
        while evaluated < budgets.max()! {
            let rows = min(batch, budgets.max()! - evaluated)
            let points = (0..<rows).map { r in
                (0..<n).map { j in
                    box.lower[j] + (box.upper[j] - box.lower[j]) * .openUnit(bits: generator.bits(stream: UInt32(j), index: UInt64(evaluated + r)).0)
                }
            }
            try evaluator.evaluate(points.flatMap { $0 }, rows: rows, into: &images)
            for r in 0..<rows {
                let loss = mse.value(Array(images[(r * m)..<((r + 1) * m)]))
                if loss < best.loss { best = (loss, points[r]) }
                evaluated += 1
                for (s, budget) in zip(samples, budgets) where budget == evaluated {
                    records.append(RunRecord(
                        seed: problem.seed, cell: Cell(study: problem.study, samples: s, distribution: nil, covariate: nil),
                        settings: settings, calls: budget, start: nil, result: best.x, rmse: problem.study.rmse(best.x), loss: best.loss,
                        cpuSeconds: threadCPUSeconds() - beganCPU))
                }
            }
        }
        return records
    }

    /// For the first seed of each study: the measured micrograph, the start, and the results of
    /// the best smoothing configuration and of the MC search at the largest sample count.
    func writeExampleFigure(records: [RunRecord], microscope: Microscope) throws {
        guard let s = samples.max() else { return }
        var rows: [[ImageGridFigure.Cell]] = []
        let report = Report(records: records, cells: cells, studies: studies, samples: samples, seeds: seedRange, settings: settings,
                            jobsDone: 0, wallSeconds: 0, threads: 1)
        for study in studies {
            let problem = TEMProblem(study: study, seed: seedRange.lowerBound)
            guard let bestCell = report.bestSmoothingCell(study: study, samples: s),
                let descent = records.first(where: { $0.cell == bestCell && $0.seed == problem.seed }),
                let search = records.first(where: { $0.cell.study == study && $0.cell.isSearch && $0.cell.samples == s && $0.seed == problem.seed })
            else { continue }
            let model = try microscope.model(study, noiseSeed: problem.smoothingSeed)
            func cell(_ x: [Double], _ caption: String) throws -> ImageGridFigure.Cell {
                ImageGridFigure.Cell(image: GrayscaleImage(width: size, height: size, values: try model.output(at: x)), caption: caption)
            }
            func describe(_ x: [Double]) -> String {
                String(format: "%.0f kV", 100 * x[0]) + zip(study.names.dropFirst(), x.dropFirst()).map { String(format: ", %.2f", $1) }.joined()
            }
            rows.append([
                ImageGridFigure.Cell(image: GrayscaleImage(width: size, height: size, values: try microscope.measurement(problem)),
                                     caption: "\(study.rawValue): measured (300 kV)"),
                try cell(problem.start, "start: " + describe(problem.start)),
                try cell(descent.result, String(format: "%@: RMSE %.3f", bestCell.method, descent.rmse)),
                try cell(search.result, String(format: "MC search: RMSE %.3f", search.rmse)),
            ])
        }
        let grid = ImageGridFigure(
            title: "Seed \(seedRange.lowerBound), s = \(s): measured micrograph, start, best smoothing result, MC-search result",
            columnTitles: ["measured", "start", "smoothing", "MC search"], rows: rows, pixelSize: max(1, 200 / Double(size)))
        try grid.svg().write(toFile: out + "/examples.svg", atomically: true, encoding: .utf8)
    }
}

struct JobKey: Hashable, Sendable {
    let seed: Int
    let cell: Cell
}
