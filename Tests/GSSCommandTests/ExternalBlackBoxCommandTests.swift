import Foundation
import GSSCore
import GSSTestSupport
import Testing

private let execFilter = "python3 " + Products.repositoryRoot + "/Tests/Scripts/exec_filter.py"

/// The estimate of a successful `gss grad --format json` run.
private struct Estimate {
    let value: [Double]
    let valueStderr: [Double]
    let jacobian: [[Double]]
    let jacobianStderr: [[Double]]

    init(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let run = try runGSS(["grad"] + arguments + ["--format", "json"])
        try #require(run.status == 0, "gss failed: \(run.stderr)", sourceLocation: sourceLocation)
        let object = try json(run.stdout)
        value = try #require(object["value"] as? [Double])
        valueStderr = try #require(object["value_stderr"] as? [Double])
        jacobian = try matrix(object["jacobian"])
        jacobianStderr = try matrix(object["jacobian_stderr"])
    }

    /// |estimate − truth| ≤ 5 standard errors, entry by entry.
    func expectJacobian(_ truth: [[Double]], sourceLocation: SourceLocation = #_sourceLocation) {
        for i in truth.indices {
            for j in truth[i].indices {
                let deviation = abs(jacobian[i][j] - truth[i][j]) / jacobianStderr[i][j]
                #expect(deviation <= 5, "∂\(i)/∂x\(j): \(jacobian[i][j]) vs \(truth[i][j]) is \(deviation) standard errors off",
                        sourceLocation: sourceLocation)
            }
        }
    }

    func expectValue(_ truth: [Double], sourceLocation: SourceLocation = #_sourceLocation) {
        for i in truth.indices {
            let deviation = abs(value[i] - truth[i]) / valueStderr[i]
            #expect(deviation <= 5, "value \(i): \(value[i]) vs \(truth[i]) is \(deviation) standard errors off", sourceLocation: sourceLocation)
        }
    }
}

/// d/dx E[1(x + γε > 0)] = μ(−x/γ)/γ for logistic ε.
private func stepSlope(_ x: Double, scale: Double) -> Double {
    Distribution.logistic.density(-x / scale) / scale
}

@Suite("gss with external programs")
struct ExecCommandTests {
    @Test("--exec with a Python program: the step's smoothed gradient is the logistic density")
    func pythonStep() throws {
        let estimate = try Estimate([
            "--exec", execFilter + " step", "--n", "1", "--m", "1", "--x", "0.3", "--scale", "0.5",
            "--samples", "20000", "--seed", "11", "--threads", "2",
        ])
        estimate.expectJacobian([[stepSlope(0.3, scale: 0.5)]])
        estimate.expectValue([Distribution.logistic.cdf(0.3 / 0.5)])
    }

    @Test("--exec-each with an awk one-liner per row: the same closed form")
    func eachRowStep() throws {
        let estimate = try Estimate([
            "--exec-each", "awk 'BEGIN { if ({x0} > 0) print 1; else print 0 }'", "--n", "1", "--m", "1",
            "--x", "-0.2", "--samples", "1000", "--seed", "5",
        ])
        estimate.expectJacobian([[stepSlope(-0.2, scale: 1)]])
    }

    @Test("a million rows through awk: no deadlock, and the linear map's exact Jacobian")
    func millionRows() throws {
        // mawk (Debian's awk) reads its input in blocks unless -W interactive: see the README.
        // The timeout turns a deadlock into a failure rather than a hang.
        let estimate = try Estimate([
            "--exec", "awk -W interactive '{print $1 + $2}'", "--n", "2", "--m", "1", "--x", "0.5,-1",
            "--samples", "1000000", "--seed", "1", "--threads", "2", "--exec-timeout", "20",
        ])
        estimate.expectValue([-0.5])
        estimate.expectJacobian([[1, 1]])
    }

    @Test("cat as the identity on 8 numbers: batches of ~600 KB each way flow (no deadlock), the Jacobian is I")
    func identityThroughCat() throws {
        // 4096 rows of 8 numbers per chunk: far more than a pipe holds, in both directions.
        let x = [0.5, -1, 2, 0, 1e-3, -7, 3.25, 100]
        let estimate = try Estimate([
            "--exec", "cat", "--n", "8", "--m", "8", "--x", x.map { "\($0)" }.joined(separator: ","),
            "--samples", "200000", "--seed", "21", "--exec-timeout", "20",
        ])
        estimate.expectValue(x)
        estimate.expectJacobian((0..<8).map { i in (0..<8).map { j in i == j ? 1 : 0 } })
    }

