import ArgumentParser
import GSSCore
import GSSHost

/// Which black box a command evaluates, and the options handed to it.
struct BlackBoxOptions: ParsableArguments {
    @Argument(help: "A bundled plugin id (see 'gss list') or a plugin object path such as ./libmine.so; or none, with --exec, --exec-each or --symbol.")
    var blackBox: String?

    @Option(name: .customShort("o"), help: ArgumentHelp("An option for the plugin's create(), repeatable.", valueName: "key=value"))
    var pluginOptions: [String] = []

    @OptionGroup var isolation: IsolationOptions
    @OptionGroup var external: ExternalBlackBoxOptions

    /// The -o options split at their first '='.
    func parsedOptions() throws(CommandError) -> [(key: String, value: String)] {
        try pluginOptions.map { (text: String) throws(CommandError) in try parsePluginOption(text) }
    }

    /// Opens, validates and instantiates the black box.
    func open() throws -> OpenedBlackBox {
        if let other = try external.open(plugin: blackBox, pluginOptions: pluginOptions) {
            if isolation.isEnabled {
                throw CommandError.usage(
                    "--isolate and --eval-timeout run a plugin in worker processes; with \(other.blackBox.displayName) use --exec-timeout for programs")
            }
            // Daemons the programs start outside their process group become ours to end.
            ChildProcessGroups.adoptOrphans()
            return other
        }
        if isolation.isEnabled { return try isolation.open(plugin: blackBox!, options: try parsedOptions()) }
        let library = try PluginLocator.open(blackBox!)
        let plugin = try PluginBlackBox(library: library, options: try parsedOptions())
        // A crash inside the plugin then ends gss with one sentence and status 1, not a backtrace.
        PluginCrashGuard.install()
        return OpenedBlackBox(
            blackBox: plugin, defaultInput: plugin.primary.defaultInput(),
            outputShape: try plugin.primary.outputShape(), typicalScale: try plugin.primary.typicalScale())
    }
}

/// A black box ready to evaluate, with what the commands need to know about it.
struct OpenedBlackBox {
    let blackBox: any BlackBox
    let defaultInput: [Double]?
    let outputShape: [Int]
    /// The plugin's typical scale per input (ABI 1.1), the γ used when no --scale is given.
    var typicalScale: [Double]? = nil

    /// --x if given, else the black box's default input; a usage error when neither exists.
    func point(_ given: [Double]?) throws(CommandError) -> [Double] {
        if let given { return given }
        if let defaultInput { return defaultInput }
        throw .usage("\(blackBox.displayName) has no default input, so --x is required (\(blackBox.inputCount) numbers)")
    }
}
