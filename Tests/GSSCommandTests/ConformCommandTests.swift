import Foundation
import GSSTestSupport
import Testing

/// The report's line for one check: "FAIL  evaluate        killed by …".
private func line(of check: String, in report: String) -> String? {
    report.split(separator: "\n").map(String.init).first { line in
        let words = line.split(separator: " ", maxSplits: 2)
        return words.count >= 2 && words[1] == check
    }
}

@Suite("gss conform")
struct ConformCommandTests {
    /// Seconds per check: short where the fixture hangs (it costs that much), roomy elsewhere so
    /// a machine busy with parallel tests cannot make a healthy check look hung.
    static func timeout(_ fixture: String) -> String { fixture == "hang" ? "2" : "4" }

    /// Each one-fault fixture fails exactly the check for its fault, with a message naming it.
    @Test("each broken plugin fails the check of its fault, with a message that names it", arguments: [
        ("segfault", "evaluate", ["killed by SIGSEGV (segmentation fault)", "while evaluating the row ["]),
        ("abort", "evaluate", ["killed by SIGABRT", "assertion 'x <= 2' failed"]),
        ("hang", "evaluate", ["no answer within 2 s", "while evaluating the row ["]),
        ("nanoutput", "evaluate", ["nan with GSS_OK for the row ["]),
        ("nondeterministic", "determinism", ["claims GSS_F_DETERMINISTIC", "on a repeated call"]),
        ("overrun", "buffers", ["wrote 8 bytes past the end of y"]),
        ("underrun", "buffers", ["wrote 8 bytes before the start of y"]),
        ("writesinput", "buffers", ["changed the input x"]),
        ("acceptsanything", "unknown-option", ["accepted the unknown option", "silently"]),
        ("batchdependent", "batching", ["results depend on the batch"]),
        ("racyreentrant", "threads", ["concurrent calls on one instance (GSS_F_REENTRANT)", "from concurrent calls but"]),
        ("leaky", "lifecycle", ["heap in use grew by", "per cycle"]),
        ("wrongmajor", "descriptor", ["abi_major is 2"]),
        ("noentry", "entry", ["does not export gss_plugin_entry"]),
        ("nullentry", "entry", ["gss_plugin_entry(1) returned NULL"]),
        ("badid", "descriptor", ["id 'Bad ID!' is not of the form"]),
    ])
    func brokenPlugins(fixture: String, check: String, phrases: [String]) throws {
        let run = try runGSS(["conform", Products.fixture(fixture), "--timeout", Self.timeout(fixture), "--cycles", "300"])
        #expect(run.status == 1, "exit \(run.status): \(run.stderr)")
        let failing = try #require(line(of: check, in: run.stdout), "no line for \(check) in:\n\(run.stdout)")
        #expect(failing.hasPrefix("FAIL"), "\(failing)")
        for phrase in phrases {
            #expect(failing.contains(phrase), "'\(phrase)' missing from: \(failing)")
        }
        // One sentence on stderr names the failed checks.
        #expect(run.stderr.hasPrefix("error: ") && run.stderr.split(separator: "\n").count == 1)
        #expect(run.stderr.contains(check), "\(run.stderr)")
        #expect(run.stdout.split(separator: "\n").count == 18, "a header, 16 checks and a summary:\n\(run.stdout)")
    }

