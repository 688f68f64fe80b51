import GSSCore
import SystemPackage

/// `--exec-each 'COMMAND {x0} {x1} …'`: one `/bin/sh -c` process per row, with the row's numbers
/// substituted for the placeholders; whatever it prints on stdout (m numbers separated by spaces
/// or newlines) is the row's output. Each worker runs up to `processesPerWorker` rows of its batch
/// at once, so process start-up overlaps.
public struct EachRowProgramBlackBox: BlackBox {
    /// Rows in flight per worker: enough to overlap one process's start-up with another's work,
    /// few enough that `--threads` still bounds the load (at most 4 × threads processes at once).
    public static let defaultProcessesPerWorker = 4
    /// An --exec-each program printing more than this is refused (a row is a few numbers).
    static let outputLimit = 1 << 20

    public let template: String
    let settings: ProgramSettings
    let command: CommandTemplate
    public let processesPerWorker: Int

    public init(
        template: String, inputCount: Int, outputCount: Int, timeoutSeconds: Double? = nil,
        processesPerWorker: Int = defaultProcessesPerWorker
    ) throws(ExternalProgramError) {
        self.template = template
        settings = try ProgramSettings(
            command: template, option: "--exec-each", inputCount: inputCount, outputCount: outputCount,
            timeoutSeconds: timeoutSeconds)
        command = try CommandTemplate(template, inputCount: inputCount)
        self.processesPerWorker = max(1, processesPerWorker)
    }

    public var inputCount: Int { settings.inputCount }
    public var outputCount: Int { settings.outputCount }
    public var displayName: String { "program '\(ProgramSettings.shortened(template))'" }

    public func makeEvaluators(count: Int) throws -> [any BatchEvaluator] {
        (0..<max(count, 1)).map { _ in EachRowEvaluator(blackBox: self) }
    }
}

/// A command with placeholders: `{x}` (all n coordinates, separated by spaces) and `{x0}` …
/// `{x(n-1)}`. Other braces (an awk program's `{print $1}`) are left as they are.
struct CommandTemplate: Sendable {
    enum Piece: Sendable, Equatable {
        case text(String)
        case coordinate(Int)
        case allCoordinates
    }

    let pieces: [Piece]

    init(_ template: String, inputCount n: Int) throws(ExternalProgramError) {
        var pieces: [Piece] = []
        var text = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            text += rest[..<open]
            let afterBrace = rest.index(after: open)
            let body = rest[afterBrace...].prefix { $0 != "}" && $0 != "{" && !$0.isWhitespace }
            let close = body.endIndex
            guard close < rest.endIndex, rest[close] == "}", body.first == "x" else {
                text += "{"
                rest = rest[afterBrace...]
                continue
            }
            let digits = body.dropFirst()
            if digits.isEmpty {
                pieces.append(.text(text))
                pieces.append(.allCoordinates)
            } else if digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let index = Int(digits) {
                guard index < n else {
                    throw ExternalProgramError(
                        .invalidCommand,
                        "--exec-each uses the placeholder {x\(digits)}, but rows have n = \(n) numbers ({x0} to {x\(n - 1)})")
                }
                pieces.append(.text(text))
                pieces.append(.coordinate(index))
            } else {
                text += "{"
                rest = rest[afterBrace...]
                continue
            }
            text = ""
            rest = rest[rest.index(after: close)...]
        }
        text += rest
        pieces.append(.text(text))
        self.pieces = pieces.filter { $0 != .text("") }
        guard self.pieces.contains(where: { if case .text = $0 { false } else { true } }) else {
            throw ExternalProgramError(
                .invalidCommand,
                "--exec-each needs the placeholders {x0} … {x\(n - 1)} or {x} in its command, where each row's numbers go")
        }
    }

    /// The command for one row. A number's text (Swift's shortest round-trip form: digits, '.',
    /// 'e', '+', '-') has no character special to the shell, inside or outside quotes, so it is
    /// substituted as it is and stays one word wherever the user put the placeholder.
    func command(for row: UnsafePointer<Double>, inputCount n: Int) -> String {
        var command = ""
        for piece in pieces {
            switch piece {
            case .text(let text): command += text
            case .coordinate(let index): command += NumberText.word(row[index])
            case .allCoordinates: command += (0..<n).map { NumberText.word(row[$0]) }.joined(separator: " ")
            }
        }
        return command
    }
}

