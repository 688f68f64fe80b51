import Foundation
import GSSCore
import GSSTestSupport
import Testing

/// End-to-end checks of `gss grad`'s extra estimates: --wrt scale, --scale-matrix, --covariance, --median.
@Suite("gss grad: scale, scale matrix, covariance, median")
struct GradExtrasTests {
    static let baseKeys: Set<String> = ["n", "m", "samples", "seed", "value", "value_stderr", "jacobian", "jacobian_stderr"]

    /// A scratch directory for matrix files.
    static let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gss-grad-extras-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    static func file(_ name: String, _ contents: Data) throws -> String {
        let url = directory.appendingPathComponent(name)
        // Atomically: parallel test cases rewrite the same files while others read them.
        try contents.write(to: url, options: .atomic)
        return url.path
    }

    /// A .npy v1 file of float64 values with the given shape.
    static func npy(_ values: [Double], shape: [Int]) -> Data {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (\(dims)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)])
        data += Data(header.utf8)
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { data += Data($0) } }
        return data
    }

    static func json(_ run: ProgramRun, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        #expect(run.status == 0, "gss failed: \(run.stderr)", sourceLocation: sourceLocation)
        return try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], sourceLocation: sourceLocation)
    }

    /// Flattens nested JSON arrays (null → NaN) and records their shape.
    static func flatten(_ value: Any?) -> (values: [Double], shape: [Int]) {
        if let number = value as? NSNumber { return ([number.doubleValue], []) }
        if value is NSNull { return ([.nan], []) }
        guard let array = value as? [Any] else { return ([], [-1]) }
        let parts = array.map(flatten)
        return (parts.flatMap(\.values), [array.count] + (parts.first?.shape ?? []))
    }

    static let sorterArguments = ["grad", "sorter", "-o", "n=3", "--x", "0.2,-0.3,0.5", "--samples", "3000", "--seed", "17", "--dist", "gaussian", "--format", "json"]
    static let matrix: [[Double]] = [[1, 0, 0], [0.4, 0.8, 0], [-0.3, 0.6, 1.1]]

    @Test("extra keys appear only when asked for, with the documented shapes")
    func keysAndShapes() throws {
        let plain = try Self.json(try runGSS(Self.sorterArguments))
        #expect(Set(plain.keys) == Self.baseKeys)
        let withScale = try Self.json(try runGSS(Self.sorterArguments + ["--wrt", "scale"]))
        #expect(Set(withScale.keys) == Self.baseKeys.union(["scale_gradient", "scale_gradient_stderr"]))
        #expect(Self.flatten(withScale["scale_gradient"]).shape == [9, 3])
        // The Jacobian does not change when the scale gradient is added.
        #expect(Self.flatten(withScale["jacobian"]).values == Self.flatten(plain["jacobian"]).values)

        let path = try Self.file("L.json", Data("\(Self.matrix)".utf8))
        let everything = try Self.json(try runGSS(Self.sorterArguments + ["--scale-matrix", "@" + path, "--wrt", "scale", "--covariance"]))
        #expect(
            Set(everything.keys) == Self.baseKeys.union([
                "scale_matrix_gradient", "scale_matrix_gradient_stderr", "covariance", "covariance_stderr",
                "covariance_gradient", "covariance_gradient_stderr", "covariance_scale_matrix_gradient",
                "covariance_scale_matrix_gradient_stderr",
            ]))
        #expect(Self.flatten(everything["scale_matrix_gradient"]).shape == [9, 3, 3])
        #expect(Self.flatten(everything["covariance"]).shape == [9, 9])
        #expect(Self.flatten(everything["covariance_gradient"]).shape == [9, 9, 3])
        #expect(Self.flatten(everything["covariance_scale_matrix_gradient"]).shape == [9, 9, 3, 3])

        let diagonal = try Self.json(try runGSS(Self.sorterArguments + ["--covariance", "--wrt", "scale"]))
        #expect(Self.flatten(diagonal["covariance_scale_gradient"]).shape == [9, 9, 3])
        #expect(diagonal["covariance_scale_matrix_gradient"] == nil)
    }

    @Test("the CLI reports exactly what Core estimates for the same configuration")
    func agreesWithCore() throws {
        let path = try Self.file("L-agree.json", Data("\(Self.matrix)".utf8))
        let run = try runGSS(Self.sorterArguments + ["--scale-matrix", "@" + path, "--wrt", "scale", "--covariance"])
        #expect(run.status == 0, "\(run.stderr)")
        let configuration = SmoothingConfiguration(
            distribution: .gaussian, samples: 3000, sampler: .rqmcLatin, covariate: .loo, seed: 17,
            scaleMatrix: try ScaleMatrix(dimension: 3, entries: Self.matrix.flatMap { $0 }), differentiatesScale: true,
            estimatesCovariance: true)
        let estimate = try Smoother(configuration: configuration, threads: 3).estimate(Self.swiftSorter, at: [0.2, -0.3, 0.5])
        let covariance = try #require(estimate.covariance)
        let pairs: [(String, [Double])] = [
            ("value", estimate.value), ("jacobian", estimate.jacobian), ("jacobian_stderr", estimate.jacobianStderr),
            ("scale_matrix_gradient", try #require(estimate.scaleMatrixGradient)), ("covariance", covariance.matrix),
            ("covariance_gradient", covariance.gradient), ("covariance_scale_matrix_gradient", try #require(covariance.scaleGradient)),
        ]
        for (key, expected) in pairs {
            let reported = try Self.exactNumbers(key, in: run.stdout)
            let agree = zip(reported, expected).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
            #expect(reported.count == expected.count && agree, "\(key): \(reported.prefix(4)) vs \(expected.prefix(4))")
        }
    }

    /// The numbers of one top-level key (on its own line), parsed with Double(String), which rounds
    /// correctly — Foundation's JSON parser on Linux can be off by an ulp. null → NaN.
    static func exactNumbers(_ key: String, in output: String) throws -> [Double] {
        let line = try #require(output.split(separator: "\n").first { $0.hasPrefix("  \"\(key)\": ") })
        let body = line.dropFirst(key.count + 6)
        return body.split { "[], ".contains($0) }.map { Double(String($0)) ?? .nan }
    }

    @Test("a scale matrix reads the same from nested JSON, flat JSON and .npy")
    func matrixFileFormats() throws {
        let flat = Self.matrix.flatMap { $0 }
        let files = [
            try Self.file("nested.json", Data("\(Self.matrix)".utf8)),
            try Self.file("flat.json", Data("\(flat)".utf8)),
            try Self.file("matrix.npy", Self.npy(flat, shape: [3, 3])),
            try Self.file("flat.npy", Self.npy(flat, shape: [9])),
        ]
        let outputs = try files.map { try Self.json(try runGSS(Self.sorterArguments + ["--scale-matrix", "@" + $0])) }
        for output in outputs.dropFirst() {
            #expect(Self.flatten(output["jacobian"]).values == Self.flatten(outputs[0]["jacobian"]).values)
        }
    }

    @Test("median smoothing of a scalar plugin: f(x) = 2x gives value 2x and gradient 2")
    func medianOfScalarPlugin() throws {
        let output = try Self.json(try runGSS([
            "grad", Products.fixture("counting"), "-o", "n=1", "--x", "0.3", "--median", "5", "--samples", "4000",
            "--sampler", "mc", "--seed", "8", "--dist", "logistic", "--format", "json",
        ]))
        #expect(output["median"] as? Int == 5)
        let value = Self.flatten(output["value"]).values[0]
        let valueStderr = Self.flatten(output["value_stderr"]).values[0]
        let gradient = Self.flatten(output["jacobian"]).values[0]
        let gradientStderr = Self.flatten(output["jacobian_stderr"]).values[0]
        #expect(abs(value - 0.6) <= 5 * valueStderr, "value \(value) ± \(valueStderr)")
        #expect(abs(gradient - 2) <= 5 * gradientStderr, "gradient \(gradient) ± \(gradientStderr)")
    }

    @Test("text output shows every requested estimate")
    func textOutput() throws {
        let run = try runGSS(["grad", "sorter", "-o", "n=2", "--samples", "512", "--seed", "1", "--wrt", "scale", "--covariance"])
        #expect(run.status == 0, "\(run.stderr)")
        for heading in ["∂ value_i / ∂γ_j (4×2)", "output covariance G_ij (4×4)", "∂G_ij / ∂x_k (4×4×2)", "∂G_ij / ∂γ_k (4×4×2)"] {
            #expect(run.stdout.contains(heading), "missing \(heading)")
        }
        let median = try runGSS(["grad", Products.fixture("counting"), "-o", "n=1", "--x", "0", "--median", "3", "--samples", "256", "--seed", "1"])
        #expect(median.status == 0 && median.stdout.contains("3-sample median smoothing"), "\(median.stderr)")
    }

    @Test(
        "bad combinations are usage errors with one sentence naming the problem",
        arguments: [
            (["--scale-matrix", "@SINGULAR"], "singular"),
            (["--scale-matrix", "@NEAR"], "numerically singular"),
            (["--scale-matrix", "@RECTANGULAR"], "must be 3×3"),
            (["--scale-matrix", "@RAGGED"], "rows of different lengths"),
            (["--scale-matrix", "NOAT"], "expects @FILE"),
            (["--scale", "2", "--scale-matrix", "@GOOD"], "cannot be combined"),
            (["--dist", "cauchy", "--scale-matrix", "@GOOD", "--wrt", "scale"], "cauchy"),
            (["--median", "5"], "scalar function"),
            (["--wrt", "gamma"], "--wrt"),
        ])
    func usageErrors(arguments: [String], fragment: String) throws {
        let files: [String: String] = [
            "SINGULAR": try Self.file("singular.json", Data("[[1, 2, 3], [2, 4, 6], [0, 0, 1]]".utf8)),
            "NEAR": try Self.file("near.json", Data("[[1, 1, 0], [1, 1.000000000000001, 0], [0, 0, 1]]".utf8)),
            "RECTANGULAR": try Self.file("rectangular.json", Data("[[1, 0, 0], [0, 1, 0]]".utf8)),
            "RAGGED": try Self.file("ragged.json", Data("[[1, 0, 0], [0, 1], [0, 0, 1]]".utf8)),
            "GOOD": try Self.file("good.json", Data("\(Self.matrix)".utf8)),
        ]
        let resolved = arguments.map { argument in
            files.first { argument == "@" + $0.key }.map { "@" + $0.value } ?? argument
        }
        let run = try runGSS(["grad", "sorter", "-o", "n=3", "--samples", "256", "--seed", "1", "--format", "json"] + resolved)
        #expect(run.status == 2, "\(arguments): status \(run.status), stderr \(run.stderr)")
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.contains(fragment), "\(arguments): \(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1, "one line: \(run.stderr)")
    }

    @Test("a median with antithetic pairs, K above s, and an image-sized covariance are refused")
    func moreUsageErrors() throws {
        let counting = ["grad", Products.fixture("counting"), "-o", "n=1", "--x", "0", "--samples", "100", "--seed", "1"]
        for (extra, fragment) in [(["--median", "3", "--antithetic"], "antithetic"), (["--median", "101"], "2 ≤ K"), (["--median", "100"], "leave-one-out")] {
            let run = try runGSS(counting + extra)
            #expect(run.status == 2 && run.stderr.contains(fragment), "\(extra): \(run.stderr)")
        }
        let image = try runGSS(["grad", "shortest-path", "-o", "rows=30", "-o", "cols=30", "--covariance", "--samples", "64", "--seed", "1"])
        #expect(image.status == 2 && image.stderr.contains("--covariance would produce"), "\(image.stderr)")
    }

    @Test("what cannot be estimated is refused instead of printed as null: a 1e-308·I scale matrix, one antithetic pair, one covariance batch")
    func undefinedEstimatesAreRefused() throws {
        let tiny = try Self.file("tiny.json", Data("[[1e-308, 0, 0], [0, 1e-308, 0], [0, 0, 1e-308]]".utf8))
        let sorter = ["grad", "sorter", "-o", "n=3", "--seed", "1", "--format", "json"]
        try expectFailure(sorter + ["--samples", "256", "--scale-matrix", "@" + tiny], status: 2,
                          mentions: ["--scale-matrix is too small to estimate with: its inverse has an entry of ", "rescale the inputs"])
        try expectFailure(sorter + ["--samples", "2", "--antithetic"], status: 2,
                          mentions: ["--antithetic needs --samples of at least 4"])
        try expectFailure(sorter + ["--samples", "32", "--covariance"], status: 2,
                          mentions: ["--covariance needs more than 32 samples"])
        // Just enough: every number printed is a number.
        for extra in [["--samples", "4", "--antithetic"], ["--samples", "34", "--covariance"]] {
            let run = try runGSS(sorter + extra)
            #expect(run.status == 0 && !run.stdout.contains("null") && !run.stdout.contains("nan"), "\(extra): \(run.stdout) \(run.stderr)")
        }
    }

    @Test("memory for the covariance and scale derivatives does not grow with the number of samples")
    func memoryIndependentOfSamples() throws {
        func peak(_ samples: Int) throws -> Int {
            let run = try runGSS(["grad", "sorter", "-o", "n=3", "--samples", "\(samples)", "--seed", "1", "--covariance", "--wrt", "scale", "--format", "json"])
            #expect(run.status == 0, "\(run.stderr)")
            return run.maxResidentKiB
        }
        let small = try peak(10_000)
        let large = try peak(800_000)
        // 80 times the samples: keeping even one number per sample would add 6 MiB.
        #expect(large - small < 3 * 1024, "peak \(small) KiB at s = 10⁴, \(large) KiB at s = 8·10⁵")
    }

    /// The bundled sorter's function in Swift (P[i·n + j] = 1 iff x_i has ascending rank j).
    static let swiftSorter = ClosureBlackBox(inputCount: 3, outputCount: 9) { x in
        var y = [Double](repeating: 0, count: 9)
        for i in 0..<3 {
            let rank = (0..<3).filter { x[$0] < x[i] || (x[$0] == x[i] && $0 < i) }.count
            y[i * 3 + rank] = 1
        }
        return y
    }
}
