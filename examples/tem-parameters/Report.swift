import Foundation
import GSSCore
import GSSPlots

/// RMSE to the ground truth per study, method and sample count (mean ± standard deviation over
/// seeds, as the paper reports), paired comparisons, the cost, and the figures.
struct Report {
    let records: [RunRecord]
    let cells: [Cell]
    let studies: [ParameterStudy]
    let samples: [Int]
    let seeds: Range<Int>
    let settings: Settings
    /// Jobs done by this invocation (the rest came from the journal), their wall time and threads.
    let jobsDone: Int
    let wallSeconds: Double
    let threads: Int

    func runs(_ cell: Cell) -> [RunRecord] { records.filter { $0.cell == cell && seeds.contains($0.seed) } }

    func rmse(_ cell: Cell, seed: Int) -> Double? { runs(cell).first { $0.seed == seed }?.rmse }

    /// Mean, sample standard deviation and count of the RMSE of a cell over the seeds.
    func summary(_ cell: Cell) -> (mean: Double, sd: Double, count: Int) {
        let values = runs(cell).map(\.rmse)
        guard !values.isEmpty else { return (.nan, .nan, 0) }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.count > 1 ? values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1) : 0
        return (mean, variance.squareRoot(), values.count)
    }

    func cell(_ study: ParameterStudy, _ s: Int, _ distribution: Distribution?, _ covariate: Covariate?) -> Cell {
        Cell(study: study, samples: s, distribution: distribution, covariate: covariate)
    }

    /// The smoothing configuration with the lowest mean RMSE at this sample count.
    func bestSmoothingCell(study: ParameterStudy, samples s: Int) -> Cell? {
        cells.filter { $0.study == study && $0.samples == s && !$0.isSearch && summary($0).count > 0 }
            .min { summary($0).mean < summary($1).mean }
    }

    /// Rows: distribution × covariate, then MC search; columns: sample counts (with the calls).
    func table(_ study: ParameterStudy) -> String {
        var lines = ["| method | " + samples.map { "s = \($0) (\(settings.steps * $0) calls)" }.joined(separator: " | ") + " |"]
        lines.append("|---|" + String(repeating: "---|", count: samples.count))
        let methods: [(Distribution?, Covariate?)] =
            TEMParameters.distributions.flatMap { d in TEMParameters.covariates.map { (d, $0) } } + [(nil, nil)]
        for (distribution, covariate) in methods {
            let entries = samples.map { s -> String in
                let (mean, sd, count) = summary(cell(study, s, distribution, covariate))
                guard count > 0 else { return "–" }
                let best = bestSmoothingCell(study: study, samples: s) == cell(study, s, distribution, covariate)
                let text = String(format: "%.3f ± %.3f", mean, sd)
                return best ? "**\(text)**" : text
            }
            lines.append("| \(cell(study, samples[0], distribution, covariate).method) | " + entries.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    var tables: String {
        studies.map { "\($0.rawValue) (\($0.names.joined(separator: ", "))), RMSE in normalised units, mean ± sd over \(seedCount($0)) seeds:\n\n" + table($0) }
            .joined(separator: "\n\n")
    }

    func seedCount(_ study: ParameterStudy) -> Int { Set(records.filter { $0.cell.study == study }.map(\.seed)).count }

    /// Two-sided exact binomial test of a wins against b wins under p = ½.
    func signTest(_ a: Int, _ b: Int) -> Double {
        let n = a + b
        guard n > 0 else { return 1 }
        var tail = 0.0
        for i in 0...min(a, b) { tail += exp(lgamma(Double(n + 1)) - lgamma(Double(i + 1)) - lgamma(Double(n - i + 1)) - Double(n) * log(2)) }
        return min(1, 2 * tail)
    }

    func pValue(_ p: Double) -> String { p < 0.001 ? "< 0.001" : String(format: "%.3f", p) }

    /// How often the first of two methods ends closer to the truth on the same seed.
    func pairedWins(_ pairs: [(Cell, Cell)]) -> (first: Int, second: Int) {
        var first = 0, second = 0
        for (a, b) in pairs {
            for seed in seeds {
                guard let x = rmse(a, seed: seed), let y = rmse(b, seed: seed) else { continue }
                if x < y { first += 1 } else if y < x { second += 1 }
            }
        }
        return (first, second)
    }

    /// Paired by seed: LOO against no covariate (pooled over distributions and sample counts), and
    /// each distribution with LOO against the MC search at the same number of calls.
    var comparisons: String {
        var lines = ["| study | comparison (paired by seed) | first closer | second closer | sign-test p |", "|---|---|---|---|---|"]
        for study in studies {
            let covariatePairs = samples.flatMap { s in
                TEMParameters.distributions.map { (cell(study, s, $0, .loo), cell(study, s, $0, Covariate.none)) }
            }
            let (loo, plain) = pairedWins(covariatePairs)
            lines.append("| \(study.rawValue) | LOO vs no covariate (all distributions and s) | \(loo) | \(plain) | \(pValue(signTest(loo, plain))) |")
            for distribution in TEMParameters.distributions {
                let (smooth, search) = pairedWins(samples.map { (cell(study, $0, distribution, .loo), cell(study, $0, nil, nil)) })
                lines.append("| \(study.rawValue) | \(distribution.rawValue) LOO vs MC search (all s) | \(smooth) | \(search) | \(pValue(signTest(smooth, search))) |")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The TMV model's helical pitch (Plugins/TEM/tem_builtin.c): the rod nearly repeats along y.
    static let helicalPitch = 2.3

    /// Where the runs end, pooled over the sample counts: how often within RMSE 0.1 of the truth,
    /// the median RMSE, and — with 4 parameters — the two ways they miss: y a helical pitch from
    /// the truth, and the focal length (within 0.2 mm or not).
    var outcomes: String {
        var lines = [
            "| study | method | RMSE < 0.1 | median RMSE | y within 0.2 nm of ±2.3 nm | focal length within 0.2 mm of 3 mm |",
            "|---|---|---|---|---|---|",
        ]
        let methods: [(Distribution?, Covariate?)] =
            TEMParameters.distributions.flatMap { d in TEMParameters.covariates.map { (d, $0) } } + [(nil, nil)]
        for study in studies {
            for (distribution, covariate) in methods {
                let pooled = samples.flatMap { runs(cell(study, $0, distribution, covariate)) }
                guard !pooled.isEmpty else { continue }
                func share(_ predicate: (RunRecord) -> Bool) -> String {
                    let k = pooled.filter(predicate).count
                    return String(format: "%d/%d = %.0f%%", k, pooled.count, 100 * Double(k) / Double(pooled.count))
                }
                let sorted = pooled.map(\.rmse).sorted()
                let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
                let four = study == .fourParameters
                lines.append("| \(study.rawValue) | \(cell(study, samples[0], distribution, covariate).method) | \(share { $0.rmse < 0.1 }) | "
                    + String(format: "%.3f", median) + " | "
                    + (four ? share { abs(abs($0.result[3]) - Self.helicalPitch) < 0.2 } : "–") + " | "
                    + (four ? share { abs($0.result[1] - 3) < 0.2 } : "–") + " |")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// CPU seconds per descent and per search (one thread), and the total.
    var costs: String {
        var parts: [String] = []
        for study in studies {
            for s in samples {
                let times = records.filter { $0.cell.study == study && $0.cell.samples == s && !$0.cell.isSearch && seeds.contains($0.seed) }
                    .map(\.cpuSeconds)
                guard !times.isEmpty else { continue }
                parts.append(String(format: "%@ s = %d: %.1f s", study.rawValue, s, times.reduce(0, +) / Double(times.count)))
            }
        }
        // A search record's time is cumulative up to its budget: the largest budget's is the search's.
        let largest = samples.max() ?? 0
        let searchTotal = records.filter { $0.cell.isSearch && $0.cell.samples == largest && seeds.contains($0.seed) }.map(\.cpuSeconds).reduce(0, +)
        let descentTotal = records.filter { !$0.cell.isSearch && seeds.contains($0.seed) }.map(\.cpuSeconds).reduce(0, +)
        let total = searchTotal + descentTotal
        return "mean CPU time per descent: " + parts.joined(separator: ", ")
            + String(format: "; %.0f CPU-seconds (%.2f CPU-hours) in all, %.0f of them for the MC searches", total, total / 3600, searchTotal)
    }

    /// RMSE against samples per step, like the paper's Figure 10: a line per distribution
    /// (marker: none gaussian, × laplace, △ triangular) and covariate (colour; dashed: none), and
    /// the MC search; error bars: mean ± 1.96 standard errors over the seeds.
    func chart(_ study: ParameterStudy) -> LineChart {
        let markers: [Distribution: LineChart.Marker] = [.gaussian: .none, .laplace: .cross, .triangular: .triangle]
        func points(_ distribution: Distribution?, _ covariate: Covariate?) -> [LineChart.Point] {
            samples.compactMap { s in
                let (mean, sd, count) = summary(cell(study, s, distribution, covariate))
                guard count > 0 else { return nil }
                let half = 1.96 * sd / Double(count).squareRoot()
                return LineChart.Point(x: Double(s), y: mean, interval: (mean - half)...(mean + half))
            }
        }
        var series: [LineChart.Series] = []
        for covariate in TEMParameters.covariates {
            for distribution in TEMParameters.distributions {
                series.append(LineChart.Series(
                    label: "\(distribution.rawValue), \(covariate == .loo ? "LOO" : "none")", points: points(distribution, covariate),
                    color: covariate == .loo ? LossCurveFigure.palette[0] : LossCurveFigure.palette[1],
                    marker: markers[distribution] ?? .circle, dashed: covariate == .none))
            }
        }
        series.append(LineChart.Series(label: "MC search (same calls)", points: points(nil, nil), color: "#000000", marker: .square))
        var chart = LineChart(
            title: "TEM, \(study.rawValue): RMSE to the truth after \(settings.steps) steps (\(seedCount(study)) seeds)",
            series: series, xLabel: "samples per step (MC search: steps × samples points)", yLabel: "RMSE (normalised units)",
            xTicks: samples.map(Double.init))
        chart.logarithmicY = true  // RMSEs span orders of magnitude
        return chart
    }

    func figureName(_ study: ParameterStudy) -> String { "rmse-\(study == .twoParameters ? 2 : 4)-parameters.svg" }

    func write(to folder: String) throws {
        let figures = studies.map { "![\($0.rawValue)](\(figureName($0)))" }.joined(separator: "\n\n")
        let invocation = jobsDone > 0
            ? String(format: " This invocation ran %d jobs in %.0f s of wall time on %d threads.", jobsDone, wallSeconds, threads) : ""
        let markdown = """
            # TEM microscope parameters: results

            Seeds \(seeds.lowerBound)..<\(seeds.upperBound); \(settings.steps) Adam steps (β = (0.5, 0.9), learning rate \
            \(settings.learningRate) cosine-annealed), smoothing scale \(settings.scaleStart) → \(settings.scaleEnd) (normalised \
            units, exponential decay), smoothing of the loss (MSE to the measured micrograph); \(settings.size)×\(settings.size) \
            micrographs of a 60 nm field; candidates simulated \(settings.candidateNoise ? "with" : "without") shot noise, the \
            measured micrograph with it. RQMC: rqmc-cartesian (2 parameters), rqmc-latin (4 parameters). Entries: RMSE to \
            the ground truth (voltage in 100 kV, focal length in mm, x and y in nm), mean ± standard deviation over seeds; the \
            best smoothing configuration per column in bold. The MC search draws steps × s uniform points in the feasible box.

            \(tables)

            Where the runs end (pooled over the sample counts):

            \(outcomes)

            Paired comparisons (a pair: the same seed, sample count and problem):

            \(comparisons)

            Cost: \(costs).\(invocation)

            \(figures)

            ![examples](examples.svg)

            """
        try markdown.write(toFile: folder + "/results.md", atomically: true, encoding: .utf8)
        for study in studies {
            try chart(study).svg().write(toFile: folder + "/" + figureName(study), atomically: true, encoding: .utf8)
        }
    }
}