/// One row's process while it runs.
private final class RowRun {
    let row: Int
    let process: ProgramProcess
    let deadline: ContinuousClock.Instant?
    var output = InputBuffer()
    var errorTail = StandardErrorTail()
    var outputOpen = true
    var errorOpen = true

    init(row: Int, process: ProgramProcess, deadline: ContinuousClock.Instant?) {
        self.row = row
        self.process = process
        self.deadline = deadline
    }
}

/// A failure and the row it belongs to.
private struct RowFailure: Error {
    let row: Int
    let error: ExternalProgramError
}

/// One worker's rows: up to `processesPerWorker` processes at once, all watched by one poll.
final class EachRowEvaluator: BatchEvaluator, @unchecked Sendable {
    private let blackBox: EachRowProgramBlackBox

    init(blackBox: EachRowProgramBlackBox) { self.blackBox = blackBox }

    func evaluate(_ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>) throws {
        var running: [RowRun] = []
        do {
            try evaluate(inputs, rows: rows, into: outputs, running: &running)
        } catch let failure {
            // Kill every process still in flight (and whatever it started), then report the row.
            for run in running { run.process.finish() }
            for i in 0..<blackBox.outputCount { outputs[failure.row * blackBox.outputCount + i] = .nan }
            throw failure.error
        }
    }

    private func evaluate(
        _ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>, running: inout [RowRun]
    ) throws(RowFailure) {
        let n = blackBox.inputCount
        let timeout = blackBox.settings.timeout
        var next = 0
        while next < rows || !running.isEmpty {
            while running.count < blackBox.processesPerWorker && next < rows {
                let command = blackBox.command.command(for: inputs + next * n, inputCount: n)
                do {
                    let process = try ProgramProcess(command: command, withStandardInput: false)
                    running.append(RowRun(row: next, process: process, deadline: timeout.map { ContinuousClock.now + $0 }))
                } catch {
                    throw RowFailure(row: next, error: error)
                }
                next += 1
            }

            var watched: [(descriptor: FileDescriptor, forWriting: Bool)] = []
            var owners: [(run: RowRun, stream: Int)] = []  // stream 0 stdout, 1 stderr, 2 exit notice
            for run in running {
                if run.outputOpen { watched.append((run.process.standardOutput, false)); owners.append((run, 0)) }
                if run.errorOpen { watched.append((run.process.standardError, false)); owners.append((run, 1)) }
                watched.append((run.process.exitNotice, false))
                owners.append((run, 2))
            }
            let firstDeadline = running.compactMap(\.deadline).min()
            let ready: [SystemCalls.Readiness]
            do {
                ready = try SystemCalls.poll(watched, timeout: firstDeadline.map { max(.zero, ContinuousClock.now.duration(to: $0)) })
            } catch {
                throw RowFailure(row: running[0].row, error: ExternalProgramError(.pipeFailed, "waiting for its output failed: \(error)"))
            }
            var ended: Set<Int> = []
            for (index, readiness) in ready.enumerated() where readiness.readable || readiness.hungUp {
                let (run, stream) = owners[index]
                switch stream {
                case 0: try readOutput(of: run)
                case 1: readError(of: run)
                default: ended.insert(run.row)
                }
            }
            // Rows whose process ended, in row order; then rows past their deadline.
            for run in running.filter({ ended.contains($0.row) }).sorted(by: { $0.row < $1.row }) {
                try complete(run, into: outputs)
            }
            running.removeAll { ended.contains($0.row) }
            let now = ContinuousClock.now
            if let late = running.filter({ $0.deadline.map { now >= $0 } ?? false }).min(by: { $0.row < $1.row }) {
                throw RowFailure(
                    row: late.row,
                    error: ExternalProgramError(
                        .timedOut, "it did not finish within \(blackBox.settings.timeoutPhrase)"))
            }
        }
    }

