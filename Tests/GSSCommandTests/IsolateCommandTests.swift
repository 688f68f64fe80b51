import Foundation
import GSSTestSupport
import Testing

/// Processes whose command line mentions `marker` (a unique plugin path), by pid.
private func processes(mentioning marker: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return String(decoding: data, as: UTF8.self).contains(marker)
    }
}

/// Worker processes (`gss worker …`) that have the plugin at `marker` mapped into memory.
private func workers(holding marker: String) -> [Int32] {
    processes(mentioning: marker).filter { pid in
        let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map { String(decoding: $0, as: UTF8.self) } ?? ""
        // readToEnd: FileManager.contents stops after the first page of a /proc file.
        let maps = (try? FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/maps")).readToEnd())
            .flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) } ?? ""
        return command.contains("worker") && maps.contains(marker)
    }
}

/// A private copy of a fixture under a unique path, so its workers can be found by command line.
private func uniqueCopy(of fixture: String) throws -> (path: String, directory: URL) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gss-isolate-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent("lib\(fixture).so").path
    try FileManager.default.copyItem(atPath: Products.fixture(fixture), toPath: path)
    return (path, directory)
}

/// Waits up to `seconds` for `condition`.
private func eventually(within seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

@Suite("--isolate and --eval-timeout")
struct IsolateCommandTests {
    /// Exit 1, nothing on stdout, one sentence on stderr with every phrase.
    func expectFailure(_ arguments: [String], mentions phrases: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let run = try runGSS(arguments)
        #expect(run.status == 1, "exit \(run.status): \(run.stderr)", sourceLocation: sourceLocation)
        #expect(run.stdout.isEmpty, "no partial result may be printed: \(run.stdout)", sourceLocation: sourceLocation)
        #expect(run.stderr.hasPrefix("error: ") && run.stderr.split(separator: "\n").count == 1, "\(run.stderr)", sourceLocation: sourceLocation)
        for phrase in phrases {
            #expect(run.stderr.contains(phrase), "'\(phrase)' missing from: \(run.stderr)", sourceLocation: sourceLocation)
        }
    }

    @Test("a plugin that crashes or hangs mid-run fails it with exit 1, the signal or time limit, and the batch's first input")
    func crashesAndHangs() throws {
        // From x = -5, rows above 2 are rare: the fault strikes in the middle of the run.
        let run = ["--x", "-5", "--samples", "65536", "--seed", "1", "--threads", "2", "--format", "json"]
        let failedAt = "failed at sample "
        try expectFailure(["grad", Products.fixture("segfault"), "--isolate"] + run,
                          mentions: ["plugin 'segfault' " + failedAt, "(input [", "killed by SIGSEGV (segmentation fault)", "this input is the one that crashes it"])
        try expectFailure(["grad", Products.fixture("abort"), "--isolate"] + run,
                          mentions: ["plugin 'abort' " + failedAt, "(input [", "killed by SIGABRT", "assertion 'x <= 2' failed"])
        try expectFailure(["grad", Products.fixture("hang"), "--eval-timeout", "1"] + run,
                          mentions: ["plugin 'hang' " + failedAt, "(input [", "no answer within 1 s", "--eval-timeout"])
        try expectFailure(["eval", Products.fixture("segfault"), "--isolate", "--x", "3"],
                          mentions: ["plugin 'segfault' failed at x = [3.0]", "SIGSEGV"])
    }

    @Test("an in-process plugin crash ends gss with one sentence (plugin, signal, batch, --isolate hint) and exit 1, no backtrace")
    func inProcessCrash() throws {
        let run = ["--x", "3", "--samples", "256", "--seed", "1"]
        try expectFailure(["grad", Products.fixture("segfault"), "--threads", "2"] + run,
                          mentions: ["error: plugin 'segfault' crashed with SIGSEGV (segmentation fault) while evaluating a batch of ",
                                     " rows that starts with the input [", "rerun with --isolate"])
        try expectFailure(["eval", Products.fixture("segfault"), "--x", "3"],
                          mentions: ["plugin 'segfault' crashed with SIGSEGV", "a batch of 1 row that starts with the input [3.0]"])
        // The plugin's own last words come first; gss adds its one line.
        let aborted = try runGSS(["grad", Products.fixture("abort"), "--threads", "1"] + run)
        let lines = aborted.stderr.split(separator: "\n")
        #expect(aborted.status == 1 && aborted.stdout.isEmpty, "exit \(aborted.status): \(aborted.stderr)")
        #expect(lines.count == 2 && lines[0].hasPrefix("abort fixture: assertion 'x <= 2' failed")
                    && lines[1].hasPrefix("error: plugin 'abort' crashed with SIGABRT (abort) while evaluating a batch of "),
                "\(aborted.stderr)")
    }

    @Test("an output the plugin never writes fails grad, in-process and isolated, as it fails eval")
    func unwrittenOutputs() throws {
        let run = ["--x", "0.5", "--samples", "256", "--seed", "1", "--threads", "2"]
        for isolation in [[], ["--isolate"]] {
            try expectFailure(["grad", Products.fixture("partialoutput")] + isolation + run,
                              mentions: ["plugin 'partialoutput' failed at ", "non-finite output (nan in output 1)"])
            try expectFailure(["eval", Products.fixture("partialoutput"), "--x", "0.5"] + isolation,
                              mentions: ["non-finite output (nan in output 1)"])
        }
    }

    @Test("--isolate names the row that crashed the batch (x > 2 for these fixtures), not the batch's first row")
    func culpritRow() throws {
        for fixture in ["segfault", "abort"] {
            let run = try runGSS(["grad", Products.fixture(fixture), "--isolate", "--x", "-5", "--samples", "65536", "--seed", "1", "--threads", "2"])
            #expect(run.status == 1 && run.stderr.contains("this input is the one that crashes it"), "\(run.stderr)")
            let named = try #require(run.stderr.split(separator: "(input [").dropFirst().first?.split(separator: "]").first, "\(run.stderr)")
            let input = try #require(Double(named), "\(run.stderr)")
            #expect(input > 2, "\(fixture): named the input \(input), which does not crash it: \(run.stderr)")
        }
    }

    @Test("results with --isolate are bit-identical to results without it")
    func identicalResults() throws {
        let arguments = ["grad", "sorter", "--samples", "50000", "--seed", "7", "--threads", "3", "--format", "json"]
        let plain = try runGSS(arguments)
        let isolated = try runGSS(arguments + ["--isolate"])
        #expect(plain.status == 0 && isolated.status == 0, "\(isolated.stderr)")
        #expect(!plain.stdout.isEmpty && plain.stdout == isolated.stdout)
        let eval = ["eval", "renderer", "--x", "3,30,20,20"]
        #expect(try runGSS(eval).stdout == (try runGSS(eval + ["--isolate"])).stdout)
    }

    @Test("errors the plugin reports keep their exit codes: load and create failures 2, evaluation failures 1")
    func exitCodes() throws {
        let noEntry = try runGSS(["grad", Products.fixture("noentry"), "--x", "1", "--isolate"])
        #expect(noEntry.status == 2 && noEntry.stderr.contains("does not export gss_plugin_entry"))
        let badOption = try runGSS(["eval", "sorter", "-o", "bogus=1", "--isolate"])
        #expect(badOption.status == 2 && badOption.stderr.contains("unknown option 'bogus'"))
        try expectFailure(["grad", Products.fixture("evalerror"), "--x", "4", "--seed", "3", "--isolate"],
                          mentions: ["plugin 'eval-error' failed at sample", "GSS_E_EVALUATION", "above 5"])
        let badTimeout = try runGSS(["grad", "sorter", "--eval-timeout", "0"])
        #expect(badTimeout.status == 2 && badTimeout.stderr.contains("--eval-timeout"))
    }

    @Test("no worker survives a failed run")
    func noWorkerSurvivesFailure() throws {
        let (path, directory) = try uniqueCopy(of: "segfault")
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try runGSS(["grad", path, "--isolate", "--x", "-5", "--samples", "65536", "--threads", "3", "--seed", "2"])
        #expect(run.status == 1 && run.stderr.contains("SIGSEGV"))
        #expect(processes(mentioning: directory.lastPathComponent).isEmpty)
    }

    @Test("workers die with gss, even when gss is killed while they hang")
    func workersDieWithGSS() throws {
        let (path, directory) = try uniqueCopy(of: "hang")
        defer { try? FileManager.default.removeItem(at: directory) }
        let gss = Process()
        gss.executableURL = URL(fileURLWithPath: Products.gss)
        gss.arguments = ["grad", path, "--isolate", "--x", "5", "--threads", "2", "--samples", "4096"]
        gss.standardOutput = FileHandle.nullDevice
        gss.standardError = FileHandle.nullDevice
        try gss.run()
        let marker = directory.lastPathComponent
        // Both workers have loaded the plugin (it is in their memory maps), so the run is under
        // way; a moment later the first batch has reached worker 0 and hangs there.
        let workersUp = eventually(within: 20) { workers(holding: marker).count == 2 }
        #expect(workersUp, "the workers never loaded the plugin")
        usleep(500_000)
        kill(gss.processIdentifier, SIGKILL)
        gss.waitUntilExit()
        #expect(eventually(within: 10) { processes(mentioning: marker).isEmpty },
                "workers outlived gss: \(processes(mentioning: marker))")
    }
}
