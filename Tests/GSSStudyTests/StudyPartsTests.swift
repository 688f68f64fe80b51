import Foundation
import GSSCore
import GSSPlots
import Testing

@testable import GSSStudy

@Suite("Variance study: statistics, plan, journal, oracle, outputs")
struct StudyPartsTests {
    @Test("Student t quantiles match tables; intervals use them")
    func studentT() {
        let table: [(Double, Double)] = [(1, 12.706204736), (2, 4.302652730), (3, 3.182446305), (10, 2.228138852), (63, 1.998340522), (1e6, 1.959966)]
        for (nu, expected) in table {
            let q = StudentT.quantile(0.975, degreesOfFreedom: nu)
            #expect(abs(q - expected) <= 1e-6 * expected, "t(0.975, \(nu)) = \(q), expected \(expected)")
        }
        #expect(abs(StudentT.quantile(0.025, degreesOfFreedom: 5) + 2.570581836) < 1e-6)
        let interval = MeanInterval([1, 2, 3, 4])
        // mean 2.5, sd sqrt(5/3), se sqrt(5/12), t(0.975, 3) = 3.182446305.
        let half = 3.182446305 * (5.0 / 12).squareRoot()
        #expect(interval.mean == 2.5)
        #expect(abs(interval.low - (2.5 - half)) < 1e-8 && abs(interval.high - (2.5 + half)) < 1e-8)
    }

    @Test("Cartesian grids: the paper's 1000 at n = 3, exact 4^5 and 2^10, refused at n = 7 and for grids of cost cells")
    func cartesianSamples() throws {
        #expect(try StudyPlan.cartesianSamples(near: 1024, dimension: 3).get() == 1000)
        #expect(try StudyPlan.cartesianSamples(near: 1024, dimension: 5).get() == 1024)
        #expect(try StudyPlan.cartesianSamples(near: 1024, dimension: 10).get() == 1024)
        guard case .failure(let refusal) = StudyPlan.cartesianSamples(near: 1024, dimension: 7) else {
            Issue.record("n = 7 must be refused")
            return
        }
        #expect(refusal.message.contains("128 = 2^7") && refusal.message.contains("2187 = 3^7"))
        guard case .failure(let wide) = StudyPlan.cartesianSamples(near: 1024, dimension: 144) else {
            Issue.record("144 inputs must be refused")
            return
        }
        #expect(wide.message.contains("2^144"))
    }

    @Test("the plan has 30 configurations per distribution; the samplers' refusals become skip reasons")
    func plan() {
        let full = StudyPlan.configurations(problem: .sorting, size: 5, distribution: .laplace, samples: 1024)
        #expect(full.count == 30 && full.allSatisfy { $0.skippedReason == nil })
        #expect(Set(full.map(\.configuration)).count == 30)
        let atThree = StudyPlan.configurations(problem: .sorting, size: 3, distribution: .gaussian, samples: 1024)
        #expect(atThree.filter { $0.configuration.sampler == .rqmcCartesian }.allSatisfy { $0.configuration.samples == 1000 })
        // 729 = 9^3: an odd k, so mirrored cells cannot pair up; and 729 is no power of two for Sobol'.
        let odd = StudyPlan.configurations(problem: .sorting, size: 3, distribution: .gaussian, samples: 729)
        let skipped = odd.filter { $0.skippedReason != nil }
        #expect(skipped.filter { $0.configuration.sampler == .rqmcCartesian }.allSatisfy { $0.configuration.antithetic })
        #expect(skipped.filter { $0.configuration.sampler == .rqmcCartesian }.count == 3)
        #expect(skipped.filter { $0.configuration.sampler == .sobol }.count == 6)
        #expect(skipped.filter { $0.configuration.sampler == .mc }.count == 3)  // odd s cannot be split into pairs
        #expect(skipped.allSatisfy { !($0.skippedReason ?? "").isEmpty })
        let paths = StudyPlan.configurations(problem: .shortestPath, size: 8, distribution: .gaussian, samples: 1024)
        #expect(paths.filter { $0.skippedReason != nil }.map(\.configuration.sampler) == Array(repeating: .rqmcCartesian, count: 6))
    }

    @Test("the fixed inputs do not change and do not depend on anything but the size")
    func inputs() {
        let x = StudyProblem.sorting.input(size: 5)
        #expect(x == StudyProblem.sorting.input(size: 5) && x.count == 5 && Set(x).count == 5)
        #expect(Array(StudyProblem.sorting.input(size: 7).prefix(5)) == x)
        let grid = StudyProblem.shortestPath.input(size: 12)
        #expect(grid.count == 144 && grid.allSatisfy { $0 >= 0.5 && $0 < 5 })
    }

