import Foundation
import GSSCore
import GSSPlots

/// Success rates per configuration with 95% Wilson intervals, the algorithm-vs-objective
/// comparison paired by seed, and the files that show them.
struct Report {
    let records: [RunRecord]
    let cells: [Cell]
    let seeds: Int
    let steps: Int
    let size: Int
    /// Runs done by this invocation (the rest came from the journal), their wall time and threads.
    let runsDone: Int
    let wallSeconds: Double
    let threads: Int

    /// The records of one configuration, seeds 0..<seeds only.
    func runs(_ cell: Cell) -> [RunRecord] {
        records.filter { $0.cell == cell && $0.seed < seeds }
    }

    func rate(_ cell: Cell) -> (successes: Int, trials: Int, interval: ClosedRange<Double>) {
        let runs = runs(cell)
        let k = runs.filter(\.success).count
        return (k, runs.count, wilsonInterval(successes: k, trials: runs.count))
    }

    /// The smoothing-of-the-algorithm configuration with the most successes (ties: fewer samples first).
    var bestAlgorithmCell: Cell? {
        cells.filter { $0.target == .algorithm && !runs($0).isEmpty }.max { rate($0).successes < rate($1).successes }
    }

    static func samplerName(_ cell: Cell) -> String { cell.isRQMC ? "RQMC (\(cell.sampler.rawValue))" : "MC" }

    func entry(_ cell: Cell) -> String {
        let (k, n, interval) = rate(cell)
        guard n > 0 else { return "–" }
        return String(format: "%d/%d = %.0f%% [%.0f, %.0f]", k, n, 100 * Double(k) / Double(n), 100 * interval.lowerBound, 100 * interval.upperBound)
    }

    var sampleCounts: [Int] { Array(Set(cells.map(\.samples))).sorted() }

