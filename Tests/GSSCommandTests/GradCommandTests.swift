import Foundation
import GSSCore
import GSSTestSupport
import Testing

/// Parses gss's JSON output.
func json(_ text: String) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
    return try #require(object as? [String: Any], "not a JSON object: \(text)")
}

func matrix(_ value: Any?) throws -> [[Double]] {
    try #require(value as? [[Double]], "not a matrix of numbers")
}

@Suite("gss grad end to end")
struct GradCommandTests {
    static let x = "-0.71,-0.29,0.04,0.36,0.82"

    @Test("the README's command prints CLI.md's JSON, and its Jacobian matches the exact one")
    func sorterJacobianMatchesExact() throws {
        let run = try runGSS(["grad", "sorter", "--x", Self.x, "--dist", "logistic", "--samples", "4096",
                              "--sampler", "mc", "--covariate", "loo", "--seed", "1", "--format", "json"])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let object = try json(run.stdout)
        #expect(object["n"] as? Int == 5 && object["m"] as? Int == 25 && object["samples"] as? Int == 4096)
        let value = try #require(object["value"] as? [Double])
        let jacobian = try matrix(object["jacobian"])
        let stderr = try matrix(object["jacobian_stderr"])
        #expect(value.count == 25 && jacobian.count == 25 && jacobian.allSatisfy { $0.count == 5 } && stderr.count == 25)
        let point = Self.x.split(separator: ",").map { Double($0)! }
        let exact = SmoothedSorting(distribution: .logistic, scale: [1]).jacobian(at: point)
        var worst = 0.0
        for i in 0..<25 {
            for j in 0..<5 { worst = max(worst, abs(jacobian[i][j] - exact[i * 5 + j]) / stderr[i][j]) }
        }
        #expect(worst <= 5, "largest deviation from the exact Jacobian: \(worst) standard errors")
    }

    @Test("the same seed gives byte-identical output for any --threads")
    func reproducibleAcrossThreads() throws {
        let arguments = ["grad", "sorter", "--samples", "50000", "--seed", "7", "--format", "json"]
        let one = try runGSS(arguments + ["--threads", "1"])
        let three = try runGSS(arguments + ["--threads", "3"])
        #expect(one.status == 0 && three.status == 0)
        #expect(one.stdout == three.stdout)
        // The numbers must change with the seed (the output's seed field always does).
        let otherSeed = try runGSS(["grad", "sorter", "--samples", "50000", "--seed", "8", "--format", "json"])
        #expect(try matrix(json(otherSeed.stdout)["jacobian"]) != matrix(json(one.stdout)["jacobian"]))
    }

    // The C kernels (Latin hypercube, Gaussian quantile, fused moment sums, one and two vectors
    // side by side) promise the same bits at every vector width: no fused multiply-adds, no
    // reordered sums. Gaussian noise, because libmvec's logarithms (logistic) may differ by width.
    @Test("the same seed gives byte-identical output at every vector width (SSE2, AVX2, AVX-512)")
    func sameBitsAtEveryVectorWidth() throws {
        let sorter = ["grad", "sorter", "--x", Self.x, "--dist", "gaussian", "--sampler", "rqmc-latin", "--seed", "3",
                      "--format", "json"]
        for arguments in [
            sorter + ["--samples", "4096"],
            sorter + ["--samples", "4096", "--antithetic"],
            ["grad", "renderer", "--dist", "gaussian", "--samples", "64", "--seed", "2", "--format", "json"],
        ] {
            let outputs = try ["2", "4", "8"].map { width in
                var environment = ProcessInfo.processInfo.environment
                environment["GSS_VECTOR_WIDTH"] = width
                let run = try runProgram(Products.gss, arguments, environment: environment)
                #expect(run.status == 0, "stderr: \(run.stderr)")
                return run.stdout
            }
            #expect(!outputs[0].isEmpty && outputs[0] == outputs[1] && outputs[1] == outputs[2], "\(arguments)")
        }
    }

    @Test("without --seed a random seed is used and reported")
    func randomSeedIsReported() throws {
        let run = try runGSS(["grad", "sorter", "--samples", "64", "--format", "json"])
        #expect(run.status == 0)
        #expect(try json(run.stdout)["seed"] is Int)
    }

    @Test("text output is the default and readable")
    func textOutput() throws {
        let run = try runGSS(["grad", "sorter", "--samples", "256", "--seed", "2"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("logistic noise") && run.stdout.contains("seed 2") && run.stdout.contains("∂/∂x4"))
    }

    @Test("memory does not grow with the number of samples")
    func memoryIsFlat() throws {
        func peak(_ samples: Int) throws -> Int {
            let run = try runGSS(["grad", "sorter", "--samples", "\(samples)", "--sampler", "mc", "--seed", "1", "--threads", "2", "--format", "json"])
            #expect(run.status == 0)
            return run.maxResidentKiB
        }
        let small = try peak(1 << 16)
        let large = try peak(1 << 20)
        #expect(Double(large) <= 1.1 * Double(small) + 2048, "peak memory \(small) KiB at s = 2^16 but \(large) KiB at s = 2^20")
    }
}

@Suite("gss list, info, eval")
struct OtherCommandTests {
    @Test("list shows the bundled plugins with their sizes")
    func list() throws {
        let run = try runGSS(["list"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("sorter") && run.stdout.contains("shortest-path"))
        #expect(!run.stdout.contains("fixture"))
        let listed = try #require(try JSONSerialization.jsonObject(with: Data(try runGSS(["list", "--format", "json"]).stdout.utf8)) as? [[String: Any]])
        let sorter = try #require(listed.first { $0["id"] as? String == "sorter" })
        #expect(sorter["n"] as? Int == 5 && sorter["m"] as? Int == 25)
    }

    @Test("info describes the plugin, its flags, options and shape")
    func info() throws {
        let run = try runGSS(["info", "sorter", "-o", "n=4"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("inputs n:      4") && run.stdout.contains("reentrant, deterministic") && run.stdout.contains("4 × 4"))
        #expect(run.stdout.contains("mode=permutation|ranks"))
    }

    @Test("eval prints f(x) as JSON")
    func eval() throws {
        let run = try runGSS(["eval", "sorter", "-o", "mode=ranks", "--x", "0.3,-1,2,0.5,-0.2"])
        #expect(run.status == 0)
        #expect(try json(run.stdout)["value"] as? [Double] == [2, 0, 4, 3, 1])
    }
}
