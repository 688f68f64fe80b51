import Foundation
import GSSCore
import GSSHost
import GSSTestSupport
import Testing

let execFilter = "python3 " + Products.repositoryRoot + "/Tests/Scripts/exec_filter.py"

/// Evaluates `rows` through one evaluator of `blackBox`; the outputs, row-major.
func evaluateRows(_ blackBox: some BlackBox, _ rows: [[Double]]) throws -> [Double] {
    var outputs = [Double](repeating: -1, count: rows.count * blackBox.outputCount)
    try evaluateRows(blackBox, rows, into: &outputs)
    return outputs
}

/// The same, keeping what was written into `outputs` when it throws.
func evaluateRows(_ blackBox: some BlackBox, _ rows: [[Double]], into outputs: inout [Double]) throws {
    let evaluator = try blackBox.makeEvaluators(count: 1)[0]
    let inputs = rows.flatMap { $0 }
    try inputs.withUnsafeBufferPointer { x in
        try outputs.withUnsafeMutableBufferPointer { y in
            try evaluator.evaluate(x.baseAddress!, rows: rows.count, into: y.baseAddress!)
        }
    }
}

/// The error `body` throws, as an ExternalProgramError.
func programError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> ExternalProgramError? {
    #expect(throws: ExternalProgramError.self, sourceLocation: sourceLocation) { try body() }
}

/// Rows of pseudo-random numbers of every magnitude (a fixed LCG, so failures reproduce).
func scatteredRows(_ count: Int, columns: Int) -> [[Double]] {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let unit = Double(state >> 11) / Double(1 << 53)
        let exponent = Double((state >> 3) % 40) - 20
        return (unit - 0.5) * pow(10, exponent)
    }
    return (0..<count).map { _ in (0..<columns).map { _ in next() } }
}

// Every test here starts children; run them one at a time so "no child is left" is checkable.
@Suite("External programs as black boxes", .serialized)
struct ExternalProgramTests {
    @Test("--exec: a 200,000-row batch through cat comes back bit for bit (writing and reading overlap)")
    func hugeBatchRoundTrips() throws {
        let rows = scatteredRows(200_000, columns: 3)
        // The timeout turns a deadlock (writing everything before reading) into a failure, not a hang.
        let box = try ExternalProgramBlackBox(command: "cat", inputCount: 3, outputCount: 3, timeoutSeconds: 20)
        let outputs = try evaluateRows(box, rows)
        let inputs = rows.flatMap { $0 }
        // Count mismatches rather than compare the arrays: a failure then reports in a moment.
        #expect(outputs.count == inputs.count)
        let mismatches = inputs.indices.filter { outputs[$0].bitPattern != inputs[$0].bitPattern }
        let example = mismatches.first.map { "\(inputs[$0]) came back as \(outputs[$0])" } ?? ""
        #expect(mismatches.count == 0, "shortest round-trip text must read back to the same doubles; \(mismatches.count) differ, e.g. \(example)")
        #expect(ChildProcessGroups.live.isEmpty, "children left: \(ChildProcessGroups.live)")
    }

    @Test("--exec: one program per worker serves many batches in order")
    func batchesInOrder() throws {
        let box = try ExternalProgramBlackBox(command: "awk -W interactive '{print $2, $1 * 2}'", inputCount: 2, outputCount: 2)
        let evaluator = try box.makeEvaluators(count: 1)[0]
        for batch in 0..<20 {
            let rows = (0..<(batch * 37 + 1)).map { [Double($0), Double(batch)] }
            var outputs = [Double](repeating: .nan, count: rows.count * 2)
            try rows.flatMap { $0 }.withUnsafeBufferPointer { x in
                try outputs.withUnsafeMutableBufferPointer { y in
                    try evaluator.evaluate(x.baseAddress!, rows: rows.count, into: y.baseAddress!)
                }
            }
            #expect(outputs == rows.flatMap { [$0[1], $0[0] * 2] })
        }
    }

    @Test("--exec: a line with the wrong count names the line, and only the failing row is NaN")
    func wrongCount() throws {
        let box = try ExternalProgramBlackBox(
            command: "awk -W interactive '{ if (NR == 6) print 1, 2; else print $1 }'", inputCount: 1, outputCount: 1)
        var outputs = [Double](repeating: 7, count: 10)
        let error = programError { try evaluateRows(box, (0..<10).map { [Double($0)] }, into: &outputs) }
        #expect(error?.code == .wrongCount)
        #expect(error?.message.contains("printed 2 numbers where 1 (m) was expected, in the line '1 2'") == true, "\(String(describing: error))")
        #expect(Array(outputs[0..<5]) == [0, 1, 2, 3, 4])
        #expect(outputs[5].isNaN && !outputs[6...].contains { $0.isNaN })
        #expect(ChildProcessGroups.live.isEmpty)
    }

