import Glibc
import GSSHost

/// Progress on stderr for a long run: redrawn in place on a terminal (at most ten times a
/// second), else one line at every 5% of the work. Nothing is shown before `silentFor` seconds,
/// so that quick runs stay quiet.
final class ProgressReporter: @unchecked Sendable {  // updates come one at a time (the callers' in-order merges)
    let command: String
    let unit: String
    let total: Int
    let silentFor: Duration
    let isTerminal = isatty(STDERR_FILENO) == 1
    let started = ContinuousClock.now
    private var lastDraw: ContinuousClock.Instant?
    private var lastDone = 0
    private var hasShown = false

    /// `command` and `unit` make the line: "optimize: step 3/100 (3%)…", "grad: samples 512/1024 (50%)…".
    init(command: String, unit: String, total: Int, silentFor: Duration = .zero) {
        self.command = command
        self.unit = unit
        self.total = max(1, total)
        self.silentFor = silentFor
    }

    /// `done` of the total units are finished; `detail` follows the percentage (e.g. a loss).
    func update(done: Int, detail: String = "") {
        let now = ContinuousClock.now
        let elapsed = now - started
        let previous = lastDone
        lastDone = done
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