    @Test("--exec-timeout: a program that never answers fails fast, naming row, command and timeout; no orphans")
    func timeout() throws {
        let directory = try temporaryDirectory("exec-timeout")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let groupsFile = directory + "/groups"
        let start = Date()
        try expectFailure(
            ["grad", "--exec", execFilter + " hang " + groupsFile, "--n", "1", "--m", "1", "--x", "0.25",
             "--exec-timeout", "0.5", "--threads", "2", "--seed", "2"],
            status: 1,
            mentions: ["error: program 'python3 ", "exec_filter.py hang", "failed at sample ", "(input [",
                       "gave no answer for this row within the --exec-timeout of 0.5 s"])
        #expect(Date().timeIntervalSince(start) < 10)
        // A program killed before it got to record its group started no grandchild either.
        let groups = recordedGroups(in: groupsFile, count: 2, timeout: 1)
        #expect(!groups.isEmpty)
        #expect(survivors(ofGroups: groups).isEmpty, "processes outlived gss")
    }

    @Test("programs that ignore end of file are ended together: 8 workers take about one grace second, not 8")
    func teardownTogether() throws {
        let start = Date()
        let run = try runGSS(
            ["grad", "--exec", "while read a; do echo $a; done; exec sleep 30", "--n", "1", "--m", "1", "--x", "0.5",
             "--samples", "4096", "--threads", "8", "--seed", "3", "--format", "json"])
        #expect(run.status == 0, "\(run.stderr)")
        let seconds = Date().timeIntervalSince(start)
        #expect(seconds < 5, "teardown took \(seconds) s")
    }

    @Test("a daemon a program starts in a new session (setsid) is ended with the program, not left running")
    func newSessionDaemonEnds() throws {
        let directory = try temporaryDirectory("exec-setsid")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pidFile = directory + "/daemon"
        let run = try runGSS(
            // The program answers only once the daemon has left its session (and written its pid).
            ["grad", "--exec", "setsid sh -c 'echo $$ > \(pidFile); exec sleep 300' & until [ -s \(pidFile) ]; do sleep 0.05; done; while read a; do echo $a; done",
             "--n", "1", "--m", "1", "--x", "0.5", "--samples", "256", "--threads", "1", "--seed", "1"])
        #expect(run.status == 0, "\(run.stderr)")
        let daemon = try #require(recordedGroups(in: pidFile, count: 1, timeout: 5).first, "the daemon never started")
        let alive = !survivors(ofGroups: [daemon], timeout: 2).isEmpty
        if alive { kill(daemon, SIGKILL) }
        #expect(!alive, "the daemon \(daemon) outlived gss")
    }

    @Test("--exec-each --exec-timeout names the row too")
    func eachRowTimeout() throws {
        try expectFailure(
            ["grad", "--exec-each", "sleep 20; echo {x0}", "--n", "1", "--m", "1", "--x", "1", "--exec-timeout", "0.3"],
            status: 1, mentions: ["program 'sleep 20; echo {x0}' failed at sample ", "(input [", "did not finish within the --exec-timeout of 0.3 s"])
    }

    @Test("protocol errors exit 1 with what was read", arguments: [
        (["--exec", "awk -W interactive '{print 1, 2}'", "--n", "1", "--m", "1"], ["printed 2 numbers where 1 (m) was expected, in the line '1 2'"]),
        (["--exec", execFilter + " garbage-after 5", "--n", "1", "--m", "1"], ["it printed 'error:', which is not a number, in the line 'error: singular matrix'"]),
        (["--exec-each", "echo {x0}; echo oops", "--n", "1", "--m", "1"], ["it printed 'oops', which is not a number"]),
        (["--exec-each", "echo {x0} >&2; exit 2", "--n", "1", "--m", "1"], ["it exited with status 2; its stderr ends: '"]),
    ])
    func protocolErrors(arguments: [String], phrases: [String]) throws {
        try expectFailure(["grad"] + arguments + ["--x", "0.5", "--seed", "1"], status: 1, mentions: ["failed at sample "] + phrases)
    }

    @Test("a program that crashes mid-run: its status and the end of its stderr; its group is gone")
    func crash() throws {
        let directory = try temporaryDirectory("exec-crash")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let groupsFile = directory + "/groups"
        try expectFailure(
            ["grad", "--exec", execFilter + " crash 100 " + groupsFile, "--n", "1", "--m", "1", "--x", "0.5",
             "--threads", "1", "--seed", "4"],
            status: 1,
            mentions: ["failed at sample 100 (input [", "exited with status 3 before answering this row (it had answered 100 lines)",
                       "its stderr ends: 'Traceback (most recent call last): | ValueError: cannot handle the input"])
        let groups = recordedGroups(in: groupsFile, count: 1, timeout: 1)
        #expect(groups.count == 1 && survivors(ofGroups: groups).isEmpty)
    }

