import Foundation
import GSSTestSupport
import Testing

/// A .npy file: magic, version, a header padded to 128 bytes, then `data`.
private func numPyFile(version: UInt8 = 1, shape: String, data: [Double] = [1, 2, 3, 4, 5]) -> Data {
    var header = "{'descr': '<f8', 'fortran_order': False, 'shape': \(shape), }"
    header += String(repeating: " ", count: 128 - 10 - header.utf8.count - 1) + "\n"
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0, UInt8(header.utf8.count), 0] + Array(header.utf8)
    for value in data { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
    return Data(bytes)
}

/// Writes `contents` to a fresh file named `name` and returns its path.
private func temporaryFile(_ name: String, _ contents: Data) throws -> String {
    let path = try temporaryDirectory("fuzzed") + "/" + name
    try contents.write(to: URL(fileURLWithPath: path))
    return path
}

/// Runs gss in the background and gives it `timeout` seconds: its status and stderr, or nil
/// when it had to be killed (a hang).
private func runGSSBounded(_ arguments: [String], timeout: Double) throws -> (status: Int32, stderr: String)? {
    let program = try BackgroundProgram(Products.gss, arguments, directory: try temporaryDirectory("bounded"))
    defer { program.killIfRunning() }
    guard let status = program.wait(timeout: timeout) else { return nil }
    return (status, program.standardError)
}

/// The cases the fuzzing of issue 20 found (Tests/Fuzz/corpus keeps their inputs): each was a
/// crash, a hang or a misleading message before, and is one sentence with exit 2 (bad input)
/// or 1 (the black box) now.
@Suite("Inputs found by fuzzing")
struct FuzzedInputTests {
    @Test(".npy: a huge shape is refused, not an overflow trap")
    func numPyHugeShape() throws {
        let path = try temporaryFile("huge.npy", numPyFile(shape: "(4611686018427387904, 4)"))
        try expectFailure(["eval", "sorter", "--x", "@" + path], status: 2, mentions: ["holds 40 data bytes", "needs 1.48e+20"])
    }

    @Test(".npy: negative and non-numeric shapes are refused", arguments: ["(-5,)", "(5, -1)", "(5, x)"])
    func numPyBadShape(shape: String) throws {
        let path = try temporaryFile("bad-shape.npy", numPyFile(shape: shape))
        try expectFailure(["eval", "sorter", "--x", "@" + path], status: 2, mentions: ["in its .npy header", "whole numbers ≥ 0"])
    }

    @Test(".npy: versions other than 1.0, 2.0 and 3.0 are refused", arguments: [UInt8(0), 4, 255])
    func numPyUnknownVersion(version: UInt8) throws {
        let path = try temporaryFile("version.npy", numPyFile(version: version, shape: "(5,)"))
        try expectFailure(
            ["eval", "sorter", "--x", "@" + path], status: 2, mentions: ["version \(version).0", "versions 1.0, 2.0 and 3.0"])
    }

    @Test("JSON: nesting 30 deep reads at once (its shape took time exponential in the depth)")
    func deepJSON() throws {
        let path = try temporaryFile("deep.json", Data((String(repeating: "[", count: 30) + "3,1,4,1,5" + String(repeating: "]", count: 30)).utf8))
        let run = try #require(try runGSSBounded(["eval", "sorter", "-o", "mode=ranks", "--x", "@" + path], timeout: 20), "gss hung")
        #expect(run.status == 0, "\(run.stderr)")
    }

    @Test("--samples near Int.max runs (and here fails in the black box) instead of trapping in ChunkPlan")
    func samplesNearIntMax() throws {
        try expectFailure(
            ["grad", Products.fixture("evalerror"), "--x", "4", "--seed", "1", "--samples", "\(Int.max)"], status: 1,
            mentions: ["plugin 'eval-error' failed at sample"])
    }

    @Test("requests that cannot fit in memory are refused up front with the figure", arguments: [
        ["grad", "sorter", "-o", "n=1024", "--samples", "8"],
        ["grad", "--symbol", "libm.so.6:floor", "--signature", "void(const double*,double*)", "--n", "8", "--m", "67108864",
         "--x", "1,2,3,4,5,6,7,8"],
        ["optimize", "sorter", "--steps", "1000000000", "--target-x", "5,4,3,2,1"],
    ])
    func beyondMemory(arguments: [String]) throws {
        try expectFailure(arguments, status: 2, mentions: ["GB of memory, more than this machine's"])
    }

    @Test("x + γε beyond the doubles is bad input (exit 2), not the plugin's failure")
    func overflowingScale() throws {
        try expectFailure(["grad", "sorter", "--scale", "1e308"], status: 2, mentions: ["--scale is too large", "use a smaller --scale"])
        try expectFailure(
            ["optimize", "sorter", "--target-x", "5,4,3,2,1", "--scale-start", "1", "--scale-end", "1e308"], status: 2,
            mentions: ["--scale-end is too large"])
    }

