import GSSTestSupport
import Testing

@Suite("gss uses a plugin's typical scale when no --scale is given")
struct TypicalScaleCommandTests {
    @Test("gss info shows the typical scale (text and JSON)")
    func info() throws {
        let text = try runGSS(["info", "renderer"])
        #expect(text.status == 0 && text.stdout.contains("typical scale: 0.1,5.0,5.0,0.25"), "\(text.stdout)")
        let object = try json(try runGSS(["info", "renderer", "--format", "json"]).stdout)
        #expect(object["typical_scale"] as? [Double] == [0.1, 5, 5, 0.25])
        #expect(!(try runGSS(["info", Products.fixture("minorzero")]).stdout.contains("typical scale")))
    }

    @Test("without --scale, grad smooths with the typical scale and says so in one line; --scale and --quiet silence it")
    func gradUsesTypicalScale() throws {
        let base = ["grad", "renderer", "-o", "width=8", "-o", "height=8", "--samples", "16", "--seed", "1"]
        let run = try runGSS(base)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr == "gss: no --scale given, so γ = [0.1, 5.0, 5.0, 0.25], the typical scale per input of plugin 'renderer'\n")
        #expect(run.stdout.contains("γ = 0.1,5.0,5.0,0.25"))
        let explicit = try runGSS(base + ["--scale", "0.1,5,5,0.25"])
        #expect(explicit.stderr.isEmpty && explicit.stdout == run.stdout)
        #expect(try runGSS(base + ["--quiet"]).stderr.isEmpty)
        #expect(try runGSS(base + ["--isolate"]).stdout == run.stdout)
    }

    @Test("an ABI 1.0 plugin loads unchanged and is smoothed with γ = 1, without a note")
    func minorZeroPlugin() throws {
        let run = try runGSS(["grad", Products.fixture("minorzero"), "--x", "0.5", "--samples", "16", "--seed", "1"])
        #expect(run.status == 0 && run.stderr.isEmpty, "\(run.stderr)")
        #expect(run.stdout.contains("γ = 1.0,"))
        let info = try runGSS(["info", Products.fixture("minorzero"), "--format", "json"])
        #expect(info.stdout.contains("\"abi\":\"1.0\"") || info.stdout.contains("\"abi\": \"1.0\""), "\(info.stdout)")
    }

    @Test("optimize starts from the typical scale when neither --scale nor --scale-start is given")
    func optimizeUsesTypicalScale() throws {
        let run = try runGSS(["optimize", "sorter", "-o", "n=3", "--target-x", "0,1,2", "--x0", "2,1,0", "--steps", "2",
                              "--samples", "16", "--seed", "1"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.hasPrefix("gss: no --scale given, so γ = [1.0, 1.0, 1.0]"), "\(run.stderr)")
    }
}