    @Test("--exec: words that are not numbers, or not finite, are refused with what was read")
    func notNumbers() throws {
        let words = try ExternalProgramBlackBox(command: "awk -W interactive '{print \"1.5\", \"abc\"}'", inputCount: 1, outputCount: 2)
        let error = programError { _ = try evaluateRows(words, [[1]]) }
        #expect(error?.code == .notANumber)
        #expect(error?.message.contains("it printed 'abc', which is not a number, in the line '1.5 abc'") == true, "\(String(describing: error))")
        let glued = try ExternalProgramBlackBox(command: "awk -W interactive '{print \"1.5x\"}'", inputCount: 1, outputCount: 1)
        #expect(programError { _ = try evaluateRows(glued, [[1]]) }?.code == .notANumber)
        let nan = try ExternalProgramBlackBox(command: "awk -W interactive '{print \"nan\"}'", inputCount: 1, outputCount: 1)
        let nanError = programError { _ = try evaluateRows(nan, [[1]]) }
        #expect(nanError?.code == .notFinite)
        #expect(nanError?.message.contains("'nan', which is not a finite number") == true)
    }

    @Test("--exec: a program that exits mid-batch: status, rows answered and the tail of stderr")
    func exitsEarly() throws {
        let box = try ExternalProgramBlackBox(command: execFilter + " crash 4", inputCount: 1, outputCount: 1)
        var outputs = [Double](repeating: 0, count: 10)
        let error = programError { try evaluateRows(box, (0..<10).map { [Double($0) + 0.5] }, into: &outputs) }
        #expect(error?.code == .exitedEarly)
        let message = error?.message ?? ""
        #expect(message.contains("exited with status 3 before answering this row (it had answered 4 lines)"), "\(message)")
        #expect(message.contains("Traceback (most recent call last): | ValueError: cannot handle the input 4.5"), "\(message)")
        #expect(!message.contains("\n"))
        #expect(Array(outputs[0..<4]) == [0.5, 1.5, 2.5, 3.5] && outputs[4].isNaN)
        #expect(ChildProcessGroups.live.isEmpty)
    }

