import GSSCore
import Glibc
import Synchronization
import SystemPackage

/// What both kinds of external program share: sizes, the timeout, and their checks.
struct ProgramSettings: Sendable {
    /// n or m beyond this is refused as a typo (a row is a line of text).
    static let dimensionLimit = 1 << 20
    /// How long a program that was sent end of file may take to exit before it is killed.
    static let exitGrace: Duration = .seconds(1)

    let inputCount: Int
    let outputCount: Int
    let timeout: Duration?
    /// The timeout as the user gave it, for messages.
    let timeoutSeconds: Double?

    init(command: String, option: String, inputCount: Int, outputCount: Int, timeoutSeconds: Double?) throws(ExternalProgramError) {
        guard !command.allSatisfy(\.isWhitespace) else {
            throw ExternalProgramError(.invalidCommand, "\(option) needs a command, such as \(option) 'python3 f.py'")
        }
        for (name, value) in [("--n", inputCount), ("--m", outputCount)] where !(1...Self.dimensionLimit).contains(value) {
            throw ExternalProgramError(
                .invalidDimensions, "\(name) must be a whole number from 1 to \(Self.dimensionLimit), got \(value)")
        }
        if let timeoutSeconds {
            guard timeoutSeconds.isFinite, timeoutSeconds > 0, timeoutSeconds <= 1e9 else {
                throw ExternalProgramError(
                    .invalidTimeout, "--exec-timeout must be a positive number of seconds, got \(timeoutSeconds)")
            }
        }
        self.inputCount = inputCount
        self.outputCount = outputCount
        self.timeoutSeconds = timeoutSeconds
        timeout = timeoutSeconds.map { .nanoseconds(Int64(($0 * 1e9).rounded(.up))) }
    }

    /// "the --exec-timeout of 0.5 s", for messages.
    var timeoutPhrase: String {
        "the --exec-timeout of \(timeoutSeconds.map { $0 == $0.rounded() ? "\(Int($0))" : "\($0)" } ?? "none") s"
    }

    /// The command as shown in the black box's name.
    static func shortened(_ command: String) -> String {
        let line = command.replacingControlCharacters()
        return line.count > 80 ? String(line.prefix(80)) + "…" : line
    }
}

/// `--exec COMMAND`: a program started once per worker through `/bin/sh -c` and kept running.
/// gss writes each input row to its stdin as one line of n numbers separated by spaces, and reads
/// one line of m numbers per input line from its stdout, in order. Writing and reading overlap, so
/// a batch of any size flows through the pipes without deadlock.
public struct ExternalProgramBlackBox: BlackBox {
    public let command: String
    let settings: ProgramSettings

    public init(command: String, inputCount: Int, outputCount: Int, timeoutSeconds: Double? = nil) throws(ExternalProgramError) {
        self.command = command
        settings = try ProgramSettings(
            command: command, option: "--exec", inputCount: inputCount, outputCount: outputCount,
            timeoutSeconds: timeoutSeconds)
    }

    public var inputCount: Int { settings.inputCount }
    public var outputCount: Int { settings.outputCount }
    public var displayName: String { "program '\(ProgramSettings.shortened(command))'" }

    /// One running program per worker; they share nothing but their teardown.
    public func makeEvaluators(count: Int) throws -> [any BatchEvaluator] {
        let fleet = ProgramFleet()
        var evaluators: [any BatchEvaluator] = []
        for _ in 0..<max(count, 1) { evaluators.append(try FilterEvaluator(command: command, settings: settings, fleet: fleet)) }
        return evaluators
    }
}

/// The programs of one `makeEvaluators` call, ended together: each evaluator closes its
/// program's stdin as it goes, and the last one gone waits one grace period for all of them at
/// once, then kills what is left (one after another, 16 ignoring end of file took 16 s).
final class ProgramFleet: Sendable {
    private let processes = Mutex<[ProgramProcess]>([])

    func add(_ process: ProgramProcess) { processes.withLock { $0.append(process) } }

    deinit {
        let all = processes.withLock { $0 }
        let deadline = ContinuousClock.now + ProgramSettings.exitGrace
        for process in all { process.waitForExit(timeout: max(deadline - ContinuousClock.now, .zero)) }
        for process in all { process.kill() }
        for process in all { process.finish() }
    }
}

/// One worker's running program and the text on its pipes.
final class FilterEvaluator: BatchEvaluator, @unchecked Sendable {
    private let settings: ProgramSettings
    private let process: ProgramProcess
    private var pendingInput: [UInt8] = []
    private var output = InputBuffer()
    private var errorTail = StandardErrorTail()
    private var standardErrorOpen = true
    /// Lines answered over the program's life, for messages.
    private var linesAnswered = 0
    /// After a failure the program is gone; every later call reports the same failure.
    private var failure: ExternalProgramError?

