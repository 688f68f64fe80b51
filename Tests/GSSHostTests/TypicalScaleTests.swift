import GSSHost
import GSSTestSupport
import Testing

@Suite("ABI 1.1: typical_scale")
struct TypicalScaleTests {
    @Test("each bundled plugin reports a positive typical scale per input")
    func bundledPlugins() throws {
        for (id, options, expected) in [
            ("sorter", [("n", "3")], [1.0, 1, 1]),
            ("renderer", [], [0.1, 5, 5, 0.25]),
            ("shortest-path", [("rows", "2"), ("cols", "2")], [0.9, 0.9, 0.9, 0.9]),
            ("tem", [("params", "voltage,focal_length,x,y"), ("size", "16")], [50, 0.5, 0.5, 0.5]),
        ] as [(String, [(String, String)], [Double])] {
            let library = try PluginLibrary.open(path: Products.bundled(id))
            #expect(library.abiMinor == 1)
            let instance = try library.instantiate(options: options.map { (key: $0.0, value: $0.1) })
            #expect(try instance.typicalScale() == expected, "\(id)")
        }
    }

    @Test("a plugin built for ABI 1.0 loads unchanged; nothing past its struct_size is read")
    func minorZeroPlugin() throws {
        let library = try PluginLibrary.open(path: Products.fixture("minorzero"))
        #expect(library.abiMinor == 0 && library.id == "minor-zero")
        let instance = try library.instantiate(options: [])
        #expect(try instance.typicalScale() == nil)  // the planted 1000 lies past struct_size
    }
}
