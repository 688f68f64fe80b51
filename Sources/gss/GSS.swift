import ArgumentParser
import CGSSPlugin
import Glibc
import GSSCore
import GSSHost

@main
struct GSS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gss",
        abstract: "Smoothed values, Jacobians and gradients of black-box functions by generalized stochastic smoothing.",
        discussion: """
            A black box is a bundled plugin (by id), any plugin object (a path), an external program \
            (--exec, --exec-each) or any C function in a shared library (--symbol with --signature, \
            through libffi; a wrong signature cannot be detected and is undefined behaviour). \
            Exit codes: 0 success, 1 the black box failed, 2 bad usage or bad input.
            """,
        version: "gss \(GSSVersion.package) (plugin ABI \(GSS_ABI_MAJOR).\(GSS_ABI_MINOR))",
        subcommands: [List.self, Info.self, Eval.self, Grad.self, Optimize.self, Study.self, Conform.self, Worker.self]
    )

    /// Maps every error to one line on stderr and the exit codes of CLI.md (2 usage, 1 black box).
    static func main() {
        Ranks.silenceOtherRanks(arguments: CommandLine.arguments)
        do {
            var command = try parseAsRoot()
            try command.run()
            Ranks.finishSucceeded()
        } catch {
            exit(code: exitCode(forFailure: error), error: error)
        }
    }

    static func exitCode(forFailure error: any Error) -> Int32 {
        switch error {
        case let error as PluginError: return error.isUsageError ? 2 : 1
        case let error as ExternalProgramError: return error.isUsageError ? 2 : 1
        case let error as ForeignFunctionError: return error.isUsageError ? 2 : 1
        case let error as SmoothingError: return error.code == .invalidConfiguration ? 2 : 1
        case let error as CommandError: return error.isUsageError ? 2 : 1
        case let error as SmoothingJournalError: return error.isUsageError ? 2 : 1
        default:
            let code = exitCode(for: error)
            return code == .success ? 0 : 2  // argument-parser's own errors are all usage errors
        }
    }

    private static func exit(code: Int32, error: any Error) -> Never {
        if code == 0 { GSS.exit(withError: error) }  // --help, --version: print and succeed
        let text: String
        switch error {
        case is PluginError, is SmoothingError, is CommandError, is ExternalProgramError, is ForeignFunctionError, is SmoothingJournalError:
            text = "\(error)"
        default: text = message(for: error)
        }
        Ranks.finishFailed(code: code, sentence: "error: " + escapingControlCharacters(sentence(quotingArguments(in: text))))
    }

    /// Messages gss does not write itself (argument-parser's, the hosts') echo arguments whole:
    /// each long one, or one holding control characters, is shown as quotedInput shows it.
    private static func quotingArguments(in text: String) -> String {
        var text = text
        let arguments = CommandLine.arguments.dropFirst().flatMap { argument in
            // --option=value is echoed as its value alone.
            [argument] + (argument.hasPrefix("-") ? argument.split(separator: "=", maxSplits: 1).dropFirst().map(String.init) : [])
        }
        for argument in Set(arguments) where quotedInput(argument) != "'\(argument)'" {
            text = text.replacing("'\(argument)'", with: quotedInput(argument))
        }
        return text
    }

    /// One line ending in a full stop; a bulleted list of valid values (argument-parser's form
    /// for long enumerations) is folded into the sentence, anything else after line 1 dropped.
    private static func sentence(_ text: String) -> String {
        let lines = text.split(separator: "\n").map { $0.trimmingSpaces() }
        var line = lines.first ?? ""
        let bullets = lines.dropFirst().filter { $0.hasPrefix("- ") }.map { String($0.dropFirst(2)) }
        if !bullets.isEmpty {
            if line.hasSuffix(":") { line.removeLast() }
            line += " " + bullets.joined(separator: ", ")
        }
        return line.hasSuffix(".") || line.hasSuffix("?") ? line : line + "."
    }
}