    @Test("eval runs the program once; info describes it")
    func evalAndInfo() throws {
        let run = try runGSS(["eval", "--exec", "awk -W interactive '{print $1 * $2, -$1}'", "--n", "2", "--m", "2", "--x", "1.5,4"])
        #expect(run.status == 0 && run.stdout.contains("[6.0, -1.5]"), "\(run.stdout) \(run.stderr)")
        let info = try runGSS(["info", "--exec", "cat", "--n", "3", "--m", "3"])
        #expect(info.status == 0 && info.stdout.contains("program 'cat'") && info.stdout.contains("inputs n:      3"))
    }

    @Test("Ctrl-C (or SIGTERM) ends gss at once and leaves no child or grandchild", arguments: [SIGINT, SIGTERM])
    func interrupt(signal: Int32) throws {
        let directory = try temporaryDirectory("exec-interrupt")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let groupsFile = directory + "/groups"
        let gss = try BackgroundProgram(
            Products.gss,
            ["grad", "--exec", execFilter + " hang " + groupsFile, "--n", "1", "--m", "1", "--x", "0", "--threads", "2"],
            directory: directory)
        defer { gss.killIfRunning() }
        let groups = recordedGroups(in: groupsFile, count: 2)
        try #require(groups.count == 2, "the programs did not start: \(gss.standardError)")
        #expect(!groups.flatMap { processes(inGroup: $0) }.isEmpty)
        let sent = Date()
        gss.send(signal)
        let status = gss.wait(timeout: 5)
        #expect(status == 128 + signal, "gss ended with \(String(describing: status)): \(gss.standardError)")
        #expect(Date().timeIntervalSince(sent) < 3)
        #expect(gss.standardOutput.isEmpty)
        #expect(survivors(ofGroups: groups).isEmpty, "processes outlived gss")
    }

    @Test("bad combinations are usage errors (exit 2, one sentence)", arguments: [
        (["grad", "sorter", "--exec", "cat", "--n", "1", "--m", "1"], ["give one black box, not the plugin 'sorter' and --exec"]),
        (["grad", "--exec", "cat", "--symbol", "libm.so.6:floor"], ["give one black box, not --exec and --symbol"]),
        (["grad", "--exec", "cat"], ["--exec needs --n (numbers per input row) and --m"]),
        (["grad", "--exec", "cat", "--n", "2"], ["--exec needs --n"]),
        (["grad", "--exec-each", "echo {x0}", "--m", "1"], ["--exec-each needs --n"]),
        (["grad", "--exec", "cat", "--n", "0", "--m", "1"], ["--n must be a whole number from 1"]),
        (["grad", "--exec", " ", "--n", "1", "--m", "1"], ["--exec needs a command"]),
        (["grad", "--exec", "cat", "--n", "1", "--m", "1", "--exec-timeout", "0"], ["--exec-timeout must be a positive number of seconds"]),
        (["grad", "--exec-each", "echo 1", "--n", "1", "--m", "1"], ["--exec-each needs the placeholders {x0}"]),
        (["grad", "--exec-each", "echo {x3}", "--n", "2", "--m", "1"], ["placeholder {x3}, but rows have n = 2 numbers"]),
        (["grad", "--exec", "cat", "--n", "1", "--m", "1", "-o", "a=b"], ["-o passes options to a plugin's create(); --exec takes none"]),
        (["grad", "sorter", "--n", "3"], ["--n goes with --exec, --exec-each or --symbol"]),
        (["grad", "sorter", "--exec-timeout", "3"], ["--exec-timeout goes with --exec or --exec-each"]),
        (["grad", "--exec", "cat", "--n", "1", "--m", "1"], ["has no default input, so --x is required (1 numbers)"]),
        (["grad"], ["no black box given", "<black-box>", "--exec"]),
        (["grad", "--symbol", "libm.so.6:floor"], ["--symbol needs --signature"]),
        (["grad", "sorter", "--signature", "double(double)"], ["--signature goes with --symbol"]),
        (["grad", "--exec", "cat", "--n", "1", "--m", "1", "--serialize-calls"], ["--serialize-calls goes with --symbol"]),
        (["grad", "--symbol", "floor", "--signature", "double(double)"], ["--symbol 'floor' must be LIB:FUNC"]),
        (["grad", "--symbol", "libm.so.6:floor", "--signature", "double(dbl)"], ["--signature 'double(dbl)' is not a signature", "'dbl'"]),
        (["grad", "--symbol", "libgss-none.so:f", "--signature", "double(double)"], ["cannot load the library 'libgss-none.so'"]),
        (["grad", "--symbol", "libm.so.6:no_such_function", "--signature", "double(double)"], ["has no function 'no_such_function'"]),
        (["grad", "--symbol", "libm.so.6:floor", "--signature", "void(const double*,double*)"], ["needs --n and --m"]),
        (["grad", "--symbol", "libm.so.6:fmax", "--signature", "double(double,double)", "--x", "1"], ["--x needs 2 numbers"]),
    ])
    func usageErrors(arguments: [String], phrases: [String]) throws {
        try expectFailure(arguments, status: 2, mentions: phrases)
    }
}