    /// Rows: distribution × sampler × smoothing; columns: sample counts.
    var table: String {
        var lines = ["| distribution | sampler | smoothing | " + sampleCounts.map { "s = \($0)" }.joined(separator: " | ") + " |"]
        lines.append("|---|---|---|" + String(repeating: "---|", count: sampleCounts.count))
        for distribution in [Distribution.gaussian, .logistic] {
            for rqmc in [true, false] {
                for target in [SmoothingTarget.algorithm, .objective] {
                    let row = sampleCounts.map { s -> String in
                        guard let cell = cells.first(where: { $0.samples == s && $0.distribution == distribution && $0.isRQMC == rqmc && $0.target == target }) else { return "–" }
                        return entry(cell)
                    }
                    let sampler = rqmc ? "RQMC" : "MC"
                    lines.append("| \(distribution.rawValue) | \(sampler) | \(target.rawValue) | " + row.joined(separator: " | ") + " |")
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Per sample count, pooled over distributions and samplers: successes of algorithm vs
    /// objective smoothing on the same seeds, the discordant pairs with an exact two-sided sign
    /// test on them (McNemar's exact test), and — where both succeed — the precision: median
    /// final angle errors and how often the algorithm's is the smaller (with its sign test).
    var comparison: String {
        var lines = [
            "| samples | algorithm succeeds | objective succeeds | only algorithm | only objective | sign-test p | both succeed: median error, algorithm / objective | algorithm more precise | sign-test p |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for s in sampleCounts {
            var algorithmWins = 0, objectiveWins = 0, algorithmTotal = 0, objectiveTotal = 0, pairs = 0
            var algorithmErrors: [Double] = [], objectiveErrors: [Double] = [], algorithmMorePrecise = 0
            for cell in cells where cell.samples == s && cell.target == .algorithm {
                var twin = cell
                twin.target = .objective
                let other = Dictionary(runs(twin).map { ($0.seed, $0) }, uniquingKeysWith: { a, _ in a })
                for run in runs(cell) {
                    guard let objective = other[run.seed] else { continue }
                    pairs += 1
                    algorithmTotal += run.success ? 1 : 0
                    objectiveTotal += objective.success ? 1 : 0
                    if run.success && !objective.success { algorithmWins += 1 }
                    if !run.success && objective.success { objectiveWins += 1 }
                    if run.success && objective.success {
                        algorithmErrors.append(run.angleError)
                        objectiveErrors.append(objective.angleError)
                        if run.angleError < objective.angleError { algorithmMorePrecise += 1 }
                    }
                }
            }
            func percent(_ k: Int) -> String { String(format: "%d/%d = %.0f%%", k, pairs, 100 * Double(k) / Double(max(1, pairs))) }
            func pValue(_ p: Double) -> String { p < 0.001 ? "< 0.001" : String(format: "%.3f", p) }
            let both = algorithmErrors.count
            lines.append("| \(s) | \(percent(algorithmTotal)) | \(percent(objectiveTotal)) | \(algorithmWins) | \(objectiveWins) | "
                + "\(pValue(signTest(algorithmWins, objectiveWins))) | "
                + String(format: "%d pairs: %.2f° / %.2f°", both, median(algorithmErrors), median(objectiveErrors))
                + " | \(algorithmMorePrecise)/\(both) | \(pValue(signTest(algorithmMorePrecise, both - algorithmMorePrecise))) |")
        }
        return lines.joined(separator: "\n")
    }

    /// How much of the outcome belongs to the problem rather than the configuration: seeds that
    /// every configuration solves, that none solves, and the rest.
    var seedPattern: String {
        let bySeed = Dictionary(grouping: records.filter { $0.seed < seeds && cells.contains($0.cell) }, by: \.seed)
        let complete = bySeed.values.filter { $0.count == cells.count }
        let all = complete.filter { $0.allSatisfy(\.success) }.count
        let none = complete.filter { !$0.contains(where: \.success) }.count
        return "Of \(complete.count) seeds, \(all) are solved by all \(cells.count) configurations, \(none) by none, "
            + "\(complete.count - all - none) by some: the start (how far and where the camera is perturbed) decides most outcomes."
    }

    func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Two-sided exact binomial test of a vs b discordant pairs under p = ½.
    func signTest(_ a: Int, _ b: Int) -> Double {
        let n = a + b
        guard n > 0 else { return 1 }
        let k = min(a, b)
        var tail = 0.0
        for i in 0...k { tail += exp(lgamma(Double(n + 1)) - lgamma(Double(i + 1)) - lgamma(Double(n - i + 1)) - Double(n) * log(2)) }
        return min(1, 2 * tail)
    }

    /// Mean CPU seconds per run (one thread) by sample count and smoothing, and the total.
    var costs: String {
        var parts: [String] = []
        for s in sampleCounts {
            for target in [SmoothingTarget.algorithm, .objective] {
                let times = records.filter { $0.cell.samples == s && $0.cell.target == target && $0.seed < seeds }.map(\.cpuSeconds)
                parts.append(String(format: "s = %d %@ %.1f s", s, target.rawValue, times.reduce(0, +) / Double(max(1, times.count))))
            }
        }
        let total = records.filter { $0.seed < seeds }.map(\.cpuSeconds).reduce(0, +)
        return "CPU time per run " + parts.joined(separator: ", ") + String(format: "; %.0f CPU-seconds (%.1f CPU-hours) in all", total, total / 3600)
    }

    func chart() -> IntervalBarChart {
        var groups: [IntervalBarChart.Group] = []
        for s in sampleCounts {
            for distribution in [Distribution.gaussian, .logistic] {
                for rqmc in [true, false] {
                    let bars = [SmoothingTarget.algorithm, .objective].compactMap { target -> IntervalBarChart.Bar? in
                        guard let cell = cells.first(where: { $0.samples == s && $0.distribution == distribution && $0.isRQMC == rqmc && $0.target == target }) else { return nil }
                        let (k, n, interval) = rate(cell)
                        return IntervalBarChart.Bar(value: Double(k) / Double(max(1, n)), low: interval.lowerBound, high: interval.upperBound)
                    }
                    groups.append(IntervalBarChart.Group(label: "s=\(s)\n\(distribution.rawValue)\n\(rqmc ? "RQMC" : "MC")", bars: bars))
                }
            }
        }
        return IntervalBarChart(
            title: "Teapot camera pose: success rate (final view within 5°), \(seeds) seeds, 95% Wilson intervals",
            seriesLabels: ["smoothing the algorithm", "smoothing the objective"], groups: groups, yLabel: "success rate", axis: 0...1)
    }

    func write(to folder: String) throws {
        let markdown = """
            # Teapot camera pose: results

            \(seeds) seeds, \(steps) Adam steps each, \(size)×\(size) Lambert renders, LOO covariate; RQMC is \
            rqmc-cartesian for s = 16 (a 2⁴ grid) and sobol (Owen-scrambled) for s = 64. Success: the final \
            viewing direction within 5° of the truth. Entries: successes/seeds = rate [95% Wilson interval, %].

            \(table)

            \(seedPattern)

            Smoothing the algorithm vs the objective, paired by seed (pooled over distributions and samplers):

            \(comparison)

            Cost: \(costs).\(runsDone > 0 ? String(format: " This invocation ran %d runs in %.0f s of wall time on %d threads.", runsDone, wallSeconds, threads) : "")

            ![success rates](success-rates.svg)

            ![examples](examples.svg)

            ![loss curves](example-losses.svg)

            """
        try markdown.write(toFile: folder + "/results.md", atomically: true, encoding: .utf8)
        try chart().svg().write(toFile: folder + "/success-rates.svg", atomically: true, encoding: .utf8)
    }
}
