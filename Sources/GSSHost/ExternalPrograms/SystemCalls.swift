import Glibc
import SystemPackage

/// The few POSIX calls that neither swift-subprocess nor swift-system offer (poll, fcntl, kill of a
/// process group, signal dispositions), wrapped once here so the rest of the code stays in Swift.
enum SystemCalls {
    /// Readiness of one descriptor for `poll`.
    struct Readiness {
        var readable = false
        var writable = false
        /// The other end is gone (POLLHUP/POLLERR): reads return what is left, then end of file.
        var hungUp = false
    }

    /// Waits until one of `descriptors` is ready for what `events` asks (true: readable, false:
    /// writable), or `timeout` passes (nil: no limit). Returns one Readiness per descriptor.
    /// An interrupted wait is retried with the time that is left.
    static func poll(
        _ descriptors: [(descriptor: FileDescriptor, forWriting: Bool)], timeout: Duration?
    ) throws(Errno) -> [Readiness] {
        var entries = descriptors.map {
            pollfd(fd: $0.descriptor.rawValue, events: Int16($0.forWriting ? POLLOUT : POLLIN), revents: 0)
        }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            var milliseconds: Int32 = -1
            if let deadline {
                let left = ContinuousClock.now.duration(to: deadline)
                // Round up, so a wait never ends just before its deadline.
                let (seconds, attoseconds) = left.components
                milliseconds = left <= .zero ? 0 : Int32(clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
            }
            let count = Glibc.poll(&entries, nfds_t(entries.count), milliseconds)
            if count >= 0 { break }
            let error = Errno(rawValue: errno)
            guard error == .interrupted else { throw error }
        }
        return entries.map { entry in
            let events = Int32(entry.revents)
            return Readiness(
                readable: events & Int32(POLLIN) != 0, writable: events & Int32(POLLOUT) != 0,
                hungUp: events & Int32(POLLHUP | POLLERR | POLLNVAL) != 0)
        }
    }

    /// Makes reads and writes on our end of a pipe return at once (EAGAIN) instead of blocking;
    /// the child's end is a separate open file description and stays blocking.
    static func setNonBlocking(_ descriptor: FileDescriptor) throws(Errno) {
        let flags = fcntl(descriptor.rawValue, F_GETFL)
        guard flags >= 0, fcntl(descriptor.rawValue, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw Errno(rawValue: errno)
        }
    }

    /// SIGKILL to every process of a group (async-signal-safe; a group already gone is not an error).
    static func killProcessGroup(_ group: pid_t) {
        guard group > 0 else { return }
        _ = kill(-group, SIGKILL)
    }

    /// Writing to a pipe whose reader has exited must fail with EPIPE, not kill gss with SIGPIPE.
    /// Children still start with SIGPIPE at its default: swift-subprocess resets every signal.
    static func ignoreBrokenPipes() {
        _ = signal(SIGPIPE, SIG_IGN)
    }

    /// Installs `handler` for `signals`, except where the signal is already ignored (gss started
    /// in the background or under nohup keeps ignoring it, as a shell expects).
    static func install(handler: @convention(c) (Int32) -> Void, for signals: [Int32]) {
        for number in signals {
            var current = sigaction()
            guard sigaction(number, nil, &current) == 0 else { continue }
            if let existing = current.__sigaction_handler.sa_handler,
                unsafeBitCast(existing, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
            {
                continue
            }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = handler
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            _ = sigaction(number, &action, nil)
        }
    }

    /// Ends the process by `signal` with its default action, from inside a handler of that signal.
    static func dieBy(signal number: Int32) -> Never {
        _ = signal(number, SIG_DFL)
        _ = raise(number)
        _exit(128 + number)  // not reached: the default action of these signals ends the process
    }

    /// The conventional name of a signal, e.g. "SIGSEGV", for messages.
    static func signalName(_ number: Int32) -> String {
        let names: [Int32: String] = [
            SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
            SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1",
            SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM",
            SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ",
        ]
        return names[number] ?? "signal \(number)"
    }
}