    @Test("--exec: a program killed by a signal says which")
    func killedBySignal() throws {
        let box = try ExternalProgramBlackBox(command: "read line; echo 1; read line; kill -SEGV $$", inputCount: 1, outputCount: 1)
        let error = programError { _ = try evaluateRows(box, [[1], [2], [3]]) }
        #expect(error?.code == .exitedEarly)
        #expect(error?.message.contains("was killed by signal 11 (SIGSEGV) before answering this row (it had answered 1 line)") == true,
                "\(String(describing: error))")
    }

    @Test("--exec: a command that does not exist reports the shell's status 127 and complaint")
    func missingCommand() throws {
        let box = try ExternalProgramBlackBox(command: "no-such-program-gss", inputCount: 1, outputCount: 1)
        let error = programError { _ = try evaluateRows(box, [[1]]) }
        #expect(error?.code == .exitedEarly)
        #expect(error?.message.contains("status 127 (the shell could not find the command)") == true)
        #expect(error?.message.contains("no-such-program-gss: not found") == true, "\(String(describing: error))")
    }

    @Test("--exec: more lines than inputs is an error, at the latest in the next batch")
    func extraLines() throws {
        let box = try ExternalProgramBlackBox(command: "awk -W interactive '{print $1; print $1}'", inputCount: 1, outputCount: 1)
        let evaluator = try box.makeEvaluators(count: 1)[0]
        var outputs = [Double](repeating: 0, count: 3)
        // Whether the extra lines are already in by the end of the first batch is a race; by the
        // start of the second they are.
        let error = programError {
            for _ in 0..<2 {
                try [1.0, 2, 3].withUnsafeBufferPointer { x in
                    try outputs.withUnsafeMutableBufferPointer { y in try evaluator.evaluate(x.baseAddress!, rows: 3, into: y.baseAddress!) }
                }
                usleep(200_000)
            }
        }
        #expect(error?.code == .extraOutput)
        #expect(error?.message.contains("answers no input line") == true)
    }

    @Test("--exec-timeout: a program that never answers fails within the timeout, and is killed")
    func timeout() throws {
        let box = try ExternalProgramBlackBox(command: "sleep 60", inputCount: 1, outputCount: 1, timeoutSeconds: 0.3)
        let start = Date()
        let error = programError { _ = try evaluateRows(box, [[1], [2]]) }
        #expect(error?.code == .timedOut)
        #expect(error?.message.contains("within the --exec-timeout of 0.3 s") == true, "\(String(describing: error))")
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(ChildProcessGroups.live.isEmpty)
    }

    @Test("the timeout is per row: a slow but steady program is not cut off")
    func timeoutIsPerRow() throws {
        let box = try ExternalProgramBlackBox(
            command: "while read x; do sleep 0.1; echo $x; done", inputCount: 1, outputCount: 1, timeoutSeconds: 0.6)
        #expect(try evaluateRows(box, (0..<8).map { [Double($0)] }) == (0..<8).map(Double.init))
    }

    @Test("a failed program's whole group is killed, grandchildren included")
    func failureKillsGroup() throws {
        let directory = try temporaryDirectory("exec-group")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let groupsFile = directory + "/groups"
        let box = try ExternalProgramBlackBox(
            command: execFilter + " crash 2 " + groupsFile, inputCount: 1, outputCount: 1)
        _ = programError { _ = try evaluateRows(box, [[1], [2], [3]]) }
        let groups = recordedGroups(in: groupsFile, count: 1)
        #expect(groups.count == 1)
        #expect(survivors(ofGroups: groups).isEmpty, "processes of the program's group outlived it")
    }

    @Test("bad settings are usage errors")
    func usage() {
        #expect(throws: ExternalProgramError(.invalidCommand, "--exec needs a command, such as --exec 'python3 f.py'")) {
            try ExternalProgramBlackBox(command: "  ", inputCount: 1, outputCount: 1)
        }
        let dimension = #expect(throws: ExternalProgramError.self) { try ExternalProgramBlackBox(command: "cat", inputCount: 0, outputCount: 1) }
        #expect(dimension?.code == .invalidDimensions && dimension?.isUsageError == true)
        let timeout = #expect(throws: ExternalProgramError.self) {
            try ExternalProgramBlackBox(command: "cat", inputCount: 1, outputCount: 1, timeoutSeconds: -1)
        }
        #expect(timeout?.code == .invalidTimeout && timeout?.isUsageError == true)
    }

    // MARK: --exec-each

    @Test("--exec-each: placeholders become each row's numbers; rows run in parallel, in any order")
    func eachRow() throws {
        let box = try EachRowProgramBlackBox(template: "echo {x1} {x0}; echo {x}", inputCount: 2, outputCount: 4)
        let rows = scatteredRows(40, columns: 2)
        let outputs = try evaluateRows(box, rows)
        #expect(outputs == rows.flatMap { [$0[1], $0[0], $0[0], $0[1]] })
        #expect(ChildProcessGroups.live.isEmpty)
    }

    @Test("--exec-each: the template's own braces stay; a placeholder past n or none at all is a usage error")
    func templates() throws {
        let awk = try EachRowProgramBlackBox(template: "awk 'BEGIN { print {x0} * 2 }'", inputCount: 1, outputCount: 1)
        #expect(try evaluateRows(awk, [[1.25], [-3]]) == [2.5, -6])
        let beyond = #expect(throws: ExternalProgramError.self) { try EachRowProgramBlackBox(template: "f {x2}", inputCount: 2, outputCount: 1) }
        #expect(beyond?.code == .invalidCommand && beyond?.message.contains("{x2}, but rows have n = 2 numbers ({x0} to {x1})") == true)
        let none = #expect(throws: ExternalProgramError.self) { try EachRowProgramBlackBox(template: "f {y} {x", inputCount: 2, outputCount: 1) }
        #expect(none?.code == .invalidCommand && none?.isUsageError == true)
    }

    @Test("--exec-each: a failing row gives its status and stderr; the others are not blamed")
    func eachRowFailure() throws {
        let box = try EachRowProgramBlackBox(
            template: "if [ {x0} = 3.0 ]; then echo 'cannot do three' >&2; exit 4; fi; echo {x0}", inputCount: 1, outputCount: 1)
        var outputs = [Double](repeating: 0, count: 6)
        let error = programError { try evaluateRows(box, (0..<6).map { [Double($0)] }, into: &outputs) }
        #expect(error?.code == .failedStatus)
        #expect(error?.message == "it exited with status 4; its stderr ends: 'cannot do three'")
        #expect(outputs[3].isNaN && outputs.filter(\.isNaN).count == 1)
        #expect(ChildProcessGroups.live.isEmpty)
    }

    @Test("--exec-each: wrong counts and words are refused")
    func eachRowProtocol() throws {
        let two = try EachRowProgramBlackBox(template: "echo {x0} {x0}", inputCount: 1, outputCount: 1)
        let error = programError { _ = try evaluateRows(two, [[1]]) }
        #expect(error?.code == .wrongCount && error?.message == "it printed 2 numbers where 1 (m) was expected: '1.0 1.0'")
        let words = try EachRowProgramBlackBox(template: "echo value: {x0}", inputCount: 1, outputCount: 1)
        #expect(programError { _ = try evaluateRows(words, [[1]]) }?.code == .notANumber)
    }

    @Test("--exec-each --exec-timeout: a row that hangs fails in time, with its group killed")
    func eachRowTimeout() throws {
        let box = try EachRowProgramBlackBox(
            template: "sleep 30 & sleep 30; echo {x0}", inputCount: 1, outputCount: 1, timeoutSeconds: 0.4)
        let start = Date()
        let error = programError { _ = try evaluateRows(box, [[1], [2], [3]]) }
        #expect(error?.code == .timedOut)
        #expect(error?.message == "it did not finish within the --exec-timeout of 0.4 s")
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(ChildProcessGroups.live.isEmpty)
    }
}
