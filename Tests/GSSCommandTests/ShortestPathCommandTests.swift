import Foundation
import GSSTestSupport
import Testing

/// The shortest-path plugin solves up to 8 rows at once in vector lanes (issue 19); its masks must
/// not depend on the vector width, and must be those of the solver it replaced (the fixture
/// `shortest-path-reference`, Dijkstra with a binary heap). A smoothed estimate averages thousands of
/// masks, so one differing mask changes its bytes. Gaussian noise, because libmvec's logarithms
/// (logistic) may differ by width.
@Suite("gss grad shortest-path: the same bytes at every vector width and as the previous solver")
struct ShortestPathCommandTests {
    @Test("12×12 and 9×17: SSE2, AVX2 and AVX-512 lanes and the binary-heap Dijkstra give byte-identical estimates",
          arguments: [[String](), ["-o", "rows=9", "-o", "cols=17"]])
    func sameBytesAtEveryWidthAndAsTheReference(options: [String]) throws {
        // --scale given: the reference (an ABI 1.0 plugin) has no typical scale for gss to default to.
        let settings = options + ["--dist", "gaussian", "--scale", "1", "--samples", "8192", "--seed", "19", "--format", "json"]
        var outputs: [String] = []
        for width in ["2", "4", "8"] {
            var environment = ProcessInfo.processInfo.environment
            environment["GSS_VECTOR_WIDTH"] = width
            let run = try runProgram(Products.gss, ["grad", "shortest-path"] + settings, environment: environment)
            #expect(run.status == 0, "width \(width), stderr: \(run.stderr)")
            outputs.append(run.stdout)
        }
        let reference = try runGSS(["grad", Products.fixture("shortestpathreference")] + settings)
        #expect(reference.status == 0, "stderr: \(reference.stderr)")
        #expect(!outputs[0].isEmpty && outputs[0].contains("\"jacobian\""))
        #expect(outputs[0] == outputs[1] && outputs[1] == outputs[2], "the estimate depends on the vector width")
        #expect(outputs[0] == reference.stdout, "the estimate differs from the previous solver's")
    }
}
