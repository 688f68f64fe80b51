import Foundation
import GSSCore
@testable import GSSHost
import GSSTestSupport
import Testing

/// Whether a process id still names a process (running, or a zombie nobody reaped).
private func exists(_ pid: Int32) -> Bool { kill(pid, 0) == 0 || errno != ESRCH }

private func isolated(_ fixture: String, options: [PluginOption] = [], timeout: Double? = nil) throws -> IsolatedPluginBlackBox {
    try IsolatedPluginBlackBox(
        pluginPath: Products.fixture(fixture), options: options,
        settings: IsolationSettings(workerExecutable: Products.gss, evaluationTimeout: timeout))
}

/// Evaluates `rows` one-number rows through evaluator 0; the outputs, or the error.
private func evaluate(_ box: IsolatedPluginBlackBox, _ rows: [Double]) -> (outputs: [Double], error: PluginError?) {
    var outputs = [Double](repeating: 0, count: rows.count)
    do {
        let evaluator = try box.makeEvaluators(count: 1)[0]
        try rows.withUnsafeBufferPointer { x in
            try outputs.withUnsafeMutableBufferPointer { y in
                try evaluator.evaluate(x.baseAddress!, rows: rows.count, into: y.baseAddress!)
            }
        }
        return (outputs, nil)
    } catch {
        return (outputs, error as? PluginError)
    }
}

@Suite("Isolated plugins: worker processes")
struct IsolationTests {
    @Test("isolated estimates are bit-identical to in-process ones, on several workers")
    func sameResults() throws {
        let configuration = SmoothingConfiguration(distribution: .gaussian, samples: 20_000, sampler: .mc, seed: 11)
        let library = try PluginLibrary.open(path: Products.bundled("sorter"))
        let inProcess = try Smoother(configuration: configuration, threads: 3)
            .estimate(try PluginBlackBox(library: library, options: [("n", "4")]), at: [0.3, -0.2, 0.1, 0.5])
        let box = try IsolatedPluginBlackBox(
            pluginPath: Products.bundled("sorter"), options: [PluginOption(key: "n", value: "4")],
            settings: IsolationSettings(workerExecutable: Products.gss))
        #expect(box.inputCount == 4 && box.outputCount == 16 && box.description.outputShape == [4, 4])
        #expect(box.description.defaultInput?.count == 4 && box.description.isReentrant)
        let isolatedEstimate = try Smoother(configuration: configuration, threads: 3).estimate(box, at: [0.3, -0.2, 0.1, 0.5])
        #expect(isolatedEstimate == inProcess)
    }

    @Test("a segfault becomes workerCrashed naming SIGSEGV; the batch is NaN; the worker is reaped and the evaluator refuses more")
    func segfault() throws {
        let box = try isolated("segfault")
        let fine = evaluate(box, [0.5, 1])
        #expect(fine.error == nil && fine.outputs == [1, 2])
        let pid = box.primaryWorkerProcess
        let crashed = evaluate(box, [1, 1, 3, 1])
        let error = try #require(crashed.error)
        #expect(error.code == .workerCrashed && !error.isUsageError)
        #expect(error.message.contains("killed by SIGSEGV"), "\(error.message)")
        #expect(error.message.contains("a batch of 4 rows; this input is the one that crashes it"), "\(error.message)")
        // Rerun in halves: the rows before the culprit (x = 3, row 2) hold their outputs and the
        // culprit onwards is NaN, so callers blame the culprit.
        #expect(Array(crashed.outputs[0..<2]) == [2, 2] && crashed.outputs[2...].allSatisfy { $0.isNaN }, "\(crashed.outputs)")
        #expect(!exists(pid), "the crashed worker \(pid) was not reaped")
        let again = try #require(evaluate(box, [1]).error)
        #expect(again.message.contains("already failed"))
    }

    @Test("abort: SIGABRT, with the plugin's last words")
    func abort() throws {
        let error = try #require(evaluate(try isolated("abort"), [3]).error)
        #expect(error.code == .workerCrashed)
        #expect(error.message.contains("SIGABRT") && error.message.contains("assertion 'x <= 2' failed"), "\(error.message)")
    }

    @Test("a hang is killed at the time limit and reported as such")
    func hang() throws {
        let box = try isolated("hang", timeout: 0.5)
        let pid = box.primaryWorkerProcess
        let started = Date()
        let error = try #require(evaluate(box, [1, 3]).error)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(error.code == .workerTimedOut)
        #expect(error.message.contains("no answer within 0.5 s"), "\(error.message)")
        #expect(!exists(pid))
    }

    @Test("the plugin's own errors keep their wording; NaN rows come back so the right row is blamed")
    func evaluationError() throws {
        let box = try isolated("evalerror")
        let result = evaluate(box, [1, 6, 2])
        let error = try #require(result.error)
        #expect(error.code == .evaluationFailed)
        #expect(error.message == "GSS_E_EVALUATION: row 1: x = 6 is above 5")
        #expect(result.outputs[0] == 1 && result.outputs[1].isNaN && result.outputs[2] == 2)
        // The worker lives on after a reported error.
        #expect(evaluate(box, [4]).outputs == [4])
        let configuration = SmoothingConfiguration(distribution: .logistic, samples: 4000, sampler: .mc, seed: 8)
        let smoothing = #expect(throws: SmoothingError.self) { try Smoother(configuration: configuration, threads: 2).estimate(box, at: [1]) }
        #expect(try #require(smoothing?.input)[0] > 5)
    }

    @Test("loading and create errors come back as the same PluginError as in-process", arguments: [
        ("noentry", [PluginOption](), PluginError.Code.missingEntry, "does not export gss_plugin_entry"),
        ("wrongmajor", [], .majorMismatch, "built for ABI major 2"),
        ("counting", [PluginOption(key: "bogus", value: "1")], .createFailed, "unknown option 'bogus'"),
    ])
    func startErrors(fixture: String, options: [PluginOption], code: PluginError.Code, phrase: String) throws {
        let error = #expect(throws: PluginError.self) { try isolated(fixture, options: options) }
        #expect(error?.code == code)
        #expect(error?.message.contains(phrase) == true, "\(error?.message ?? "")")
    }

    @Test("every worker is reaped when the black box and its evaluators go away")
    func workersReaped() throws {
        var pids: [Int32] = []
        do {
            let box = try isolated("counting", options: [PluginOption(key: "n", value: "2")])
            let evaluators = try box.makeEvaluators(count: 3)
            pids = evaluators.compactMap { ($0 as? IsolatedEvaluator)?.processID }
            #expect(Set(pids).count == 3)
            #expect(pids.allSatisfy { exists($0) })
        }
        #expect(!pids.contains { exists($0) }, "workers outlived their black box: \(pids.filter(exists))")
    }

    @Test("worker command lines carry any option text exactly")
    func invocationRoundTrip() throws {
        let invocation = WorkerInvocation(
            role: .check("unknown-option"), pluginPath: "/tmp/a b/libx.so",
            options: [PluginOption(key: "k=1", value: "--parent"), PluginOption(key: "-o", value: ""), PluginOption(key: "é", value: " x ")],
            parent: 42, settings: ["budget": "2.5", "unknown-key": "--set"])
        #expect(WorkerInvocation(arguments: invocation.arguments) == invocation)
        #expect(WorkerInvocation(arguments: ["evaluate", "--plugin"]) == nil)
        #expect(WorkerInvocation(arguments: ["serve", "--parent", "1", "--plugin", "x"]) == nil)
    }
}
