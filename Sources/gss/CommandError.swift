/// A failure of the command itself (bad input it detected, a file it could not write).
struct CommandError: Error, CustomStringConvertible {
    let description: String
    let isUsageError: Bool

    static func usage(_ message: String) -> CommandError { CommandError(description: message, isUsageError: true) }
    static func failure(_ message: String) -> CommandError { CommandError(description: message, isUsageError: false) }
}
