import ArgumentParser
import Foundation
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
        Ranks.finishFailed(code: code, sentence: "error: " + sentence(text))
    }

    /// One line ending in a full stop; a bulleted list of valid values (argument-parser's form
    /// for long enumerations) is folded into the sentence, anything else after line 1 dropped.
    private static func sentence(_ text: String) -> String {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var line = lines.first ?? ""
        let bullets = lines.dropFirst().filter { $0.hasPrefix("- ") }.map { String($0.dropFirst(2)) }
        if !bullets.isEmpty {
            if line.hasSuffix(":") { line.removeLast() }
            line += " " + bullets.joined(separator: ", ")
        }
        return line.hasSuffix(".") || line.hasSuffix("?") ? line : line + "."
    }
}

/// A failure of the command itself (bad input it detected, a file it could not write).
struct CommandError: Error, CustomStringConvertible {
    let description: String
    let isUsageError: Bool

    static func usage(_ message: String) -> CommandError { CommandError(description: message, isUsageError: true) }
    static func failure(_ message: String) -> CommandError { CommandError(description: message, isUsageError: false) }
}