    /// Kept alive until every sibling is gone, so that their programs end together.
    private let fleet: ProgramFleet

    init(command: String, settings: ProgramSettings, fleet: ProgramFleet) throws(ExternalProgramError) {
        self.settings = settings
        self.fleet = fleet
        process = try ProgramProcess(command: command, withStandardInput: true)
        fleet.add(process)
    }

    /// End of file on its stdin; the fleet gives it a moment to exit, then kills its group and reaps it.
    deinit { process.closeStandardInput() }

    func evaluate(_ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>) throws {
        if let failure { throw failure }
        guard rows > 0 else { return }
        var answered = 0
        do {
            try exchange(inputs, rows: rows, outputs: outputs, answered: &answered)
        } catch {
            failure = error
            process.finish()
            // NaN marks the failing row: the estimator names the first such row in its message.
            let row = min(answered, rows - 1)
            for i in 0..<settings.outputCount { outputs[row * settings.outputCount + i] = .nan }
            throw error
        }
    }

    /// Writes the batch's lines while reading the answers, until every row has its line.
    private func exchange(
        _ inputs: UnsafePointer<Double>, rows: Int, outputs: UnsafeMutablePointer<Double>, answered row: inout Int
    ) throws(ExternalProgramError) {
        let n = settings.inputCount
        let m = settings.outputCount
        // A line that arrived between batches answers no input.
        try readAvailableOutput()
        if !output.isEmpty {
            throw ExternalProgramError(
                .extraOutput,
                "before this row was sent, it printed a line that answers no input line ('\(output.nextLineText)'); a program must print exactly one line per input line")
        }
        pendingInput.removeAll(keepingCapacity: true)
        for r in 0..<rows { NumberText.appendLine(inputs + r * n, count: n, to: &pendingInput) }
        var written = 0
        var deadline = settings.timeout.map { ContinuousClock.now + $0 }
        var noticeTime = SilenceNotice.isPending ? ContinuousClock.now + SilenceNotice.delay : nil
        let longestLine = (1 << 20) + 64 * m
        // Set once the program has exited or closed a pipe: what it printed before still counts.
        var ended = false

        while true {
            // Every complete line answers the next row.
            while row < rows, let (outcome, line) = output.withNextLine({ line in
                let outcome = NumberText.parse(line, expecting: m, into: outputs + row * m)
                return (outcome, outcome == .parsed ? "" : InputBuffer.text(of: line))  // text only for messages
            }) {
                try check(outcome, line: line)
                row += 1
                linesAnswered += 1
                deadline = settings.timeout.map { ContinuousClock.now + $0 }
                if noticeTime != nil { noticeTime = ContinuousClock.now + SilenceNotice.delay }
            }
            if row == rows { break }
            if ended { throw programEnded() }
            if output.pending > longestLine {
                throw ExternalProgramError(
                    .outputTooLong, "it printed more than \(longestLine) bytes without a newline ('\(output.nextLineText)')")
            }
            if let deadline, ContinuousClock.now >= deadline {
                throw ExternalProgramError(
                    .timedOut,
                    "it gave no answer for this row within \(settings.timeoutPhrase); a program that answers only in bursts buffers its output (flush after every line) or its input (mawk needs -W interactive)")
            }

            if let time = noticeTime, ContinuousClock.now >= time {
                SilenceNotice.say(program: ProgramSettings.shortened(process.command), row: row + 1, rows: rows, settings: settings)
                noticeTime = nil
            }

            // Wait for whichever comes first: room in stdin, output, stderr, the program's end
            // (or the time for the notice).
            var watched: [(descriptor: FileDescriptor, forWriting: Bool)] = [
                (process.standardOutput, false), (process.exitNotice, false),
            ]
            let errorIndex = standardErrorOpen ? watched.count : nil
            if standardErrorOpen { watched.append((process.standardError, false)) }
            let writing = written < pendingInput.count ? process.standardInput : nil
            let writeIndex = writing != nil ? watched.count : nil
            if let writing { watched.append((writing, true)) }
            let ready: [SystemCalls.Readiness]
            do {
                let wakeUp = [deadline, noticeTime].compactMap { $0 }.min()
                ready = try SystemCalls.poll(watched, timeout: wakeUp.map { ContinuousClock.now.duration(to: $0) })
            } catch {
                throw ExternalProgramError(.pipeFailed, "waiting for its output failed: \(error)")
            }
            if let errorIndex, ready[errorIndex].readable || ready[errorIndex].hungUp { readStandardError() }
            if let writing, let writeIndex, ready[writeIndex].writable || ready[writeIndex].hungUp {
                switch write(to: writing, from: written) {
                case .success(let count): written += count
                case .failure(.brokenPipe): ended = true  // it closed its stdin or exited
                case .failure(let error): throw ExternalProgramError(.pipeFailed, "writing its input failed: \(error)")
                }
            }
            if ready[0].readable || ready[0].hungUp {
                if case .endOfFile = try readOutput() { ended = true }
            }
            if ready[1].readable || ready[1].hungUp { ended = true }
            if ended { try readAvailableOutput() }
        }
        // Anything after the batch's last answer answers no input.
        if !output.isEmpty {
            row = rows - 1
            throw ExternalProgramError(
                .extraOutput,
                "after its answer to this row, the last of the batch, it printed a line that answers no input line ('\(output.nextLineText)'); a program must print exactly one line per input line")
        }
    }