@Suite("gss with C functions through libffi")
struct SymbolCommandTests {
    static let fixture = Products.fixture("cfunctions")

    /// Σ_k μ((k − x)/γ)/γ: the slope of E[floor(x + γε)] (a unit step at every integer).
    static func floorSlope(_ x: Double, scale: Double) -> Double {
        (-40...40).reduce(0) { $0 + Distribution.logistic.density((Double($1) - x) / scale) / scale }
    }

    @Test("floor and floorf from libm: the smoothed staircase's slope", arguments: ["double(double)", "float(float)"])
    func floor(signature: String) throws {
        let function = signature.hasPrefix("float") ? "floorf" : "floor"
        let estimate = try Estimate([
            "--symbol", "libm.so.6:" + function, "--signature", signature, "--x", "0.3", "--scale", "0.25",
            "--samples", "40000", "--seed", "3",
        ])
        estimate.expectJacobian([[Self.floorSlope(0.3, scale: 0.25)]])
    }

    @Test("fmax and fmaxf under Gaussian noise: ∂/∂x0 = Φ((x0 − x1)/√2)", arguments: ["double(double,double)", "float(float,float)"])
    func fmax(signature: String) throws {
        let function = signature.hasPrefix("float") ? "fmaxf" : "fmax"
        let estimate = try Estimate([
            "--symbol", "libm.so.6:" + function, "--signature", signature, "--x", "0.2,-0.3", "--dist", "gaussian",
            "--samples", "40000", "--seed", "6",
        ])
        let p = Distribution.gaussian.cdf(0.5 / 2.0.squareRoot())
        estimate.expectJacobian([[p, 1 - p]])
    }

    @Test("an array function of a test library: an affine map's Jacobian is its matrix")
    func affine() throws {
        let estimate = try Estimate([
            "--symbol", Self.fixture + ":gss_fixture_affine", "--signature", "void(const double*, double*)",
            "--n", "3", "--m", "2", "--x", "1,2,4", "--samples", "20000", "--seed", "8",
        ])
        estimate.expectJacobian([[2, -1, 0.5], [-1, 0, 3]])
        estimate.expectValue([3, 9])
    }

    @Test("an array function that writes y[0] of m = 2 fails grad as it fails eval (unwritten outputs are NaN)")
    func unwrittenOutput() throws {
        let function = ["--symbol", Self.fixture + ":gss_fixture_first_of_two", "--signature", "void(const double*, double*)",
                        "--n", "1", "--m", "2", "--x", "0.5"]
        try expectFailure(["grad"] + function + ["--samples", "256", "--seed", "1"], status: 1,
                          mentions: ["failed at ", "non-finite output (nan in output 1)"])
        try expectFailure(["eval"] + function, status: 1, mentions: ["non-finite output (nan in output 1)"])
    }

    @Test("an array function with a step in each coordinate: a diagonal of logistic densities")
    func steps() throws {
        let estimate = try Estimate([
            "--symbol", Self.fixture + ":gss_fixture_steps", "--signature", "void(const double*,double*)",
            "--n", "2", "--m", "2", "--x", "0.4,-1.1", "--samples", "20000", "--seed", "9", "--serialize-calls",
        ])
        estimate.expectJacobian([[stepSlope(0.4, scale: 1), 0], [0, stepSlope(-1.1, scale: 1)]])
    }

    @Test("eval: integer arguments round to the nearest integer, halves to even")
    func evalRounding() throws {
        let run = try runGSS(["eval", "--symbol", Self.fixture + ":gss_fixture_digits", "--signature", "int32(int32,int32)", "--x", "2.5,-3.5"])
        #expect(run.status == 0 && run.stdout.contains("[16.0]"), "\(run.stdout) \(run.stderr)")
    }

