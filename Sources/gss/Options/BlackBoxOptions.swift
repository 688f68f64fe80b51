import ArgumentParser
import GSSCore
import GSSHost

/// Which black box a command evaluates, and the options handed to it: a plugin by id or path (with
/// -o), maybe in worker processes (--isolate, --eval-timeout: IsolationOptions.swift), or an
/// external program or a C function (--exec, --exec-each, --symbol: ExternalBlackBoxOptions.swift).
/// One option group rather than three: argument-parser reflects every group of a command, and the
/// first conformance lookups for each group's types scan all of the executable's conformance
/// records, on every start of every command that takes a black box (BENCHMARKS.md, "Start-up").
struct BlackBoxOptions: ParsableArguments {
    @Argument(help: "A bundled plugin id (see 'gss list') or a plugin object path such as ./libmine.so; or none, with --exec, --exec-each or --symbol.")
    var blackBox: String?

    @Option(name: .customShort("o"), help: ArgumentHelp("An option for the plugin's create(), repeatable.", valueName: "key=value"))
    var pluginOptions: [String] = []

    // Isolation (IsolationOptions.swift).
    @Flag(help: "Evaluate the plugin in worker processes (one per thread): a crash or hang in it fails the run cleanly instead of killing gss.")
    var isolate = false

    @Option(name: .customLong("eval-timeout"), parsing: .unconditional,
            help: ArgumentHelp("Seconds one evaluate call (one batch) may take before its worker is killed and the run fails. Implies --isolate.", valueName: "seconds"),
            transform: NumberArgument.number)
    var evaluationTimeout: Double?

    // Black boxes that are not plugins (ExternalBlackBoxOptions.swift).
    @Option(name: .customLong("exec"), help: ArgumentHelp(
        "An external program, started once per worker through /bin/sh -c and kept running: it reads rows on stdin, one line of n numbers each, and answers each line with a line of m numbers on stdout, in order. Needs --n and --m.",
        valueName: "command"))
    var exec: String?

    @Option(name: .customLong("exec-each"), help: ArgumentHelp(
        "An external program run once per row through /bin/sh -c, with {x0} … {x<n-1>} (one number) or {x} (all n, space-separated) replaced by the row's numbers; its stdout is the row's m numbers. Needs --n and --m.",
        valueName: "command"))
    var execEach: String?

    @Option(name: .customLong("exec-timeout"), parsing: .unconditional, help: ArgumentHelp(
        "With --exec or --exec-each: fail the run (exit 1) when a row takes longer than this.", valueName: "seconds"), transform: NumberArgument.number)
    var execTimeout: Double?

    @Option(name: .customLong("symbol"), help: ArgumentHelp(
        "A C function, called through libffi: a library (path or soname) and the function's name, such as libm.so.6:floor. Needs --signature.",
        valueName: "lib:func"))
    var symbol: String?

    @Option(name: .customLong("signature"), help: ArgumentHelp(
        "The C type of --symbol: RET(ARG,...) over double float int32 int64 (each argument is one input, rounded to the nearest integer, halves to even, for int32/int64; the result is the output), or void(const double*,double*) with --n and --m. gss cannot check it: a signature that is not the function's real one is undefined behaviour (wrong numbers or a crash).",
        valueName: "signature"))
    var signature: String?

    @Flag(name: .customLong("serialize-calls"), help: "With --symbol: the function is not reentrant, so call it from one thread at a time (default: called from every worker at once).")
    var serializeCalls = false

    @Option(name: .customLong("n"), parsing: .unconditional,
            help: "Numbers per input row, for --exec, --exec-each and the array form of --signature.",
            transform: NumberArgument.wholeNumber)
    var inputCount: Int?

    @Option(name: .customLong("m"), parsing: .unconditional,
            help: "Numbers per output row, for --exec, --exec-each and the array form of --signature.",
            transform: NumberArgument.wholeNumber)
    var outputCount: Int?

    func validate() throws { try validateIsolation() }

    /// The -o options split at their first '='.
    func parsedOptions() throws(CommandError) -> [(key: String, value: String)] {
        try pluginOptions.map { (text: String) throws(CommandError) in try parsePluginOption(text) }
    }

    /// Opens, validates and instantiates the black box.
    func open() throws -> OpenedBlackBox {
        if let other = try openExternal() {
            if isolationIsEnabled {
                throw CommandError.usage(
                    "--isolate and --eval-timeout run a plugin in worker processes; with \(other.blackBox.displayName) use --exec-timeout for programs")
            }
            // Daemons the programs start outside their process group become ours to end.
            ChildProcessGroups.adoptOrphans()
            return other
        }
        if isolationIsEnabled { return try openIsolated(plugin: blackBox!, options: try parsedOptions()) }
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
