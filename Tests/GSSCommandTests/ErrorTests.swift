import Foundation
import GSSTestSupport
import Testing

@Suite("Bad input and failing black boxes")
struct ErrorTests {
    @Test("usage errors exit 2 with one sentence naming the problem", arguments: [
        (["grad", "sorter", "--x", "0.1,abc,3,4,5"], ["--x", "'abc'", "not a finite number"]),
        (["grad", "sorter", "--x", "0.1,0.2"], ["--x needs 5 numbers", "got 2"]),
        (["grad", "no-such-plugin"], ["no bundled plugin is called 'no-such-plugin'"]),
        (["grad", "./missing/libnothing.so"], ["does not exist"]),
        (["grad", "sorter", "-o", "bogus=1"], ["unknown option 'bogus'"]),
        (["grad", "sorter", "-o", "n"], ["-o expects key=value"]),
        (["grad", "sorter", "--samples", "1"], ["--samples must be at least 2"]),
        (["grad", "sorter", "--scale", "0"], ["--scale values must be finite and positive"]),
        (["grad", "sorter", "--scale", "1,2"], ["--scale needs 1 or 5 values"]),
        (["grad", "sorter", "--dist", "uniform"], ["'uniform'", "gaussian, logistic"]),
        (["grad", "sorter", "--antithetic", "--samples", "7"], ["must be even"]),
        (["grad", "sorter", "--no-such-flag"], ["--no-such-flag"]),
        (["grad", "sorter", "--x", "@/nonexistent.json"], ["cannot read '/nonexistent.json'"]),
        (["eval", "sorter", "--x", "1,2"], ["--x needs 5 numbers"]),
        (["grad"], ["black-box"]),
    ])
    func usageErrors(arguments: [String], phrases: [String]) throws {
        try expectFailure(arguments, status: 2, mentions: phrases)
    }

    @Test("broken plugins are usage errors too (exit 2), naming the fault")
    func brokenPlugin() throws {
        try expectFailure(["grad", Products.fixture("nullentry"), "--x", "1"], status: 2, mentions: ["does not serve ABI major 1"])
    }

    @Test("a black box that fails exits 1 and names the sample and its input")
    func blackBoxFailure() throws {
        try expectFailure(["grad", Products.fixture("evalerror"), "--x", "4", "--seed", "3"], status: 1,
                          mentions: ["plugin 'eval-error' failed at sample", "GSS_E_EVALUATION", "above 5"])
        try expectFailure(["eval", Products.fixture("evalerror"), "--x", "6"], status: 1, mentions: ["failed at x = [6.0]"])
        try expectFailure(["grad", Products.fixture("evalerror"), "-o", "silent=1", "--x", "4", "--seed", "3"], status: 1,
                          mentions: ["non-finite output"])
    }

    @Test("--x from files: JSON and .npy")
    func pointFromFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gss-x-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let jsonPath = directory.appendingPathComponent("x.json").path
        try Data("[0.3, -1, 2, 0.5, -0.2]".utf8).write(to: URL(fileURLWithPath: jsonPath))
        let fromJSON = try runGSS(["eval", "sorter", "-o", "mode=ranks", "--x", "@" + jsonPath])
        #expect(fromJSON.status == 0 && fromJSON.stdout.contains("[2.0, 0.0, 4.0, 3.0, 1.0]"))
        // A hand-made .npy v1.0 file: magic, version, header padded to 128 bytes, 5 little-endian doubles.
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }"
        header += String(repeating: " ", count: 128 - 10 - header.count - 1) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8)
        for value in [0.3, -1, 2, 0.5, -0.2] { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
        let npyPath = directory.appendingPathComponent("x.npy").path
        try Data(bytes).write(to: URL(fileURLWithPath: npyPath))
        let fromNumPy = try runGSS(["eval", "sorter", "-o", "mode=ranks", "--x", "@" + npyPath])
        #expect(fromNumPy.status == 0 && fromNumPy.stdout.contains("[2.0, 0.0, 4.0, 3.0, 1.0]"), "\(fromNumPy.stderr)")
        try Data("[1, true]".utf8).write(to: URL(fileURLWithPath: jsonPath))
        try expectFailure(["eval", "sorter", "--x", "@" + jsonPath], status: 2, mentions: ["JSON array of finite numbers"])
    }
}
