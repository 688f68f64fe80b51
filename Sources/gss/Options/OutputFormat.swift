import ArgumentParser

/// How a command prints its result on stdout.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    /// Readable tables for a terminal.
    case text
    /// One JSON object (CLI.md fixes its keys).
    case json
}
