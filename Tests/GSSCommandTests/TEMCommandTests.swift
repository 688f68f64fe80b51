import Foundation
import GSSTestSupport
import Testing

/// The `tem` plugin through the command: eval, grad, exit codes, and the conformance checks for
/// both engines (the external one on FakeTEMSimulator).
@Suite("gss with the tem plugin end to end")
struct TEMCommandTests {
    static let small = ["-o", "size=64"]

    func image(_ x: String, _ options: [String]) throws -> [Double] {
        let run = try runGSS(["eval", "tem", "--x", x] + options)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        return try #require(try json(run.stdout)["value"] as? [Double])
    }

    @Test("gss eval: a 64 × 64 micrograph of detector counts")
    func eval() throws {
        let counts = try image("300,0.5", Self.small)
        #expect(counts.count == 64 * 64)
        #expect(counts.allSatisfy { $0 >= 0 && $0 == $0.rounded() })
        let mean = counts.reduce(0, +) / Double(counts.count)
        #expect(abs(mean - 5000 * 0.15 * 0.15) < 5, "mean count \(mean)")  // dose × pixel area, about
    }

    @Test("gss grad: the smoothed Jacobian's x column is the image's derivative along x (finite differences of gss eval)")
    func gradAgainstFiniteDifferences() throws {
        let options = Self.small + ["-o", "noise=off"]
        let run = try runGSS(["grad", "tem", "--x", "300,0"] + options + [
            "--scale", "1,0.02", "--samples", "256", "--dist", "gaussian", "--seed", "1", "--format", "json",
        ])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let object = try json(run.stdout)
        #expect(object["n"] as? Int == 2 && object["m"] as? Int == 4096)
        let jacobian = try matrix(object["jacobian"])
        let stderr = try matrix(object["jacobian_stderr"])
        let h = 0.01
        let plus = try image("300,\(h)", options), minus = try image("300,\(-h)", options)
        let difference = zip(plus, minus).map { ($0 - $1) / (2 * h) }
        // Smoothing at γ = 0.02 nm barely blurs features of ≥ 1 nm: the estimate agrees with the
        // finite difference within its standard error (5σ), pixel by pixel.
        let deviations = (0..<4096).map { abs(jacobian[$0][1] - difference[$0]) / max(stderr[$0][1], 1e-9) }
        let within = deviations.filter { $0 < 5 }.count
        #expect(Double(within) > 0.99 * 4096, "\(4096 - within) pixels beyond 5 standard errors")
        // And the standard errors are small against the signal: the two agree in shape, too.
        let estimate = jacobian.map { $0[1] }
        func centred(_ v: [Double]) -> [Double] { let mean = v.reduce(0, +) / Double(v.count); return v.map { $0 - mean } }
        let (a, b) = (centred(estimate), centred(difference))
        func dot(_ u: [Double], _ v: [Double]) -> Double { zip(u, v).reduce(0) { $0 + $1.0 * $1.1 } }
        let correlation = dot(a, b) / (dot(a, a) * dot(b, b)).squareRoot()
        #expect(correlation > 0.99, "correlation \(correlation)")
    }

    @Test("a failing external simulator is exit 1 naming the row and the problem; a bad option is exit 2")
    func exitCodes() throws {
        let folder = try temporaryDirectory("tem-exit-codes")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let particle = folder + "/particle.pdb"
        try "ATOM\n".write(toFile: particle, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["FAKE_TEM_SIMULATOR_MODE"] = "badmode"
        let failing = try runProgram(Products.gss, [
            "eval", "tem", "-o", "engine=external", "-o", "simulator=\(Products.fakeTEMSimulator)", "-o", "particle_pdb=\(particle)",
            "-o", "size=32",
        ], environment: environment)
        #expect(failing.status == 1 && failing.stdout.isEmpty)
        #expect(failing.stderr.contains("wrote an MRC image of mode 1; expected mode 2"), "\(failing.stderr)")
        let usage = try runGSS(["eval", "tem", "-o", "params=voltage,colour"])
        #expect(usage.status == 2 && usage.stderr.contains("params='voltage,colour'"), "\(usage.stderr)")
    }

    @Test("both engines pass gss conform", arguments: [
        ["-o", "size=64"],
        ["-o", "engine=external", "-o", "simulator=\(Products.fakeTEMSimulator)", "-o", "size=32"],
    ])
    func conformance(options: [String]) throws {
        let folder = try temporaryDirectory("tem-conform")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let particle = folder + "/particle.pdb"
        try "ATOM\n".write(toFile: particle, atomically: true, encoding: .utf8)
        let external = options.contains("engine=external")
        let run = try runGSS(["conform", "tem", "--cycles", "100"] + options + (external ? ["-o", "particle_pdb=\(particle)"] : []))
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("16 checks: 16 passed, 0 failed, 0 skipped"), "\(run.stdout)")
    }
}
