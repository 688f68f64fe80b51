import Glibc
import GSSHost
import Synchronization

/// Progress on stderr for a long run: redrawn in place on a terminal (at most ten times a
/// second), else one line at every 5% of the work. Nothing is shown before `silentFor` seconds,
/// so that quick runs stay quiet.
final class ProgressReporter: @unchecked Sendable {  // updates come one at a time (the callers' in-order merges)
    let command: String
    let unit: String
    let total: Int
    let silentFor: Duration
    /// A line written with the first update, however early.
    private var preamble: String?
    let isTerminal = isatty(STDERR_FILENO) == 1
    let started = ContinuousClock.now
    private var lastDraw: ContinuousClock.Instant?
    private var lastDone = 0
    private var hasShown = false

    /// `command` and `unit` make the line: "optimize: step 3/100 (3%)…", "grad: samples 512/1024 (50%)…".
    init(command: String, unit: String, total: Int, silentFor: Duration = .zero, preamble: String? = nil) {
        self.command = command
        self.unit = unit
        self.total = max(1, total)
        self.silentFor = silentFor
        self.preamble = preamble
    }

    /// `done` of the total units are finished; `detail` follows the percentage (e.g. a loss).
    func update(done: Int, detail: String = "") {
        let now = ContinuousClock.now
        let elapsed = now - started
        let previous = lastDone
        lastDone = done
        if let preamble {
            StandardError.write(preamble + "\n")
            self.preamble = nil
        }
        guard elapsed >= silentFor else { return }
        let percent = String(100 * done / total).leftPadded(3)
        let text = "\(command): \(unit) \(done)/\(total) (\(percent)%)\(detail)  elapsed \(Self.seconds(elapsed)) s"
        if isTerminal {
            if let lastDraw, now - lastDraw < .milliseconds(100) && done < total { return }
            lastDraw = now
            hasShown = true
            StandardError.write("\r\u{1B}[K" + text)
        } else if (done * 20) / total > (previous * 20) / total || (!hasShown && silentFor > .zero) {
            hasShown = true
            StandardError.write(text + "\n")
        }
    }

    /// Ends the redrawn line on a terminal (nothing when nothing was shown).
    func finish() {
        if isTerminal && hasShown { StandardError.write("\n") }
    }

    /// One decimal, without Foundation's formatting.
    private static func seconds(_ duration: Duration) -> String {
        let tenths = duration.components.seconds * 10 + duration.components.attoseconds / 100_000_000_000_000_000
        return "\(tenths / 10).\(tenths % 10)"
    }
}

/// Progress for work of unknown length (one evaluation): after `silentFor`, a line with the time
/// elapsed, redrawn every tenth of a second on a terminal, else written every ten seconds.
final class ElapsedTicker: Sendable {
    private struct State {
        var stopped = false
        var shown = false
    }

    private let state = Mutex(State())
    private let isTerminal = isatty(STDERR_FILENO) == 1

    /// Starts the ticker's thread; `text` says what is being waited for.
    init(_ text: String, silentFor: Duration = .seconds(1)) {
        let started = ContinuousClock.now
        let work = Work { [self] in
            var lastLine = started
            while true {
                usleep(100_000)
                let now = ContinuousClock.now
                let stop = self.state.withLock { state -> Bool in
                    // Drawn under the lock, so that nothing is drawn once finish() has returned.
                    guard !state.stopped else { return true }
                    guard now - started >= silentFor else { return false }
                    let line = "\(text)  elapsed \((now - started).components.seconds) s"
                    if self.isTerminal {
                        StandardError.write("\r\u{1B}[K" + line)
                        state.shown = true
                    } else if !state.shown || now - lastLine >= .seconds(10) {
                        StandardError.write(line + "\n")
                        lastLine = now
                        state.shown = true
                    }
                    return false
                }
                if stop { return }
            }
        }
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { pointer in
            Unmanaged<Work>.fromOpaque(pointer!).takeRetainedValue().body()
            return nil
        }, Unmanaged.passRetained(work).toOpaque())
        if created == 0 { pthread_detach(thread) }
    }

    /// Stops the ticker and ends its line on a terminal; returns at once.
    func finish() {
        state.withLock { state in
            if isTerminal && state.shown && !state.stopped { StandardError.write("\n") }
            state.stopped = true
        }
    }

    private final class Work: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
