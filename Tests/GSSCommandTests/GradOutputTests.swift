import Foundation
import GSSTestSupport
import Testing

/// A .npy file as gss writes it: the shape from the header and the float64 data.
func readNumPy(_ path: String) throws -> (shape: [Int], values: [Double]) {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
    let header = String(decoding: bytes[10..<10 + headerLength], as: UTF8.self)
    #expect(header.contains("'descr': '<f8'") && header.contains("'fortran_order': False") && (10 + headerLength) % 64 == 0)
    let extents = header.split(separator: "(")[1].split(separator: ")")[0]
    let shape = extents.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    let data = bytes[(10 + headerLength)...]
    let values = stride(from: data.startIndex, to: data.endIndex, by: 8).map { start in
        Double(bitPattern: (0..<8).reduce(UInt64(0)) { $0 | UInt64(data[start + $1]) << (8 * $1) })
    }
    return (shape, values)
}

/// Equal up to the last bits that Foundation's JSON parser on Linux may round differently.
func nearlyEqual(_ a: [Double], _ b: [Double]?) -> Bool {
    guard let b, a.count == b.count else { return false }
    return zip(a, b).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($0)) }
}

@Suite("gss grad: --out, large outputs, progress")
struct GradOutputTests {
    static let renderer = ["grad", "renderer", "-o", "width=8", "-o", "height=6", "--samples", "32", "--seed", "4"]

    @Test("--out writes every array as .npy in the output's shape and PNGs of the value and each Jacobian column")
    func outFolder() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("gss-grad-out-\(getpid())")
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: parent) }
        let out = parent.appendingPathComponent("run").path
        let run = try runGSS(Self.renderer + ["--wrt", "scale", "--format", "json", "--out", out])
        #expect(run.status == 0, "\(run.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(names == [
            "jacobian.npy", "jacobian_stderr.npy", "jacobian_x0.png", "jacobian_x1.png", "jacobian_x2.png", "jacobian_x3.png",
            "scale_gradient.npy", "scale_gradient_stderr.npy", "value.npy", "value.png", "value_stderr.npy",
        ])
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path) == ["run"], "no staging folder is left")
        let object = try json(run.stdout)
        let value = try readNumPy(out + "/value.npy")
        #expect(value.shape == [6, 8] && nearlyEqual(value.values, object["value"] as? [Double]))
        let jacobian = try readNumPy(out + "/jacobian.npy")
        let expectedJacobian = try matrix(object["jacobian"]).flatMap { $0 }
        #expect(jacobian.shape == [6, 8, 4] && nearlyEqual(jacobian.values, expectedJacobian))
        let expectedScaleStderr = try matrix(object["scale_gradient_stderr"]).flatMap { $0 }
        #expect(nearlyEqual(try readNumPy(out + "/scale_gradient_stderr.npy").values, expectedScaleStderr))
        let png = try DecodedPNG(path: out + "/jacobian_x0.png")
        #expect(png.width == 8 && png.height == 6 && png.colorType == 0)
    }

    @Test("a failing run leaves no --out folder")
    func failureWritesNothing() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("gss-grad-fail-\(getpid())")
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: parent) }
        let out = parent.appendingPathComponent("run").path
        let run = try runGSS(["grad", Products.fixture("evalerror"), "--x", "6", "--samples", "8", "--scale", "0.1", "--out", out])
        #expect(run.status == 1, "\(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).isEmpty)
        #expect(try runGSS(["grad", "sorter", "--out", "/etc/passwd/x"]).status == 2)
    }

    @Test("the text format summarises a large output instead of listing it")
    func largeOutputSummary() throws {
        let run = try runGSS(["grad", "renderer", "-o", "width=40", "-o", "height=40", "--samples", "16", "--seed", "1", "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count < 20, "\(run.stdout)")
        #expect(run.stdout.contains("value (1600 outputs)") && run.stdout.contains("Jacobian (1600×4)") && run.stdout.contains("--out DIR"))
        // A small output is still a table.
        #expect(try runGSS(Self.renderer + ["--quiet"]).stdout.split(separator: "\n").count > 48)
    }

    @Test("progress on stderr once a run takes more than a second (lines when not a terminal); none with --quiet")
    func progress() throws {
        let slow = ["grad", "renderer", "--samples", "2048", "--threads", "1", "--seed", "1", "--format", "json"]
        let run = try runGSS(slow)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stderr.split(separator: "\n").dropFirst()  // after the note on the typical scale
        #expect(!lines.isEmpty && lines.allSatisfy { $0.hasPrefix("grad: samples ") }, "\(run.stderr)")
        #expect(lines.last?.contains("2048/2048 (100%)") == true && !run.stderr.contains("\r"))
        #expect(try runGSS(slow + ["--quiet"]).stderr.isEmpty)
        #expect(try runGSS(Self.renderer + ["--scale", "1"]).stderr.isEmpty, "a quick run shows no progress")
    }

    @Test("eval says what it waits for once a plugin's evaluation takes more than a second; not with --quiet")
    func evalProgress() throws {
        // The Hang fixture never returns for x > 2; the worker is killed after 2 s.
        let slow = ["eval", Products.fixture("hang"), "--x", "3", "--eval-timeout", "2"]
        let run = try runGSS(slow)
        #expect(run.status == 1, "\(run.stderr)")
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].hasPrefix("eval: waiting for plugin") && lines[1].hasPrefix("error: "), "\(run.stderr)")
        #expect(try runGSS(slow + ["--quiet"]).stderr.split(separator: "\n").count == 1)
        #expect(try runGSS(["eval", "sorter"]).stderr.isEmpty, "a quick evaluation shows nothing")
    }
}
