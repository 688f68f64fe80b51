/// Everything that can go wrong with an external program as a black box (`--exec`, `--exec-each`),
/// each with its own code. `description` is one sentence for the user; when a row fails, the
/// estimator adds which sample and input it was, and the black box's name adds the command.
public struct ExternalProgramError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable, Equatable {
        /// The command is empty, or an --exec-each template has no or a bad placeholder.
        case invalidCommand
        /// n or m is outside 1 ... limit.
        case invalidDimensions
        /// --exec-timeout is not a positive number of seconds.
        case invalidTimeout
        /// The shell could not be started (out of processes or descriptors).
        case startFailed
        /// The program ended (exit status or signal) or closed its output before answering a row.
        case exitedEarly
        /// An --exec-each process exited with a non-zero status or was killed.
        case failedStatus
        /// A line held more or fewer than m numbers.
        case wrongCount
        /// A word of the output is not a number.
        case notANumber
        /// A number of the output is NaN or infinite.
        case notFinite
        /// A line (or an --exec-each output) is longer than the host accepts.
        case outputTooLong
        /// The program printed a line for which there was no input line.
        case extraOutput
        /// A row took longer than --exec-timeout.
        case timedOut
        /// Reading or writing a pipe failed for a reason other than the program going away.
        case pipeFailed
        /// More children at once than the host can track for cleanup.
        case tooManyProcesses
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Usage errors (exit 2) versus failures of the program while it runs (exit 1).
    public var isUsageError: Bool {
        switch code {
        case .invalidCommand, .invalidDimensions, .invalidTimeout: return true
        default: return false
        }
    }

    public var description: String { message }
}

/// What the host tells about a program that ended: "exited with status 3" or "was killed by signal
/// 11 (SIGSEGV)", plus the tail of its stderr on the same line.
struct ProgramEnding: Sendable, Equatable {
    enum Reason: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
        /// It closed its output (or its input) but had not exited after a grace period.
        case stillRunning
    }

    let reason: Reason
    let standardErrorTail: String

    /// "exited with status 3", "was killed by signal 11 (SIGSEGV)", ...
    var phrase: String {
        switch reason {
        case .exited(let status):
            return "exited with status \(status)" + (status == 127 ? " (the shell could not find the command)" : "")
        case .signaled(let number):
            return "was killed by signal \(number) (\(SystemCalls.signalName(number)))"
        case .stillRunning:
            return "closed its standard output"
        }
    }

    /// "; its stderr ends: '…'" or "; its stderr was empty".
    var standardErrorClause: String {
        standardErrorTail.isEmpty ? "; its stderr was empty" : "; its stderr ends: '\(standardErrorTail)'"
    }
}

/// Text a program printed, shown in a message: one line, at most `limit` characters.
func quoted(_ bytes: some Collection<UInt8>, limit: Int = 120) -> String {
    var text = String(decoding: bytes, as: UTF8.self)
    text = text.replacingControlCharacters()
    if text.count > limit { text = String(text.prefix(limit)) + "…" }
    return text
}

extension String {
    /// Newlines become " | " and other control characters a space, so a message stays one line.
    func replacingControlCharacters() -> String {
        var result = ""
        var previousWasBreak = false
        for scalar in unicodeScalars {
            if scalar == "\n" || scalar == "\r" {
                if !previousWasBreak && !result.isEmpty { result += " | " }
                previousWasBreak = true
            } else if scalar.properties.generalCategory == .control {
                result += " "
                previousWasBreak = false
            } else {
                result.unicodeScalars.append(scalar)
                previousWasBreak = false
            }
        }
        while result.hasSuffix(" | ") { result.removeLast(3) }
        return result
    }
}
