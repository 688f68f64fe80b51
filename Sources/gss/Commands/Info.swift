import ArgumentParser
import GSSHost

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a black box: what it computes, its sizes, flags, options and output shape.")

    @OptionGroup var box: BlackBoxOptions

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    func run() throws {
        guard let pluginName = box.blackBox else { return try describeOther() }
        let library = try PluginLocator.open(pluginName)
        let plugin = try PluginBlackBox(library: library, options: try box.parsedOptions())
        let shape = try plugin.primary.outputShape()
        let defaultInput = plugin.primary.defaultInput()
        let typicalScale = try plugin.primary.typicalScale()
        var flags: [String] = []
        if library.isReentrant { flags.append("reentrant") }
        if library.isDeterministic { flags.append("deterministic") }
        switch format {
        case .json:
            print(JSONValue.object([
                ("id", .string(library.id)), ("name", .string(library.name)), ("version", .string(library.version)),
                ("path", .string(library.path)), ("abi", .string("\(PluginLibrary.abiMajor).\(library.abiMinor)")),
                ("n", .integer(plugin.inputCount)), ("m", .integer(plugin.outputCount)),
                ("flags", .array(flags.map(JSONValue.string))), ("output_shape", .array(shape.map(JSONValue.integer))),
                ("default_input", defaultInput.map(JSONValue.numbers) ?? .array([])),
                ("typical_scale", typicalScale.map(JSONValue.numbers) ?? .array([])),
                ("description", .string(library.summary)),
            ]).text)
        case .text:
            print("\(library.id) — \(library.name) \(library.version)")
            print("path:          \(library.path)")
            print("abi:           \(PluginLibrary.abiMajor).\(library.abiMinor)")
            print("inputs n:      \(plugin.inputCount)")
            print("outputs m:     \(plugin.outputCount)")
            print("output shape:  \(shape.map(String.init).joined(separator: " × "))")
            print("flags:         \(flags.isEmpty ? "none" : flags.joined(separator: ", "))")
            if let defaultInput { print("default input: \(Self.abbreviated(defaultInput))") }
            if let typicalScale { print("typical scale: \(Self.abbreviated(typicalScale))  (γ when no --scale is given)") }
            print("")
            print(library.summary)
        }
    }

    /// The first 12 numbers, comma-separated.
    private static func abbreviated(_ numbers: [Double]) -> String {
        numbers.prefix(12).map { "\($0)" }.joined(separator: ",") + (numbers.count > 12 ? ",…" : "")
    }

    /// An external program or a C function: what it is and its sizes.
    private func describeOther() throws {
        let blackBox = try box.open().blackBox
        switch format {
        case .json:
            print(JSONValue.object([
                ("name", .string(blackBox.displayName)),
                ("n", .integer(blackBox.inputCount)), ("m", .integer(blackBox.outputCount)),
            ]).text)
        case .text:
            print(blackBox.displayName)
            print("inputs n:      \(blackBox.inputCount)")
            print("outputs m:     \(blackBox.outputCount)")
        }
    }
}