    /// Writes as much of the pending input from `offset` on as the pipe takes now.
    private func write(to descriptor: FileDescriptor, from offset: Int) -> Result<Int, Errno> {
        pendingInput.withUnsafeBytes { bytes in
            Result { () throws(Errno) -> Int in
                try descriptor.writeSome(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            }
        }
    }

    /// A parse outcome as an error naming what was read.
    private func check(_ outcome: NumberText.ParseOutcome, line: String) throws(ExternalProgramError) {
        let m = settings.outputCount
        switch outcome {
        case .parsed: return
        case .wrongCount(let count):
            throw ExternalProgramError(
                .wrongCount, "it printed \(count) number\(count == 1 ? "" : "s") where \(m) (m) \(m == 1 ? "was" : "were") expected, in the line '\(line)'")
        case .notANumber(let word):
            throw ExternalProgramError(.notANumber, "it printed '\(word)', which is not a number, in the line '\(line)'")
        case .notFinite(let word):
            throw ExternalProgramError(.notFinite, "it printed '\(word)', which is not a finite number, in the line '\(line)'")
        }
    }

    /// One read of stdout.
    private func readOutput() throws(ExternalProgramError) -> ReadOutcome {
        do {
            return try output.read(from: process.standardOutput)
        } catch {
            throw ExternalProgramError(.pipeFailed, "reading its output failed: \(error)")
        }
    }

    /// Reads what stdout holds now, without waiting.
    private func readAvailableOutput() throws(ExternalProgramError) {
        while case .read = try readOutput() {}
    }

    /// One read of stderr into the tail.
    private func readStandardError() {
        do {
            if case .endOfFile = try errorTail.read(from: process.standardError) { standardErrorOpen = false }
        } catch {
            standardErrorOpen = false
        }
    }

    /// The program ended or closed a pipe before answering the current row: how it ended (waiting
    /// a moment for its exit status) and what its stderr said last.
    private func programEnded() -> ExternalProgramError {
        let ending: ProgramEnding.Reason
        switch process.waitForExit(timeout: ProgramSettings.exitGrace) {
        case .exited(let status): ending = .exited(status)
        case .signaled(let number): ending = .signaled(number)
        case .failedToStart, nil: ending = .stillRunning
        }
        // Its last words are in the pipe already; a bounded number of reads collects them.
        for _ in 0..<64 where standardErrorOpen {
            guard case .read = (try? errorTail.read(from: process.standardError)) ?? .endOfFile else { break }
        }
        let description = ProgramEnding(reason: ending, standardErrorTail: errorTail.text())
        return ExternalProgramError(
            .exitedEarly,
            "it \(description.phrase) before answering this row (it had answered \(linesAnswered) line\(linesAnswered == 1 ? "" : "s"))\(description.standardErrorClause)")
    }
}

/// Once per gss process, a word on stderr when an --exec program has not answered for a few
/// seconds: a program that buffers its output or input waits forever without one.
enum SilenceNotice {
    static let delay: Duration = .seconds(5)
    private static let said = Atomic<Bool>(false)

    static var isPending: Bool { !said.load(ordering: .relaxed) }

    static func say(program: String, row: Int, rows: Int, settings: ProgramSettings) {
        guard !said.exchange(true, ordering: .relaxed) else { return }
        let limit = settings.timeoutSeconds == nil
            ? "gss waits without limit; --exec-timeout SECONDS makes it fail instead"
            : "gss gives up at \(settings.timeoutPhrase)"
        let text = "gss: still waiting after \(delay.components.seconds) s for program '\(program)' to answer line \(row) of \(rows) "
            + "(one line of \(settings.outputCount) number\(settings.outputCount == 1 ? "" : "s") per line read). Usually it buffers: "
            + "its output (flush after every line: print(..., flush=True) or python3 -u, fflush(stdout), stdbuf -oL) "
            + "or its input (mawk reads ahead: use mawk -W interactive or gawk); \(limit).\n"
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
