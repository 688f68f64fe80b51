import ArgumentParser
import Glibc
import GSSHost

struct Conform: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conform",
        abstract: "Check a plugin against the ABI's rules: one line per check, exit 1 if any fails.",
        discussion: """
            Every check runs the plugin in a separate worker process, so a plugin that crashes or \
            hangs gets a report naming the signal (or the time limit) and what it was doing, \
            instead of killing gss. Checks: \(ConformanceCheck.allCases.map(\.rawValue).joined(separator: ", ")).
            """)

    @Argument(help: "A plugin object such as ./libmine.so, or a bundled plugin id.")
    var plugin: String

    @Option(name: .customShort("o"), help: ArgumentHelp("An option for the plugin's create(), repeatable; the checks use these.", valueName: "key=value"))
    var pluginOptions: [String] = []

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds each check may take before the plugin counts as hung. (default: 10)", valueName: "seconds"),
            transform: NumberArgument.number)
    var timeout: Double = 10

    @Option(parsing: .unconditional, help: "Create/evaluate/destroy cycles of the lifecycle check (fewer when the time limit needs it). (default: 2000)",
            transform: NumberArgument.wholeNumber)
    var cycles: Int = 2000

    func validate() throws {
        guard timeout > 0 && timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds, got \(timeout)") }
        guard cycles >= 20 else { throw ValidationError("--cycles must be at least 20, got \(cycles)") }
    }

    func run() throws {
        let path = try PluginLocator.path(of: plugin)
        let options = try pluginOptions.map { (text: String) throws(CommandError) -> PluginOption in
            let option = try parsePluginOption(text)
            return PluginOption(key: option.key, value: option.value)
        }
        guard let executable = WorkerExecutable.current else {
            throw CommandError.failure("cannot find the gss executable (/proc/self/exe) to start worker processes")
        }
        let runner = ConformanceRunner(
            pluginPath: path, options: options,
            settings: ConformanceSettings(workerExecutable: executable, timeLimit: timeout, cycles: cycles))
        if !json { print("conformance of \(path)" + (options.isEmpty ? "" : " with " + options.map { "\($0.key)=\($0.value)" }.joined(separator: " "))) }
        let width = ConformanceCheck.allCases.map(\.rawValue.count).max()!
        let report = runner.run { result in
            guard !json else { return }
            print(Self.line(result, width: width))
            fflush(nil)  // a slow check should not hold back the lines before it (nil: every stream)
        }
        if json {
            print(Self.json(report))
        } else {
            print(Self.summary(report))
        }
        fflush(nil)  // the report comes before the one-line verdict on stderr
        guard report.passed else {
            let failed = report.failures.map(\.check.rawValue)
            let name = report.facts.id.map { "plugin '\($0)'" } ?? "'\(path)'"
            throw CommandError.failure(
                "\(name) fails \(failed.count) of \(report.results.count) conformance checks: \(failed.joined(separator: ", "))")
        }
    }

    static func line(_ result: CheckResult, width: Int) -> String {
        let mark: String
        switch result.outcome.status {
        case .pass: mark = "pass"
        case .fail: mark = "FAIL"
        case .skip: mark = "skip"
        }
        return "\(mark)  \(result.check.rawValue.padded(to: width))  \(result.outcome.detail)"
    }

    static func summary(_ report: ConformanceReport) -> String {
        let facts = report.facts
        var about: [String] = []
        if let id = facts.id { about.append("plugin '\(id)'" + (facts.version.map { " \($0)" } ?? "")) }
        if let abi = facts.abi { about.append("ABI \(abi)") }
        if let n = facts.inputCount, let m = facts.outputCount { about.append("n = \(n), m = \(m)") }
        if let flags = facts.flags { about.append(flags.isEmpty ? "no flags" : flags.joined(separator: ", ")) }
        if let throughput = report.throughput { about.append("\(formatRate(throughput.rowsPerSecond)) rows/s") }
        let count = { (status: CheckOutcome.Status) in report.results.filter { $0.outcome.status == status }.count }
        return "\(report.results.count) checks: \(count(.pass)) passed, \(count(.fail)) failed, \(count(.skip)) skipped"
            + (about.isEmpty ? "" : " — " + about.joined(separator: "; "))
    }

    /// The report as JSON: plugin facts, one object per check, the throughput, the verdict.
    static func json(_ report: ConformanceReport) -> String {
        let facts = report.facts
        var plugin: [(String, JSONValue)] = [("path", .string(report.pluginPath))]
        if let id = facts.id { plugin.append(("id", .string(id))) }
        if let name = facts.name { plugin.append(("name", .string(name))) }
        if let version = facts.version { plugin.append(("version", .string(version))) }
        if let abi = facts.abi { plugin.append(("abi", .string(abi))) }
        if let flags = facts.flags { plugin.append(("flags", .array(flags.map(JSONValue.string)))) }
        if let n = facts.inputCount { plugin.append(("n", .integer(n))) }
        if let m = facts.outputCount { plugin.append(("m", .integer(m))) }
        let options = JSONValue.object(report.options.map { ($0.key, .string($0.value)) })
        let checks = report.results.map { result in
            JSONValue.object([
                ("name", .string(result.check.rawValue)),
                ("passed", .bool(result.outcome.status == .pass)),
                ("status", .string(result.outcome.status.rawValue)),
                ("detail", .string(result.outcome.detail)),
            ]).inline
        }
        let throughput: JSONValue = report.throughput.map {
            .object([("rows_per_second", .number($0.rowsPerSecond)), ("batch_rows", .integer($0.batchRows)), ("seconds", .number($0.seconds))])
        } ?? .object([])
        return "{\n"
            + "  \"plugin\": \(JSONValue.object(plugin).inline),\n"
            + "  \"options\": \(options.inline),\n"
            + "  \"passed\": \(report.passed),\n"
            + "  \"throughput\": \(throughput.inline),\n"
            + "  \"checks\": [\n" + checks.map { "    " + $0 }.joined(separator: ",\n") + "\n  ]\n"
            + "}"
    }
}
