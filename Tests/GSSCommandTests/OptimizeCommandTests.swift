import Foundation
import GSSTestSupport
import Testing

@Suite("gss optimize end to end")
struct OptimizeCommandTests {
    /// A ground-truth camera for the renderer and a start about 22° away from it.
    static let truth = [3.0, 30, 20, 20]
    static let renderer = ["renderer", "-o", "width=24", "-o", "height=24"]
    /// appendix D's settings, shortened to 300 steps on a 24 × 24 image.
    static let poseSettings = [
        "--target-x", "3,30,20,20", "--x0", "3.5,50,35,25", "--steps", "300", "--lr", "0.3", "--beta1", "0.5", "--beta2", "0.99",
        "--scale-start", "0.5,25,25,1", "--scale-end", "0.01,0.5,0.5,0.02", "--samples", "32", "--sampler", "sobol", "--quiet",
    ]
    static let sorterSettings = [
        "sorter", "--target-x", "0.5,-0.3,0.9,0.1,-0.8", "--x0", "-0.5,0.3,-0.9,-0.1,0.8", "--steps", "100", "--lr", "0.1",
        "--scale-start", "1", "--scale-end", "0.1", "--samples", "256", "--quiet",
    ]

    /// Degrees between the viewing directions of two (distance, azimuth°, elevation°, …) poses.
    static func viewAngle(_ a: [Double], _ b: [Double]) -> Double {
        func direction(_ p: [Double]) -> [Double] {
            let az = p[1] * .pi / 180, el = p[2] * .pi / 180
            return [cos(el) * cos(az), cos(el) * sin(az), sin(el)]
        }
        let cosine = zip(direction(a), direction(b)).map(*).reduce(0, +)
        return acos(min(1, max(-1, cosine))) * 180 / .pi
    }

    func optimize(_ arguments: [String]) throws -> [String: Any] {
        let run = try runGSS(["optimize"] + arguments + ["--format", "json"])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        return try json(run.stdout)
    }

    @Test("the hard renderer's camera is recovered within 3° by either kind of smoothing", arguments: ["algorithm", "objective"])
    func rendererPose(smooth: String) throws {
        let result = try optimize(Self.renderer + Self.poseSettings + ["--smooth", smooth, "--seed", "1"])
        let x = try #require(result["x"] as? [Double])
        let error = Self.viewAngle(x, Self.truth)
        #expect(Self.viewAngle([3.5, 50, 35, 25], Self.truth) > 20)
        #expect(error < 3, "\(smooth): ended at \(x), \(error)° from the truth")
        let loss = try #require(result["loss"] as? Double), initial = try #require(result["initial_loss"] as? Double)
        #expect(loss < initial / 10, "\(smooth): loss \(initial) → \(loss)")
    }

    @Test("the sorter reaches the target permutation (loss 0) by either kind of smoothing", arguments: ["algorithm", "objective"])
    func sorterPermutation(smooth: String) throws {
        let result = try optimize(Self.sorterSettings + ["--smooth", smooth, "--seed", "2"])
        #expect(result["initial_loss"] as? Double == 0.32)
        #expect(result["loss"] as? Double == 0, "\(smooth): ended at \(result["x"] ?? "?")")
    }

    @Test("JSON: settings, x and its unsmoothed loss, and one history entry (step, loss, x_t) per step")
    func jsonShape() throws {
        let result = try optimize(Self.sorterSettings + ["--steps", "7", "--seed", "4"])
        #expect(result["n"] as? Int == 5 && result["m"] as? Int == 25 && result["steps"] as? Int == 7)
        #expect(result["samples"] as? Int == 256 && result["seed"] as? Int == 4 && result["smooth"] as? String == "algorithm")
        #expect(result["x0"] as? [Double] == [-0.5, 0.3, -0.9, -0.1, 0.8])
        let x = try #require(result["x"] as? [Double])
        #expect(x.count == 5)
        let history = try #require(result["history"] as? [[String: Any]])
        #expect(history.count == 7)
        for (t, entry) in history.enumerated() {
            #expect(Set(entry.keys) == ["step", "loss", "x"])
            #expect(entry["step"] as? Int == t && (entry["x"] as? [Double])?.count == 5 && entry["loss"] is Double)
        }
        #expect(history[0]["x"] as? [Double] == [-0.5, 0.3, -0.9, -0.1, 0.8])
        #expect(history[6]["x"] as? [Double] != x)
        // The final loss is the unsmoothed one: f(x) against f(X*) by `gss eval`.
        let at = try json(runGSS(["eval", "sorter", "--x", x.map { "\($0)" }.joined(separator: ",")]).stdout)["value"] as? [Double]
        let target = try json(runGSS(["eval", "sorter", "--x", "0.5,-0.3,0.9,0.1,-0.8"]).stdout)["value"] as? [Double]
        let output: [Double] = try #require(at)
        let wanted: [Double] = try #require(target)
        var sum = 0.0
        for i in 0..<25 { sum += (output[i] - wanted[i]) * (output[i] - wanted[i]) }
        let mse = sum / 25
        #expect(result["loss"] as? Double == mse)
    }

