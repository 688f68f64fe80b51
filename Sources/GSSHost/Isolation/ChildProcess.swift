import CGSSSystem
import Glibc
import Synchronization

/// How a child process ended.
public enum ProcessTermination: Sendable, Equatable, CustomStringConvertible {
    case exited(status: Int32)
    case signaled(signal: Int32)

    /// "killed by SIGSEGV (segmentation fault)" or "exited with status 3".
    public var description: String {
        switch self {
        case .exited(let status): return "exited with status \(status)"
        case .signaled(let signal): return "killed by \(SignalNames.describe(signal))"
        }
    }

    /// The description as a predicate: "was killed by …" or "exited with status 3".
    public var predicate: String {
        switch self {
        case .exited: return description
        case .signaled: return "was " + description
        }
    }

    init(waitStatus status: Int32) {
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import (they are macros).
        if status & 0x7f == 0 {
            self = .exited(status: (status >> 8) & 0xff)
        } else {
            self = .signaled(signal: status & 0x7f)
        }
    }
}

/// Signal names for messages: "SIGSEGV (segmentation fault)".
public enum SignalNames {
    private static let names: [Int32: String] = [
        SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
        SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1",
        SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM",
        SIGSTKFLT: "SIGSTKFLT", SIGCHLD: "SIGCHLD", SIGCONT: "SIGCONT", SIGSTOP: "SIGSTOP", SIGTSTP: "SIGTSTP",
        SIGTTIN: "SIGTTIN", SIGTTOU: "SIGTTOU", SIGURG: "SIGURG", SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ",
        SIGVTALRM: "SIGVTALRM", SIGPROF: "SIGPROF", SIGWINCH: "SIGWINCH", SIGIO: "SIGIO", SIGPWR: "SIGPWR",
        SIGSYS: "SIGSYS",
    ]

    /// "SIGSEGV", or "signal 40" for one without a name.
    public static func name(_ signal: Int32) -> String { names[signal] ?? "signal \(signal)" }

    /// "SIGSEGV (segmentation fault)": the name and the C library's description, lower-cased.
    public static func describe(_ signal: Int32) -> String {
        guard let text = strsignal(signal).map({ String(cString: $0) }), !text.hasPrefix("Unknown") else {
            return name(signal)
        }
        return "\(name(signal)) (\(text.prefix(1).lowercased() + text.dropFirst()))"
    }
}

/// Why a child process could not be started.
public struct ChildProcessError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// A child process started with posix_spawn, always reaped: by `wait`, `terminate`, or at the
/// latest when the last reference goes away (then it is killed if still running).
final class ChildProcess: Sendable {
    let pid: pid_t
    /// How it ended, once reaped; waiting for that happens under this lock.
    private let ended = Mutex<ProcessTermination?>(nil)

    /// Starts `executable` with `arguments`; `descriptors` maps file descriptor numbers in the
    /// child (3, 4, …) to descriptors of the parent, which must all be >= 10 so that no mapping
    /// overwrites another's source. stdin is /dev/null; stdout and stderr both go to `output`
    /// (the write end of a pipe the parent reads, so nothing the child prints reaches our stdout).
    init(
        executable: String, arguments: [String], descriptors: [Int32: Int32], output: Int32,
        environment: [String: String]? = nil
    ) throws(ChildProcessError) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        for (target, source) in descriptors.sorted(by: { $0.key < $1.key }) {
            precondition(source >= 10 && target < 10, "child descriptor mappings must go from >= 10 to < 10")
            posix_spawn_file_actions_adddup2(&actions, source, target)
        }
        // Nothing else crosses: a descriptor gss inherited without close-on-exec (a caller's pipe)
        // held by a worker would keep the caller waiting for an EOF.
        gss_spawn_close_from(&actions, (descriptors.keys.max() ?? 2) + 1)
        // The child starts with no blocked signals, whatever the spawning thread had blocked.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var environmentStrings: [UnsafeMutablePointer<CChar>?] = []
        if let environment {
            environmentStrings = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        }
        defer { environmentStrings.forEach { free($0) } }
        var pid: pid_t = 0
        let status = environmentStrings.isEmpty
            ? posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
            : posix_spawn(&pid, executable, &actions, &attributes, argv, &environmentStrings)
        guard status == 0 else {
            throw ChildProcessError(description: "cannot start '\(executable)': \(String(cString: strerror(status)))")
        }
        self.pid = pid
    }

    deinit {
        if termination == nil {
            Glibc.kill(pid, SIGKILL)
            _ = wait()
        }
    }

    /// How it ended, if it has ended and been reaped.
    var termination: ProcessTermination? { ended.withLock { $0 } }

    /// Reaps it if it has ended, without blocking.
    func poll() -> ProcessTermination? {
        ended.withLock { ended in
            if let ended { return ended }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { ended = ProcessTermination(waitStatus: status) }
            return ended
        }
    }

    /// Blocks until it ends.
    func wait() -> ProcessTermination {
        ended.withLock { ended in
            if let ended { return ended }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let termination = ProcessTermination(waitStatus: status)
            ended = termination
            return termination
        }
    }

    /// Waits up to `seconds` for it to end by itself, then kills it; returns how it ended.
    func terminate(within seconds: Double) -> ProcessTermination {
        let deadline = ContinuousClock.now.advanced(bySeconds: seconds)
        var pause: useconds_t = 100
        while ContinuousClock.now < deadline {
            if let ended = poll() { return ended }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        return kill()
    }

    /// SIGKILL (which cannot be caught or ignored), then reap.
    @discardableResult
    func kill() -> ProcessTermination {
        if let ended = poll() { return ended }
        Glibc.kill(pid, SIGKILL)
        return wait()
    }
}