    @Test("study: a scale whose errors overflow is refused before the output folder is made")
    func studyTinyScale() throws {
        let out = try temporaryDirectory("study-scale") + "/out"
        try expectFailure(
            ["study", "variance", "--problem", "sorting", "--size", "3", "--scale", "1e-300", "--out", out], status: 2,
            mentions: ["--scale must lie between 1e-100 and 1e100"])
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test("echoed values are escaped and shortened, so the sentence keeps its reason")
    func echoedValues() throws {
        try expectFailure(["grad", "sorter", "--x", "1,2\n3"], status: 2, mentions: ["'2\\n3' (entry 1) is not a finite number"])
        let long = (1...20_000).map(String.init).joined(separator: ",") + ",abc"
        let line = try expectFailure(
            ["grad", "sorter", "--x", long], status: 2, mentions: ["(20,001 items)", "'abc' (entry 20000) is not a finite number"])
        #expect(line.count < 400, "\(line.count) characters")
        let escape = try expectFailure(["grad", "sorter", "--dist", "red\u{1B}[31m"], status: 2, mentions: ["'red\\u{1b}[31m'"])
        #expect(!escape.unicodeScalars.contains("\u{1B}"))
    }

    @Test("numeric options say what they expect, and read a negative number as the value", arguments: [
        (["grad", "sorter", "--samples", "-5"], "--samples must be at least 2, got -5"),
        (["grad", "sorter", "--samples", "abc"], "expected a whole number"),
        (["grad", "sorter", "--seed", "-1"], "expected a whole number from 0 to 18446744073709551615"),
        (["optimize", "sorter", "--target-x", "5,4,3,2,1", "--lr", "fast"], "expected a number"),
    ])
    func numericOptions(arguments: [String], phrase: String) throws {
        try expectFailure(arguments, status: 2, mentions: [phrase])
    }

    @Test("--out below a file says that it is a file")
    func outBelowFile() throws {
        let file = try temporaryFile("plain-file", Data("x".utf8))
        try expectFailure(
            ["optimize", "sorter", "--target-x", "5,4,3,2,1", "--out", file + "/x"], status: 2,
            mentions: ["is a file, not a folder"])
        try expectFailure(
            ["study", "variance", "--problem", "sorting", "--out", file + "/x"], status: 2, mentions: ["is a file, not a folder"])
    }

    @Test("--symbol naming a linker script (libm.so) names the real library")
    func linkerScript() throws {
        guard FileManager.default.fileExists(atPath: "/lib/x86_64-linux-gnu/libm.so") || FileManager.default.fileExists(atPath: "/usr/lib/x86_64-linux-gnu/libm.so")
        else { return }  // no libm.so linker script (no libc6-dev) on this machine
        try expectFailure(
            ["grad", "--symbol", "libm.so:floor", "--signature", "double(double)"], status: 2,
            mentions: ["linker script", "--symbol libm.so.6:floor"])
    }

    @Test("list shows each plugin's first sentence whole")
    func listSentences() throws {
        let run = try runGSS(["list"])
        #expect(run.status == 0)
        for line in run.stdout.split(separator: "\n").dropFirst() {
            #expect(line.hasSuffix("."), "\(line)")
            #expect(line.filter { $0 == "(" }.count == line.filter { $0 == ")" }.count, "\(line)")
        }
    }

    @Test("study prints no stale 0% line when stderr is not a terminal")
    func studyProgressInLogs() throws {
        let out = try temporaryDirectory("study-log")
        let run = try runGSS([
            "study", "variance", "--problem", "sorting", "--size", "3", "--dist", "logistic", "--repeats", "2", "--samples", "64",
            "--out", out,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stderr.contains("0%"), "\(run.stderr)")
    }

    @Test("a silent --exec program gets one word on stderr about what gss waits for")
    func silentProgram() throws {
        let program = try BackgroundProgram(
            Products.gss, ["eval", "--exec", "cat > /dev/null", "--n", "1", "--m", "1", "--x", "1"],
            directory: try temporaryDirectory("silent"))
        defer { program.killIfRunning() }
        let deadline = Date().addingTimeInterval(20)
        while !program.standardError.contains("--exec-timeout") && Date() < deadline { usleep(100_000) }
        let said = program.standardError
        #expect(said.contains("still waiting") && said.contains("mawk") && said.contains("--exec-timeout"), "\(said)")
        #expect(said.split(separator: "\n").count == 1)
        program.send(SIGTERM)
        #expect(program.wait(timeout: 10) != nil)
    }

    @Test("--version names the package and the plugin ABI")
    func version() throws {
        let run = try runGSS(["--version"])
        #expect(run.status == 0)
        #expect(run.stdout.hasPrefix("gss 0.") && run.stdout.contains("plugin ABI 1."), "\(run.stdout)")
    }
}
