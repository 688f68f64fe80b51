import ArgumentParser
import GSSCore

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Evaluate the black box once: f(x), unsmoothed.")

    @OptionGroup var box: BlackBoxOptions

    @Option(name: .customLong("x"), parsing: .unconditional,
            help: ArgumentHelp("The point: comma-separated numbers or @FILE. Default: the black box's own.", valueName: "x"),
            transform: NumberList.init(parsing:))
    var point: NumberList?

    @Option(help: "Output format.")
    var format: OutputFormat = .json

    @Flag(help: "No progress on stderr (shown while an evaluation takes more than a second).")
    var quiet = false

    func run() throws {
        let opened = try box.open()
        let blackBox = opened.blackBox
        let x = try opened.point(point?.values)
        guard x.count == blackBox.inputCount else {
            throw CommandError.usage("--x needs \(blackBox.inputCount) numbers for this black box, got \(x.count)")
        }
        // A program gets its own word on what gss waits for (ExternalProgramBlackBox).
        let ticker = quiet || box.blackBox == nil ? nil : ElapsedTicker("eval: waiting for \(blackBox.displayName) at x = \(formatRow(x))")
        let value: [Double]
        do {
            defer { ticker?.finish() }
            // On rank 0 alone (the others only wait for its outcome).
            value = try Ranks.executor(journal: nil).fromCoordinator(.doubles, recorded: false) { try evaluateOnce(blackBox, at: x) }
        }
        switch format {
        case .json: print(JSONValue.object([("value", .numbers(value))]).text)
        case .text: print(value.map { "\($0)" }.joined(separator: " "))
        }
    }
}

/// f(x) for one row, with the same checks as the estimators (an error status or a non-finite output fails).
func evaluateOnce(_ blackBox: any BlackBox, at x: [Double]) throws -> [Double] {
    let evaluator = try blackBox.makeEvaluators(count: 1)[0]
    var y = [Double](repeating: .nan, count: blackBox.outputCount)
    do {
        try x.withUnsafeBufferPointer { input in
            try y.withUnsafeMutableBufferPointer { output in
                try evaluator.evaluate(input.baseAddress!, rows: 1, into: output.baseAddress!)
            }
        }
    } catch {
        throw CommandError.failure("\(blackBox.displayName) failed at x = \(formatRow(x)): \(error)")
    }
    if let bad = y.firstIndex(where: { !$0.isFinite }) {
        throw CommandError.failure("\(blackBox.displayName) failed at x = \(formatRow(x)): it returned a non-finite output (\(y[bad]) in output \(bad))")
    }
    return y
}