    @Test("the journal round-trips entries bit for bit and drops a torn last line")
    func journal() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gss-journal-\(getpid()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try? FileManager.default.removeItem(atPath: path)
        let configuration = StudyConfiguration(
            problem: .sorting, size: 5, distribution: .cauchy, sampler: .sobol, covariate: .loo, antithetic: true, samples: 1024)
        let errors = [0.1, 1.0 / 3, 0.2 + 1e-17, 0.123456789012345678]
        let interval = MeanInterval(errors)
        let entry = JournalEntry(
            configuration: configuration, repeats: 4, scale: 0.7, seed: .max, inputDigest: "abc", oracleDigest: "def",
            oracleMethod: .sobolLOO, oracleSamples: 1 << 20, oracleError: 1.5e-4, errors: errors,
            meanL2Error: interval.mean, ci95Low: interval.low, ci95High: interval.high)
        do {
            let journal = try StudyJournal(path: path)
            try journal.append(entry)
        }
        // A torn line, as a kill in the middle of a write would leave.
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data("{\"ci95High\":0.3,\"configu".utf8))
        handle.closeFile()
        let reopened = try StudyJournal(path: path)
        #expect(reopened.count == 1)
        #expect(reopened.entry(for: entry.key) == entry)
        var second = entry
        second.configuration.antithetic = false
        try reopened.append(second)
        let again = try StudyJournal(path: path)
        #expect(again.count == 2 && again.entry(for: second.key) == second)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.split(separator: "\n").count == 2 && text.hasSuffix("\n"))
    }

    /// The Sobol' oracle's error estimate is honest: at n = 4, where the exact Jacobian exists,
    /// its actual distance to it is of the size it reports.
    @Test("the Sobol' LOO oracle's reported error matches its actual distance to the exact Jacobian", arguments: [Distribution.logistic, .cauchy])
    func oracleErrorEstimate(distribution: Distribution) throws {
        let box = try StudyProblem.sorting.openBlackBox(size: 4)
        let x = StudyProblem.sorting.input(size: 4)
        let exact = OracleBuilder.exact(problem: .sorting, size: 4, distribution: distribution, scale: 1, x: x, seed: 0)
        #expect(exact.error < 1e-8, "exact oracle error \(exact.error)")
        var ratios: [Double] = []
        for seed in UInt64(0)..<4 {
            let oracle = try OracleBuilder.sobolLOO(
                problem: .sorting, size: 4, distribution: distribution, scale: 1, x: x, blackBox: box,
                samples: 1 << 14, scrambles: 16, seed: seed, threads: 2)
            ratios.append(frobeniusDistance(oracle.jacobian, exact.jacobian) / oracle.error)
        }
        // E‖Ĵ − J‖² = (reported error)², so the ratio's RMS is about 1 (from 4 draws: within [0.4, 2]).
        let rms = (ratios.reduce(0) { $0 + $1 * $1 } / Double(ratios.count)).squareRoot()
        #expect(rms > 0.4 && rms < 2, "actual / reported oracle error: \(ratios)")
    }

    @Test("ratios of mean errors: paired by seed, exact for proportional errors, wider for noisy ones")
    func errorRatios() throws {
        func entry(_ errors: [Double]) -> JournalEntry {
            let interval = MeanInterval(errors)
            return JournalEntry(
                configuration: StudyConfiguration(
                    problem: .sorting, size: 3, distribution: .gaussian, sampler: .mc, covariate: .none, antithetic: false,
                    samples: 8),
                repeats: errors.count, scale: 1, seed: 0, inputDigest: "", oracleDigest: "", oracleMethod: .exact,
                oracleSamples: 0, oracleError: 0, errors: errors, meanL2Error: interval.mean, ci95Low: interval.low,
                ci95High: interval.high)
        }
        let base = [0.3, 0.5, 0.2, 0.9, 0.4]
        // Proportional per seed: the ratio is known exactly, whatever the spread of each.
        let double = try #require(ErrorRatio(entry(base.map { 2 * $0 }), over: entry(base)))
        #expect(abs(double.ratio - 2) < 1e-12 && abs(double.high - double.low) < 1e-12)
        let noisy = try #require(ErrorRatio(entry([0.6, 0.9, 0.5, 1.9, 0.7]), over: entry(base)))
        #expect(noisy.low < noisy.ratio && noisy.ratio < noisy.high && noisy.low > 1.5 && noisy.high < 2.6)
        #expect(ErrorRatio(entry(base), over: nil) == nil)
    }

    @Test("heat-map colours: darkest for the smallest value of a panel, log scale; missing cells drawn grey")
    func heatmap() {
        let panel = HeatmapPanel(
            title: "t", rowLabels: ["a"], columnLabels: ["x", "y", "z", "w"], values: [[0.01, 0.1, 1, nil]])
        #expect(panel.darkness(of: 0.01) == 1 && panel.darkness(of: 1) == 0)
        #expect(abs(panel.darkness(of: 0.1) - 0.5) < 1e-12)
        let svg = HeatmapFigure(title: "T & <x>", sections: [("s", [panel])]).renderSVG()
        #expect(svg.contains("T &amp; &lt;x&gt;") && svg.contains(">0.0100<") && svg.contains(">1.00<") && svg.contains("—"))
        #expect(svg.contains(Colormap.blues.color(at: 1).hex) && svg.contains(Colormap.blues.color(at: 0).hex))
        #expect(formatSignificant(0.012345) == "0.0123" && formatSignificant(1.5e-5) == "1.50e-05")
    }
}
