import Foundation
import Glibc

/// A program started in the background (its stdout and stderr go to files), for tests that signal
/// it while it runs.
public final class BackgroundProgram: @unchecked Sendable {
    public let pid: pid_t
    private let outputPath: String
    private let errorPath: String
    private var status: Int32?

    public init(_ path: String, _ arguments: [String], directory: String) throws {
        outputPath = directory + "/stdout-\(UUID().uuidString)"
        errorPath = directory + "/stderr-\(UUID().uuidString)"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var env = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { env.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, &env)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .ENOENT) }
        self.pid = pid
    }

    /// Sends `signal` to the program (only to it, not to its group).
    public func send(_ signal: Int32) { kill(pid, signal) }

    /// Waits up to `timeout` seconds for the program to end; its exit status (128 + signal when
    /// killed by one), or nil when it still runs.
    public func wait(timeout: Double) -> Int32? {
        if let status { return status }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            if result == pid {
                let exitStatus: Int32 = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
                status = exitStatus
                return exitStatus
            }
            if Date() >= deadline { return nil }
            usleep(10_000)
        }
    }

    public var standardOutput: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    public var standardError: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    /// Kills it if it still runs (for test cleanup).
    public func killIfRunning() {
        if wait(timeout: 0) == nil {
            kill(pid, SIGKILL)
            _ = wait(timeout: 5)
        }
    }
}

/// Live (not zombie) processes whose process group is `group`, from /proc.
public func processes(inGroup group: pid_t) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> pid_t? in
        guard let pid = pid_t(entry),
            let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": state, ppid, pgrp, ...
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, fields[0] != "Z", pid_t(fields[2]) == group else { return nil }
        return pid
    }
}

/// Waits up to `timeout` seconds for every process of the groups to be gone; what is left.
public func survivors(ofGroups groups: [pid_t], timeout: Double = 5) -> [pid_t] {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let left = groups.flatMap { processes(inGroup: $0) }
        if left.isEmpty || Date() >= deadline { return left }
        usleep(20_000)
    }
}

/// The process groups recorded (one per line) in a file by a test program; waits up to `timeout`
/// seconds until there are at least `count`.
public func recordedGroups(in path: String, count: Int, timeout: Double = 20) -> [pid_t] {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let groups = text.split(separator: "\n").compactMap { pid_t($0) }
        if groups.count >= count || Date() >= deadline { return groups }
        usleep(20_000)
    }
}

/// A fresh temporary directory for one test.
public func temporaryDirectory(_ name: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("gss-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Writes an executable file (mode 0755) through a close-on-exec descriptor, so that no program
/// another thread starts meanwhile inherits it open for writing (which makes exec fail with ETXTBSY).
public func writeExecutable(_ path: String, _ contents: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
    guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    defer { close(fd) }
    let bytes = Array(contents.utf8)
    var written = 0
    while written < bytes.count {
        let count = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        written += count
    }
}
