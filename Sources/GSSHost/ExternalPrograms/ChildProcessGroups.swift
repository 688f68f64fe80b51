import CGSSSystem
import Glibc
import Synchronization

/// The process groups of the children alive now. Every child runs in a group of its own (so that
/// killing the group also kills what it started), which also means the terminal's Ctrl-C no longer
/// reaches it: so gss catches SIGINT, SIGTERM and SIGHUP, kills every group listed here, and then
/// dies by the same signal. An exit with children still listed (a path that skipped their
/// teardown) kills them too.
///
/// The table is a fixed array of atomics because a signal handler may only do async-signal-safe
/// work: it reads the slots and calls kill(2), nothing else.
public enum ChildProcessGroups {
    /// More children alive at once than this is refused (they could not be cleaned up on Ctrl-C).
    static let capacity = 4096

    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<Atomic<Int32>> = {
        let slots = UnsafeMutablePointer<Atomic<Int32>>.allocate(capacity: capacity)
        for index in 0..<capacity { (slots + index).initialize(to: Atomic(0)) }
        return slots
    }()

    /// Installs the handlers once, before the first child starts.
    private static let handlersInstalled: Bool = {
        _ = slots  // initialise the table before any handler can read it
        SystemCalls.ignoreBrokenPipes()
        SystemCalls.install(handler: { number in
            ChildProcessGroups.killAll()
            SystemCalls.dieBy(signal: number)
        }, for: [SIGINT, SIGTERM, SIGHUP])
        atexit { ChildProcessGroups.killAll() }
        return true
    }()

    /// Called before a child is started: signal handling is in place from then on.
    static func prepare() {
        _ = handlersInstalled
    }

    /// Lists a new child's group; false when the table is full.
    static func register(_ group: pid_t) -> Bool {
        prepare()
        for index in 0..<capacity {
            if slots[index].compareExchange(expected: 0, desired: group, ordering: .sequentiallyConsistent).exchanged {
                return true
            }
        }
        return false
    }

    /// Removes a group once its children are all gone.
    static func unregister(_ group: pid_t) {
        for index in 0..<capacity {
            if slots[index].compareExchange(expected: group, desired: 0, ordering: .sequentiallyConsistent).exchanged {
                return
            }
        }
    }

    /// The groups listed now (for tests: after a run's teardown there must be none).
    public static var live: [pid_t] {
        (0..<capacity).compactMap { index in
            let group = slots[index].load(ordering: .sequentiallyConsistent)
            return group == 0 ? nil : group
        }
    }

    /// Set once this process reaps orphaned descendants (`adoptOrphans`).
    private static let adopting = Atomic<Bool>(false)

    /// Makes gss the reaper of what its programs leave behind: a daemon that left their session
    /// (setsid, double fork) escapes the group kill, but becomes our child, and
    /// `killAdoptedOrphans` ends it. For the command only (a library must not change its host).
    /// Not caught: a daemon whose parent in its new session still lives when a program ends
    /// (it is not orphaned yet), anything left after gss itself is SIGKILLed, and, on Ctrl-C or
    /// SIGTERM, daemons outside the listed groups (the signal handler may only call kill(2)).
    /// Background jobs in a program's own group die with it and stay zombies until gss exits.
    public static func adoptOrphans() {
        if gss_become_subreaper() == 0 { adopting.store(true, ordering: .sequentiallyConsistent) }
    }

    /// SIGKILL to every adopted child in another session (and its group), and reaps it; its own
    /// children are adopted in turn, so this repeats until none is left (or 32 rounds).
    static func killAdoptedOrphans() {
        guard adopting.load(ordering: .sequentiallyConsistent) else { return }
        var pids = [Int32](repeating: 0, count: 256)
        for _ in 0..<32 {
            let count = gss_children_in_other_sessions(&pids, pids.count)
            if count == 0 { return }
            for pid in pids[0..<count] {
                let group = getpgid(pid)
                if group > 0 && group != getpgrp() { SystemCalls.killProcessGroup(group) }
                kill(pid, SIGKILL)
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            }
        }
    }

    /// SIGKILL to every listed group. Async-signal-safe.
    static func killAll() {
        for index in 0..<capacity {
            SystemCalls.killProcessGroup(slots[index].load(ordering: .relaxed))
        }
    }
}