    @Test("--target @FILE equals --target-x with f(X*) written to a file; the same seed repeats for any --threads")
    func targetFileAndReproducibility() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gss-optimize-target-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let value = try #require(try json(runGSS(["eval", "sorter", "--x", "0.5,-0.3,0.9,0.1,-0.8"]).stdout)["value"] as? [Double])
        let path = folder.appendingPathComponent("target.json").path
        try Data(("[" + value.map { "\($0)" }.joined(separator: ", ") + "]").utf8).write(to: URL(fileURLWithPath: path))
        var fromFile = Self.sorterSettings
        fromFile.replaceSubrange(1...2, with: ["--target", "@" + path])
        let common = ["--steps", "20", "--seed", "9", "--format", "json"]
        let a = try runGSS(["optimize"] + Self.sorterSettings + common + ["--threads", "1"])
        let b = try runGSS(["optimize"] + fromFile + common + ["--threads", "3"])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        #expect(a.stdout == b.stdout)
        let c = try runGSS(["optimize"] + Self.sorterSettings + ["--steps", "20", "--seed", "10", "--format", "json"])
        #expect(c.stdout != a.stdout)
    }

    @Test("text output by default; progress on stderr every 5% of the steps when it is not a terminal, none with --quiet")
    func textAndProgress() throws {
        let arguments = Self.sorterSettings.filter { $0 != "--quiet" } + ["--steps", "40", "--seed", "1"]
        let run = try runGSS(["optimize"] + arguments)
        #expect(run.status == 0)
        #expect(run.stdout.contains("result  x  =") && run.stdout.contains("smoothing the algorithm"))
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 20 && lines.allSatisfy { $0.hasPrefix("optimize: step ") }, "\(run.stderr)")
        #expect(lines.last?.contains("step 40/40 (100%)") == true)
        #expect(!run.stderr.contains("\r"))
        #expect(try runGSS(["optimize"] + arguments + ["--quiet"]).stderr.isEmpty)
    }

    @Test("--out writes target, start and result PNGs of the output's 2-D shape, the loss curve and the JSON")
    func pictures() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("gss-optimize-out-\(getpid())")
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: parent) }
        let out = parent.appendingPathComponent("run").path
        let arguments = Self.renderer + Self.poseSettings + ["--steps", "30", "--seed", "3", "--out", out, "--format", "json"]
        let run = try runGSS(["optimize"] + arguments)
        #expect(run.status == 0, "\(run.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(names == ["loss.svg", "result.json", "result.png", "start.png", "target.png"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path) == ["run"], "no staging folder is left")
        let result = try json(run.stdout)
        #expect(try String(contentsOfFile: out + "/result.json", encoding: .utf8) == run.stdout)
        // Each PNG is 24 × 24 grey and holds f at its point: the renderer's values are in [0, 1].
        let x = try #require(result["x"] as? [Double])
        for (name, point) in [("target", Self.truth), ("start", [3.5, 50, 35, 25]), ("result", x)] {
            let png = try DecodedPNG(path: "\(out)/\(name).png")
            #expect(png.width == 24 && png.height == 24 && png.colorType == 0)
            let values = try #require(try json(runGSS(["eval"] + Self.renderer + ["--x", point.map { "\($0)" }.joined(separator: ",")]).stdout)["value"] as? [Double])
            #expect(png.pixels == values.map { UInt8(($0 * 255).rounded()) }, "\(name).png")
        }
        let svg = try String(contentsOfFile: out + "/loss.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("<polyline"))
        let attributes = try FileManager.default.attributesOfItem(atPath: out)
        #expect((attributes[.posixPermissions] as? Int ?? 0) & 0o055 != 0, "the folder is readable by others like any new folder")

        // Into an existing folder: its other files stay, ours are replaced.
        try Data("keep".utf8).write(to: URL(fileURLWithPath: out + "/notes.txt"))
        #expect(try runGSS(["optimize"] + arguments).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["loss.svg", "notes.txt", "result.json", "result.png", "start.png", "target.png"])
    }

    @Test("an output without a 2-D shape gets the loss curve and JSON but no images")
    func noImagesWithoutShape() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("gss-optimize-flat-\(getpid())")
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: parent) }
        let out = parent.appendingPathComponent("run").path
        let run = try runGSS(["optimize", Products.fixture("evalerror"), "--target", "2", "--x0", "1", "--steps", "5", "--samples", "8",
                              "--scale", "0.1", "--quiet", "--out", out])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["loss.svg", "result.json"])
    }

    @Test("a failing black box exits 1 naming step, sample and input, and --out stays unwritten")
    func failure() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("gss-optimize-fail-\(getpid())")
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: parent) }
        let out = parent.appendingPathComponent("run").path
        let run = try runGSS(["optimize", Products.fixture("evalerror"), "--target", "8", "--x0", "4.9", "--scale", "1", "--samples", "16",
                              "--seed", "1", "--out", out])
        #expect(run.status == 1 && run.stdout.isEmpty)
        #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
        #expect(run.stderr.hasPrefix("error: step 0: plugin 'eval-error' failed at sample") && run.stderr.contains("(input ["), "\(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).isEmpty, "nothing written on failure")
        // The target point itself failing is a black-box failure too.
        let target = try runGSS(["optimize", Products.fixture("evalerror"), "--target-x", "6", "--x0", "1", "--quiet"])
        #expect(target.status == 1 && target.stderr.contains("failed at --target-x (input [6.0])"), "\(target.stderr)")
    }

    @Test("usage errors exit 2 with one sentence", arguments: [
        (["--x0", "1,2"], "--x0 needs 5 numbers"),
        (["--target-x", "1,2,3"], "--target-x needs 5 numbers"),
        (["--steps", "0"], "--steps must be at least 1"),
        (["--lr", "0"], "--lr must be finite and positive"),
        (["--lr=-0.5"], "--lr must be finite and positive"),
        (["--samples", "1"], "--samples must be at least 2"),
        (["--beta1", "1"], "--beta1 must lie in [0, 1)"),
        (["--scale-start", "0"], "--scale-start values must be finite and positive"),
        (["--scale-end", "-1"], "--scale-end values must be finite and positive"),
        (["--scale-start", "1,2"], "--scale-start needs 1 or 5 values"),
        (["--scale", "0.5"], "either --scale (constant) or --scale-start"),
        (["--smooth", "both"], "'both'"),
        (["--x", "1,2,3,4,5"], "optimize starts from --x0"),
        (["--target", "1,2,3"], "give the target once"),
        (["--sampler", "rqmc-cartesian", "--samples", "20"], "rqmc-cartesian"),
        (["--out", "/nonexistent-gss-folder/run"], "parent folder '/nonexistent-gss-folder' does not exist"),
    ])
    func usageErrors(extra: [String], phrase: String) throws {
        // Options given later win, so each case overrides one of the good settings.
        let run = try runGSS(["optimize"] + Self.sorterSettings + extra)
        #expect(run.status == 2, "exit \(run.status): \(run.stderr)")
        #expect(run.stdout.isEmpty && run.stderr.split(separator: "\n").count == 1 && run.stderr.hasPrefix("error: "), "\(run.stderr)")
        #expect(run.stderr.contains(phrase), "stderr lacks '\(phrase)': \(run.stderr)")
    }

    @Test("--target with the wrong number of values, or neither target, are usage errors")
    func targetCount() throws {
        let wrong = try runGSS(["optimize", "sorter", "--target", "1,0,0", "--x0", "0,1,2,3,4", "--quiet"])
        #expect(wrong.status == 2 && wrong.stderr.contains("--target needs 25 numbers"), "\(wrong.stderr)")
        let none = try runGSS(["optimize", "sorter", "--x0", "0,1,2,3,4"])
        #expect(none.status == 2 && none.stderr.contains("give the target once"), "\(none.stderr)")
        let half = try runGSS(["optimize", "sorter", "--target-x", "0,1,2,3,4", "--scale-start", "1"])
        #expect(half.status == 2 && half.stderr.contains("--scale-start and --scale-end go together"), "\(half.stderr)")
    }
}
