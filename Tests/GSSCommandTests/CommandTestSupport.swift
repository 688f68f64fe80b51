import GSSTestSupport
import Testing

/// One line on stderr starting "error: ", nothing on stdout, the given status; the stderr line.
@discardableResult
func expectFailure(
    _ arguments: [String], status: Int32, mentions phrases: [String], sourceLocation: SourceLocation = #_sourceLocation
) throws -> String {
    let run = try runGSS(arguments)
    #expect(run.status == status, "exit \(run.status) for \(arguments): \(run.stderr)", sourceLocation: sourceLocation)
    #expect(run.stdout.isEmpty, "stdout must stay empty: \(run.stdout)", sourceLocation: sourceLocation)
    #expect(run.stderr.split(separator: "\n").count == 1, "expected one line on stderr, got: \(run.stderr)", sourceLocation: sourceLocation)
    #expect(run.stderr.hasPrefix("error: "), sourceLocation: sourceLocation)
    for phrase in phrases {
        #expect(run.stderr.contains(phrase), "stderr lacks '\(phrase)': \(run.stderr)", sourceLocation: sourceLocation)
    }
    return run.stderr
}