    /// The fixtures that break one behaviour pass every other check: the kit blames the fault only.
    @Test("a one-fault plugin passes every check but the fault's", arguments: [
        ("segfault", "evaluate"), ("writesinput", "buffers"), ("acceptsanything", "unknown-option"), ("leaky", "lifecycle"),
    ])
    func onlyTheFault(fixture: String, check: String) throws {
        let run = try runGSS(["conform", Products.fixture(fixture), "--timeout", Self.timeout(fixture), "--cycles", "300", "--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let checks = try #require(report["checks"] as? [[String: Any]])
        let failed = checks.filter { $0["passed"] as? Bool != true }.compactMap { $0["name"] as? String }
        #expect(failed == [check], "\(run.stdout)")
    }

    @Test("bundled plugins pass every check", arguments: ["sorter", "shortest-path"])
    func bundledPluginsPass(id: String) throws {
        let run = try runGSS(["conform", id])
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stderr.isEmpty)
        #expect(run.stdout.contains("16 checks: 16 passed, 0 failed, 0 skipped"), "\(run.stdout)")
        #expect(run.stdout.contains("rows/s"))
    }

    @Test("refusing far-out rows the ABI's way (GSS_E_EVALUATION, a message, NaN) passes; a non-reentrant plugin passes threads with one instance per thread")
    func wellBehavedFixtures() throws {
        let evalError = try runGSS(["conform", Products.fixture("evalerror"), "--timeout", "4", "--cycles", "200"])
        #expect(evalError.status == 0, "\(evalError.stdout)")
        let evaluate = try #require(line(of: "evaluate", in: evalError.stdout))
        #expect(evaluate.hasPrefix("pass") && evaluate.contains("far rows refused as the ABI asks") && evaluate.contains("is above 5"), "\(evaluate)")
        let counting = try runGSS(["conform", Products.fixture("counting"), "--timeout", "4", "--cycles", "200"])
        #expect(counting.status == 0, "\(counting.stdout)")
        #expect(line(of: "threads", in: counting.stdout)?.contains("concurrent calls on 4 instances") == true)
    }

    @Test("--json: plugin facts, one object per check, throughput")
    func json() throws {
        let run = try runGSS(["conform", "sorter", "-o", "n=3", "--json", "--cycles", "200"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let plugin = try #require(report["plugin"] as? [String: Any])
        #expect(plugin["id"] as? String == "sorter" && plugin["version"] as? String == "1.0.0")
        #expect(plugin["n"] as? Int == 3 && plugin["m"] as? Int == 9)
        #expect(plugin["flags"] as? [String] == ["reentrant", "deterministic"])
        #expect(report["options"] as? [String: String] == ["n": "3"])
        #expect(report["passed"] as? Bool == true)
        let checks = try #require(report["checks"] as? [[String: Any]])
        #expect(checks.map { $0["name"] as? String } == [
            "load", "entry", "other-majors", "descriptor", "create", "unknown-option", "dims", "output-shape",
            "default-input", "evaluate", "buffers", "batching", "determinism", "threads", "throughput", "lifecycle",
        ])
        #expect(checks.allSatisfy { $0["passed"] as? Bool == true && !($0["detail"] as? String ?? "").isEmpty })
        let throughput = try #require(report["throughput"] as? [String: Any])
        #expect((throughput["rows_per_second"] as? Double ?? 0) > 1000)
    }

    @Test("a failing plugin's JSON report says which check failed and why")
    func jsonFailure() throws {
        let run = try runGSS(["conform", Products.fixture("overrun"), "--json", "--timeout", "4", "--cycles", "100"])
        #expect(run.status == 1)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(report["passed"] as? Bool == false)
        let checks = try #require(report["checks"] as? [[String: Any]])
        let buffers = try #require(checks.first { $0["name"] as? String == "buffers" })
        #expect(buffers["passed"] as? Bool == false && buffers["status"] as? String == "fail")
        #expect((buffers["detail"] as? String)?.contains("past the end of y") == true)
    }

    @Test("usage errors exit 2", arguments: [
        (["conform"], "plugin"),
        (["conform", "./missing/libnothing.so"], "does not exist"),
        (["conform", "sorter", "--timeout", "0"], "--timeout"),
        (["conform", "sorter", "-o", "n"], "-o expects key=value"),
    ])
    func usageErrors(arguments: [String], phrase: String) throws {
        let run = try runGSS(arguments)
        #expect(run.status == 2, "exit \(run.status): \(run.stderr)")
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.contains(phrase), "\(run.stderr)")
    }

    @Test("an object dlopen refuses fails the load check, naming dlerror's reason")
    func notLoadable() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gss-conform-junk-\(getpid()).so").path
        try Data("not an ELF file".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try runGSS(["conform", path])
        #expect(run.status == 1)
        let load = try #require(line(of: "load", in: run.stdout))
        #expect(load.hasPrefix("FAIL") && load.contains("cannot load plugin"), "\(load)")
        #expect(line(of: "lifecycle", in: run.stdout)?.hasPrefix("skip") == true)
    }
}