    @Test("an input beyond an int argument's range fails the run (exit 1), naming the row")
    func outOfRange() throws {
        try expectFailure(
            ["grad", "--symbol", Self.fixture + ":gss_fixture_digits", "--signature", "int32(int32,int32)", "--x", "3e9,1", "--seed", "1"],
            status: 1, mentions: ["C function 'gss_fixture_digits' from", "failed at sample", "does not fit the int32 argument 1"])
    }
}

@Suite("The README's external programs and C functions")
struct ReadmeExternalTests {
    static let readme = (try? String(contentsOfFile: Products.repositoryRoot + "/README.md", encoding: .utf8)) ?? ""

    /// The text of the README's fenced block that follows `marker` (e.g. "```python\n").
    static func block(after marker: String, occurrence: Int = 0) throws -> String {
        var searchStart = readme.startIndex
        var start = try #require(readme.range(of: marker))
        for _ in 0..<occurrence {
            searchStart = start.upperBound
            start = try #require(readme.range(of: marker, range: searchStart..<readme.endIndex))
        }
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        return String(readme[start.upperBound..<end.lowerBound])
    }

    /// Runs a README command line (with gss for `gss`) in `directory`.
    static func shell(_ command: String, in directory: String) throws -> ProgramRun {
        #expect(readme.contains("    " + command + "\n"), "the README lacks the command: \(command)")
        let line = command.hasPrefix("gss ") ? "'\(Products.gss)'" + command.dropFirst(3) : command
        return try runProgram("/bin/sh", ["-c", "cd '\(directory)' && " + line])
    }

    @Test("the --exec example: f.py as printed, and the command that runs it")
    func execExample() throws {
        let directory = try temporaryDirectory("readme-exec")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.block(after: "```python\n").write(toFile: directory + "/f.py", atomically: true, encoding: .utf8)
        let run = try Self.shell("gss grad --exec 'python3 f.py' --n 3 --m 1 --x 0.1,0.2,0.3", in: directory)
        #expect(run.status == 0 && run.stdout.contains("∂/∂x2"), "\(run.stderr)")
        let each = try Self.shell(
            "gss grad --exec-each \"awk 'BEGIN { print ({x0} > 0 && {x1} > 0) }'\" --n 2 --m 1 --x 0.3,0.5", in: directory)
        #expect(each.status == 0 && each.stdout.contains("∂/∂x1"), "\(each.stderr)")
    }

    @Test("floor from libm, and examples/c-function compiled with cc -shared as printed")
    func symbolExamples() throws {
        let source = try String(contentsOfFile: Products.repositoryRoot + "/examples/c-function/staircase.c", encoding: .utf8)
        #expect(try Self.block(after: "```c\n", occurrence: 1) == source, "the README's staircase.c is out of date")
        let floorRun = try Self.shell("gss grad --symbol libm.so.6:floor --signature 'double(double)' --x 0.3", in: Products.repositoryRoot)
        #expect(floorRun.status == 0 && floorRun.stdout.contains("∂/∂x0"), "\(floorRun.stderr)")

        // Build into a scratch copy of the repository's examples, so the source tree stays clean.
        let directory = try temporaryDirectory("readme-c-function")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/examples/c-function", withIntermediateDirectories: true)
        try source.write(toFile: directory + "/examples/c-function/staircase.c", atomically: true, encoding: .utf8)
        let built = try Self.shell("cc -shared -fPIC -O2 examples/c-function/staircase.c -o libstaircase.so -lm", in: directory)
        try #require(built.status == 0, "cc failed: \(built.stderr)")
        let smooth = try Self.shell(
            "gss grad --symbol ./libstaircase.so:staircase --signature 'void(const double*,double*)' --n 2 --m 2 --x 0.3,-1.2",
            in: directory)
        #expect(smooth.status == 0 && smooth.stdout.contains("∂/∂x1"), "\(smooth.stderr)")

        let estimate = try Estimate([
            "--symbol", directory + "/libstaircase.so:staircase", "--signature", "void(const double*,double*)",
            "--n", "2", "--m", "2", "--x", "0.3,-1.2", "--samples", "40000", "--seed", "12",
        ])
        // round() steps at every k + ½; the count of positives steps at 0.
        func roundSlope(_ x: Double) -> Double { (-40...40).reduce(0) { $0 + Distribution.logistic.density(Double($1) + 0.5 - x) } }
        estimate.expectJacobian([[roundSlope(0.3), roundSlope(-1.2)], [stepSlope(0.3, scale: 1), stepSlope(-1.2, scale: 1)]])
        let positives = Distribution.logistic.cdf(0.3) + Distribution.logistic.cdf(-1.2)
        #expect(abs(estimate.value[1] - positives) <= 5 * estimate.valueStderr[1])
    }
}
