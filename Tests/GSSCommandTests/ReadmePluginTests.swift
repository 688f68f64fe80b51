import Foundation
import GSSCore
import GSSTestSupport
import RealModule
import Testing

@Suite("The README's minimal plugin, compiled by hand")
struct ReadmePluginTests {
    @Test("cc -shared -fPIC -Iinclude builds it and gss grad smooths it to the closed form")
    func handCompiledPlugin() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gss-readme-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let library = directory.appendingPathComponent("libthreshold.so").path
        let compile = try runProgram("/usr/bin/env", [
            "cc", "-shared", "-fPIC", "-O2", "-I", Products.repositoryRoot + "/include",
            Products.repositoryRoot + "/examples/minimal-plugin/threshold.c", "-o", library,
        ])
        #expect(compile.status == 0, "cc failed: \(compile.stderr)")
        let run = try runGSS(["grad", library, "--x", "0.3,-0.1", "--dist", "gaussian", "--samples", "20000",
                              "--seed", "1", "--format", "json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try json(run.stdout)
        let jacobian = try matrix(object["jacobian"])[0]
        let stderr = try matrix(object["jacobian_stderr"])[0]
        let value = try #require(object["value"] as? [Double])[0]
        let valueStderr = try #require(object["value_stderr"] as? [Double])[0]
        // x0 + x1 + ε0 + ε1 ~ N(0.2, 2): P(sum > 0) = Φ(0.2/√2), slope φ(0.2/√2)/√2 in each input.
        let z = 0.2 / 2.0.squareRoot()
        #expect(abs(value - Distribution.gaussian.cdf(z)) <= 5 * valueStderr)
        for j in 0..<2 {
            #expect(abs(jacobian[j] - Distribution.gaussian.density(z) / 2.0.squareRoot()) <= 5 * stderr[j])
        }
    }
}

@Suite("The README stays true")
struct ReadmeTests {
    static let readme = (try? String(contentsOfFile: Products.repositoryRoot + "/README.md", encoding: .utf8)) ?? ""

    @Test("the README's C example is exactly examples/minimal-plugin/threshold.c")
    func exampleCodeIsInSync() throws {
        let source = try String(contentsOfFile: Products.repositoryRoot + "/examples/minimal-plugin/threshold.c", encoding: .utf8)
        let start = try #require(Self.readme.range(of: "```c\n"))
        let end = try #require(Self.readme.range(of: "\n```", range: start.upperBound..<Self.readme.endIndex))
        #expect(String(Self.readme[start.upperBound..<end.lowerBound]) + "\n" == source)
    }

    @Test("the README's first two commands are the main job on a bundled plugin and the tests")
    func firstCommands() throws {
        let commands = Self.readme.split(separator: "\n").filter { $0.hasPrefix("    ") }.prefix(2).map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(commands.count == 2)
        #expect(commands.first?.contains("gss grad sorter") == true)
        #expect(commands.last == "./scripts/test.sh")
        // The test command runs the Swift tests and the Python package's tests.
        let script = try String(contentsOfFile: Products.repositoryRoot + "/scripts/test.sh", encoding: .utf8)
        #expect(script.contains("swift test") && script.contains("pytest"))
        // .ci/run must run the README's test command.
        let ci = try String(contentsOfFile: Products.repositoryRoot + "/.ci/run", encoding: .utf8)
        #expect(ci.contains(try #require(commands.last)))
    }
}