    private func readOutput(of run: RowRun) throws(RowFailure) {
        do {
            if case .endOfFile = try run.output.read(from: run.process.standardOutput) { run.outputOpen = false }
        } catch {
            throw RowFailure(row: run.row, error: ExternalProgramError(.pipeFailed, "reading its output failed: \(error)"))
        }
        if run.output.pending > EachRowProgramBlackBox.outputLimit {
            throw RowFailure(
                row: run.row,
                error: ExternalProgramError(
                    .outputTooLong, "it printed more than \(EachRowProgramBlackBox.outputLimit) bytes ('\(run.output.nextLineText)')"))
        }
    }

    private func readError(of run: RowRun) {
        do {
            if case .endOfFile = try run.errorTail.read(from: run.process.standardError) { run.errorOpen = false }
        } catch {
            run.errorOpen = false
        }
    }

    /// The process of `run` has ended and been reaped: collect the rest of its output (a bounded
    /// number of reads: a background grandchild may hold the pipes open), kill what it left behind,
    /// and turn its output into the row's m numbers.
    private func complete(_ run: RowRun, into outputs: UnsafeMutablePointer<Double>) throws(RowFailure) {
        for _ in 0..<64 where run.outputOpen {
            guard case .read = (try? run.output.read(from: run.process.standardOutput)) ?? .endOfFile else { break }
            if run.output.pending > EachRowProgramBlackBox.outputLimit { break }
        }
        for _ in 0..<64 where run.errorOpen {
            guard case .read = (try? run.errorTail.read(from: run.process.standardError)) ?? .endOfFile else { break }
        }
        let outcome = run.process.ending
        run.process.finish()
        let m = blackBox.outputCount
        func fail(_ code: ExternalProgramError.Code, _ message: String) -> RowFailure {
            RowFailure(row: run.row, error: ExternalProgramError(code, message))
        }
        switch outcome {
        case .exited(0):
            break
        case .exited(let status):
            let ending = ProgramEnding(reason: .exited(status), standardErrorTail: run.errorTail.text())
            throw fail(.failedStatus, "it \(ending.phrase)\(ending.standardErrorClause)")
        case .signaled(let number):
            let ending = ProgramEnding(reason: .signaled(number), standardErrorTail: run.errorTail.text())
            throw fail(.failedStatus, "it \(ending.phrase)\(ending.standardErrorClause)")
        case .failedToStart(let reason):
            throw fail(.startFailed, "it could not be started: \(reason)")
        case nil:
            throw fail(.startFailed, "it ended without an exit status")
        }
        if run.output.pending > EachRowProgramBlackBox.outputLimit {
            throw fail(.outputTooLong, "it printed more than \(EachRowProgramBlackBox.outputLimit) bytes")
        }
        let shown = quoted(run.output.unconsumed)
        let parsed = run.output.withAllText { NumberText.parse($0, expecting: m, into: outputs + run.row * m) }
        switch parsed {
        case .parsed: return
        case .wrongCount(let count):
            // An empty output often means the program complained on stderr instead.
            let stderrClause = count == 0 && !run.errorTail.text().isEmpty ? "; its stderr ends: '\(run.errorTail.text())'" : ""
            throw fail(
                .wrongCount,
                "it printed \(count) number\(count == 1 ? "" : "s") where \(m) (m) \(m == 1 ? "was" : "were") expected: '\(shown)'\(stderrClause)")
        case .notANumber(let word):
            throw fail(.notANumber, "it printed '\(word)', which is not a number: '\(shown)'")
        case .notFinite(let word):
            throw fail(.notFinite, "it printed '\(word)', which is not a finite number: '\(shown)'")
        }
    }
}
