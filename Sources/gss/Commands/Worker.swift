import ArgumentParser
import GSSHost

/// `gss worker …`: the mode gss starts itself in for isolated evaluation and conformance checks.
/// Hidden: its command line is written and read by GSSHost.WorkerInvocation, not by people.
struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "A worker process started by gss itself (for --isolate and conform).", shouldDisplay: false)

    @Argument(parsing: .captureForPassthrough)
    var words: [String] = []

    func run() throws { WorkerMain.run(arguments: words) }
}
