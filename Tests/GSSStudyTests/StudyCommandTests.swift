import Foundation
import GSSTestSupport
import Testing

/// `gss study variance` end to end: files, resume, interruption, skips, the oracle rule, usage errors.
@Suite("gss study variance", .serialized)
struct StudyCommandTests {
    /// A fresh directory for one test, removed afterwards by the caller's defer.
    static func temporaryDirectory(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gss-study-\(name)-\(getpid())")
        try? FileManager.default.removeItem(at: url)
        return url
    }

    static func csvRows(_ directory: URL) throws -> [[String: String]] {
        let text = try String(contentsOf: directory.appendingPathComponent("variance.csv"), encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        let header = lines[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        return lines.dropFirst().map { line in
            let fields = parseCSVLine(line)
            return Dictionary(uniqueKeysWithValues: zip(header, fields))
        }
    }

    /// Splits one CSV line, honouring double quotes.
    static func parseCSVLine(_ line: String) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        var previous: Character?
        for character in line {
            if character == "\"" {
                if quoted && previous == "\"" { current.append("\"") }
                quoted.toggle()
            } else if character == "," && !quoted {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
            previous = character
        }
        fields.append(current)
        return fields
    }

    static func journalLines(_ directory: URL) -> [String] {
        let text = (try? String(contentsOf: directory.appendingPathComponent("journal.jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    static let tiny = ["study", "variance", "--problem", "sorting", "--size", "3", "--repeats", "4", "--samples", "64"]

    @Test("a tiny study writes variance.csv with the documented columns, one row per configuration, and the picture")
    func filesAndColumns() throws {
        let directory = try Self.temporaryDirectory("files")
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try runGSS(Self.tiny + ["--dist", "logistic,laplace", "--out", directory.path])
        #expect(run.status == 0, "\(run.stderr)")
        let text = try String(contentsOf: directory.appendingPathComponent("variance.csv"), encoding: .utf8)
        #expect(text.hasPrefix(
            "problem,size,distribution,sampler,covariate,antithetic,samples,repeats,mean_l2_error,ci95_low,ci95_high,"
                + "oracle,oracle_samples,oracle_error,skipped_reason\n"))
        let rows = try Self.csvRows(directory)
        #expect(rows.count == 60)
        var keys = Set<String>()
        for row in rows {
            keys.insert([row["distribution"]!, row["sampler"]!, row["covariate"]!, row["antithetic"]!].joined(separator: "/"))
            let mean = try #require(Double(row["mean_l2_error"] ?? ""))
            let low = try #require(Double(row["ci95_low"] ?? ""))
            let high = try #require(Double(row["ci95_high"] ?? ""))
            #expect(low < mean && mean < high && mean > 0)
            #expect(row["repeats"] == "4" && row["oracle"] == "exact" && Double(row["oracle_error"]!)! < 1e-8)
        }
        #expect(keys.count == 60)
        #expect(Set(rows.map { $0["sampler"]! }) == ["mc", "qmc-latin", "rqmc-latin", "rqmc-cartesian", "sobol"])
        let svg = try String(contentsOf: directory.appendingPathComponent("variance.svg"), encoding: .utf8)
        #expect(svg.hasPrefix("<?xml") && svg.contains("laplace") && svg.contains("antithetic"))
        #expect(Self.journalLines(directory).count == 60)
        let summary = try String(contentsOf: directory.appendingPathComponent("summary.md"), encoding: .utf8)
        #expect(summary.contains("## n = 3") && summary.contains("| logistic |") && summary.contains("| laplace |"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".tmp") }
        #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")
        #expect(run.stdout.contains("60 configurations: 60 computed, 0 reused"))
    }

    @Test("results do not depend on --threads")
    func threadIndependence() throws {
        let one = try Self.temporaryDirectory("threads1")
        let two = try Self.temporaryDirectory("threads2")
        defer {
            try? FileManager.default.removeItem(at: one)
            try? FileManager.default.removeItem(at: two)
        }
        let arguments = ["study", "variance", "--problem", "sorting", "--size", "6", "--repeats", "3", "--samples", "128",
                         "--dist", "gumbel", "--oracle-samples", "32768"]
        let first = try runGSS(arguments + ["--threads", "1", "--out", one.path])
        let second = try runGSS(arguments + ["--threads", "3", "--out", two.path])
        #expect(first.status == 0 && second.status == 0, "\(first.stderr) \(second.stderr)")
        let a = try String(contentsOf: one.appendingPathComponent("variance.csv"), encoding: .utf8)
        let b = try String(contentsOf: two.appendingPathComponent("variance.csv"), encoding: .utf8)
        #expect(a == b)
        #expect(a.contains("sobol-loo,32768,"))
    }

    @Test("a rerun reuses finished configurations from the journal instead of recomputing them")
    func resumeFromJournal() throws {
        let directory = try Self.temporaryDirectory("resume")
        defer { try? FileManager.default.removeItem(at: directory) }
        let arguments = Self.tiny + ["--dist", "gaussian", "--out", directory.path]
        #expect(try runGSS(arguments).status == 0)
        // Mark one finished configuration with an impossible error: only a reuse can bring it back.
        var lines = Self.journalLines(directory)
        #expect(lines.count == 30)
        let marked = lines[7]
        let original = try #require(marked.range(of: "\"meanL2Error\":[0-9.e-]+", options: .regularExpression))
        lines[7] = marked.replacingCharacters(in: original, with: "\"meanL2Error\":123.5")
        try (lines.joined(separator: "\n") + "\n").write(
            to: directory.appendingPathComponent("journal.jsonl"), atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(at: directory.appendingPathComponent("variance.csv"))
        let rerun = try runGSS(arguments)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("30 configurations: 0 computed, 30 reused"), "\(rerun.stdout)")
        let rows = try Self.csvRows(directory)
        #expect(rows.filter { $0["mean_l2_error"] == "123.5" }.count == 1)
        #expect(Self.journalLines(directory).count == 30)
        // Other settings are other computations: more repeats recompute everything.
        let more = try runGSS(Self.tiny.map { $0 == "4" ? "5" : $0 } + ["--dist", "gaussian", "--out", directory.path])
        #expect(more.stdout.contains("30 configurations: 30 computed, 0 reused"), "\(more.stdout)")
    }

    @Test("an interrupted study leaves no variance.csv, and resuming computes only what was missing")
    func interruptAndResume() throws {
        let directory = try Self.temporaryDirectory("interrupt")
        defer { try? FileManager.default.removeItem(at: directory) }
        let arguments = ["study", "variance", "--problem", "sorting", "--size", "5", "--repeats", "32", "--samples", "1024",
                         "--dist", "gaussian", "--threads", "1", "--out", directory.path]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Products.gss)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while Self.journalLines(directory).count < 3 && process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(process.isRunning, "the study finished before it could be interrupted")
        // SIGKILL, the harshest interruption (no handler runs), and one a child cannot have blocked:
        // processes spawned from test threads may inherit a mask that blocks SIGINT and SIGTERM.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        let finished = Self.journalLines(directory)
        #expect(finished.count >= 3 && finished.count < 30, "\(finished.count) configurations finished")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("variance.csv").path))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("variance.svg").path))

        let resumed = try runGSS(arguments)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        // Lines cut off by the interruption are repaired; whole ones are reused.
        #expect(resumed.stdout.contains("\(30 - finished.count) computed, \(finished.count) reused"), "\(resumed.stdout)")
        let lines = Self.journalLines(directory)
        #expect(lines.count == 30 && Array(lines.prefix(finished.count)) == finished)
        #expect(try Self.csvRows(directory).count == 30)
    }

    @Test("configurations a sampler refuses are recorded with the reason")
    func skippedConfigurations() throws {
        let directory = try Self.temporaryDirectory("skips")
        defer { try? FileManager.default.removeItem(at: directory) }
        // 216 = 6^3 (even k, so the grid runs with antithetic pairs too), but no power of two for Sobol'.
        let run = try runGSS(
            ["study", "variance", "--problem", "sorting", "--size", "3", "--repeats", "3", "--samples", "216",
             "--dist", "wigner", "--out", directory.path])
        #expect(run.status == 0, "\(run.stderr)")
        let rows = try Self.csvRows(directory)
        #expect(rows.count == 30)
        let skipped = rows.filter { !($0["skipped_reason"] ?? "").isEmpty }
        #expect(skipped.count == 6 && skipped.allSatisfy { $0["sampler"] == "sobol" })
        #expect(skipped.allSatisfy { $0["skipped_reason"]!.contains("power of two") && $0["mean_l2_error"] == "" })
        #expect(rows.filter { $0["sampler"] == "rqmc-cartesian" }.allSatisfy { $0["samples"] == "216" && $0["mean_l2_error"] != "" })
        #expect(run.stdout.contains("6 skipped"))
        // At n = 7 no grid is near 1024: the cartesian rows are skipped, with the nearest grids named.
        let seven = try runGSS(
            ["study", "variance", "--problem", "sorting", "--size", "7", "--repeats", "2", "--samples", "64",
             "--dist", "laplace", "--oracle-samples", "65536", "--out", directory.path])
        #expect(seven.status == 0, "\(seven.stderr)")
        let cartesian = try Self.csvRows(directory).filter { $0["sampler"] == "rqmc-cartesian" }
        #expect(cartesian.count == 6 && cartesian.allSatisfy { $0["skipped_reason"]!.contains("128 = 2^7") })
    }

    @Test("a Sobol' oracle that is not 10× more accurate than the best configuration is enlarged, or the study fails")
    func oracleAccuracyRule() throws {
        let directory = try Self.temporaryDirectory("oracle")
        defer { try? FileManager.default.removeItem(at: directory) }
        let arguments = ["study", "variance", "--problem", "sorting", "--size", "6", "--repeats", "3", "--samples", "256",
                         "--dist", "logistic", "--oracle-samples", "64", "--out", directory.path]
        let failed = try runGSS(arguments + ["--max-oracle-samples", "64"])
        #expect(failed.status == 1, "\(failed.stderr)")
        #expect(failed.stderr.contains("not 10× below the smallest mean error") && failed.stderr.contains("--max-oracle-samples")
                    && failed.stderr.contains("leave logistic out with --dist"),
                "\(failed.stderr)")
        #expect(failed.stdout.isEmpty && failed.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }.count == 1)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("variance.csv").path))

        let enlarged = try runGSS(arguments + ["--max-oracle-samples", "4194304"])
        #expect(enlarged.status == 0, "\(enlarged.stderr)")
        #expect(enlarged.stderr.contains("enlarged to"), "\(enlarged.stderr)")
        let rows = try Self.csvRows(directory).filter { $0["skipped_reason"] == "" }
        #expect(rows.count == 24)  // no 6-dimensional grid is near 256 samples
        let oracleSamples = Set(rows.map { Int($0["oracle_samples"]!)! })
        #expect(oracleSamples.count == 1 && oracleSamples.first! > 64)
        let smallest = rows.map { Double($0["mean_l2_error"]!)! }.min()!
        #expect(rows.allSatisfy { Double($0["oracle_error"]!)! * 10 <= smallest })
    }

    @Test("usage errors exit 2 with one sentence", arguments: [
        (["--problem", "sorting", "--size", "1"], "--size for sorting must be from 2 to 64, got 1"),
        (["--problem", "shortest-path", "--size", "40"], "--size for shortest-path must be from 2 to 32"),
        (["--problem", "sorting", "--repeats", "1"], "--repeats must be at least 2"),
        (["--problem", "sorting", "--samples", "1"], "--samples must be at least 2"),
        (["--problem", "sorting", "--dist", "gaussian,uniform"], "'uniform' is not a distribution"),
        (["--problem", "sorting", "--scale", "0"], "--scale must be a finite positive number"),
        (["--problem", "sorting", "--threads", "0"], "--threads must be at least 1"),
        (["--problem", "sorting", "--oracle-samples", "1000"], "--oracle-samples must be a power of two"),
        (["--problem", "sorting", "--oracle-samples", "1024", "--max-oracle-samples", "512"], "--max-oracle-samples must be a power of two no smaller"),
        (["--problem", "sorting", "--out", "/dev/null"], "--out '/dev/null' exists and is not a folder"),
        (["--problem", "ranking"], "'ranking'"),
        (["--size", "3"], "--problem"),
    ])
    func usageErrors(arguments: [String], phrase: String) throws {
        var full = ["study", "variance"] + arguments
        if !arguments.contains("--out") { full += ["--out", FileManager.default.temporaryDirectory.appendingPathComponent("gss-never").path] }
        let run = try runGSS(full)
        #expect(run.status == 2, "exit \(run.status): \(run.stderr)")
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.hasPrefix("error: ") && run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
        #expect(run.stderr.contains(phrase), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: FileManager.default.temporaryDirectory.appendingPathComponent("gss-never").path))
    }
}
