import Foundation
import Glibc

/// Where `swift build`/`swift test` put the gss binary, the bundled plugins and the fixtures:
/// the directory of the running test binary.
public enum Products {
    public static let directory: String = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // Under `swift test` the binary may sit inside a .xctest bundle directory.
        while url.path.hasSuffix(".xctest") || url.lastPathComponent == "MacOS" || url.lastPathComponent == "Contents" {
            url.deleteLastPathComponent()
        }
        return url.path
    }()

    public static var gss: String { directory + "/gss" }

    public static func fixture(_ name: String) -> String { directory + "/libgssfixture-\(name).so" }

    public static func bundled(_ id: String) -> String { directory + "/libgss-\(id).so" }

    /// The stand-in for the external TEM-simulator program (Tests/Support/FakeTEMSimulator).
    public static var fakeTEMSimulator: String { directory + "/FakeTEMSimulator" }

    /// The repository root (for examples and sources used by end-to-end tests).
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
}

/// The result of running a program to completion.
public struct ProgramRun: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    /// Peak resident memory of the child in KiB (from wait4's rusage).
    public let maxResidentKiB: Int
}

/// Runs a program with arguments, capturing stdout and stderr (read concurrently, so large
/// outputs cannot deadlock), and reports its exit status and peak memory.
public func runProgram(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ProgramRun {
    var stdoutPipe: [Int32] = [0, 0]
    var stderrPipe: [Int32] = [0, 0]
    guard pipe(&stdoutPipe) == 0, pipe(&stderrPipe) == 0 else { throw POSIXError(.EMFILE) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
    posix_spawn_file_actions_addclose(&actions, stdoutPipe[0])
    posix_spawn_file_actions_addclose(&actions, stderrPipe[0])
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { env.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, nil, argv, &env)
    close(stdoutPipe[1])
    close(stderrPipe[1])
    guard spawned == 0 else {
        close(stdoutPipe[0])
        close(stderrPipe[0])
        throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .ENOENT)
    }
    let errorData = ReadAll(fd: stderrPipe[0])
    let errorThread = Thread { errorData.run() }
    errorThread.start()
    let outputData = ReadAll(fd: stdoutPipe[0])
    outputData.run()
    errorData.wait()
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return ProgramRun(
        status: exitStatus, stdout: String(decoding: outputData.bytes, as: UTF8.self),
        stderr: String(decoding: errorData.bytes, as: UTF8.self), maxResidentKiB: usage.ru_maxrss)
}

/// Reads a file descriptor to its end and closes it.
private final class ReadAll: @unchecked Sendable {
    let fd: Int32
    var bytes: [UInt8] = []
    let finished = DispatchSemaphore(value: 0)

    init(fd: Int32) { self.fd = fd }

    func run() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count > 0 { bytes += buffer[0..<count] } else if count < 0 && errno == EINTR { continue } else { break }
        }
        close(fd)
        finished.signal()
    }

    func wait() { finished.wait() }
}

/// Runs `gss` with arguments.
public func runGSS(_ arguments: [String]) throws -> ProgramRun {
    try runProgram(Products.gss, arguments)
}
