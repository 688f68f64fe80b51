import Dispatch
import Glibc
import Subprocess
import Synchronization
import SystemPackage

/// One `/bin/sh -c COMMAND` child in a process group of its own, with pipes on its stdin (for
/// --exec), stdout and stderr whose other ends this process drives synchronously.
///
/// Why this split between swift-subprocess and swift-system: `BatchEvaluator.evaluate` is
/// synchronous and runs on a dedicated worker thread, and a batch needs writing and reading to
/// overlap. swift-subprocess owns what is hard to get right about a child's life — spawning with
/// every other descriptor closed and every signal reset to default, in its own process group,
/// watching for its exit (pidfd + epoll on its own monitor thread) and reaping it — in an async
/// `run`, started as a detached task that merely awaits the child's end, so no thread of the
/// concurrency pool is held while a child lives. The thread that starts a child waits for its pid
/// on a semaphore; gss's callers are dedicated worker threads, never pool threads. Its async byte
/// streams, though, would put every batch through task hops and an async/sync bridge on both
/// pipes. So the pipes are ours (swift-system `FileDescriptor`s handed to `run` as
/// `.fileDescriptor`): the worker thread writes stdin and reads stdout and stderr itself, with
/// non-blocking ends and poll(2), which overlaps the two directions without a second thread, needs
/// no buffering beyond one batch, cannot deadlock on full pipes, and sleeps in poll rather than
/// spinning. The `run` task reports the child's end by writing a byte to an "exit notice" pipe
/// that the same poll watches, so a child that dies while a grandchild keeps stdout open is still
/// noticed at once.
final class ProgramProcess: @unchecked Sendable {
    /// How the child ended, or why it never started.
    enum Outcome: Sendable {
        case exited(Int32)
        case signaled(Int32)
        case failedToStart(String)
    }

    let command: String
    /// Our write end of its stdin (nil: its stdin is /dev/null).
    private(set) var standardInput: FileDescriptor?
    let standardOutput: FileDescriptor
    let standardError: FileDescriptor
    /// Readable once the child has ended and been reaped.
    let exitNotice: FileDescriptor
    /// The child's pid, which is also its process group id.
    let processGroup: pid_t
    private let state: ChildState
    private var closed = false

    /// Starts the command; returns once it runs (or throws when it could not be started).
    init(command: String, withStandardInput: Bool) throws(ExternalProgramError) {
        self.command = command
        func pipe() throws(ExternalProgramError) -> (readEnd: FileDescriptor, writeEnd: FileDescriptor) {
            do {
                // Close-on-exec, so no other child inherits our ends (and sees no EOF when we close).
                return try FileDescriptor.pipe(options: .closeOnExec)
            } catch {
                throw ExternalProgramError(.startFailed, "could not create a pipe for '\(command)': \(error)")
            }
        }
        var opened: [FileDescriptor] = []
        func closeAll() { for descriptor in opened { try? descriptor.close() } }
        let input = withStandardInput ? try pipe() : nil
        if let input { opened += [input.readEnd, input.writeEnd] }
        let output: (readEnd: FileDescriptor, writeEnd: FileDescriptor)
        let error: (readEnd: FileDescriptor, writeEnd: FileDescriptor)
        let notice: (readEnd: FileDescriptor, writeEnd: FileDescriptor)
        do {
            output = try pipe()
            opened += [output.readEnd, output.writeEnd]
            error = try pipe()
            opened += [error.readEnd, error.writeEnd]
            notice = try pipe()
            opened += [notice.readEnd, notice.writeEnd]
            for ours in [input?.writeEnd, output.readEnd, error.readEnd, notice.readEnd].compactMap({ $0 }) {
                try SystemCalls.setNonBlocking(ours)
            }
        } catch let failure as ExternalProgramError {
            closeAll()
            throw failure
        } catch {
            closeAll()
            throw ExternalProgramError(.startFailed, "could not set up the pipes for '\(command)': \(error)")
        }

        let state = ChildState()
        var options = PlatformOptions()
        options.processGroupID = 0  // a group of its own, led by the child: killing it kills its descendants
        let configuration = Configuration(
            executable: .path("/bin/sh"), arguments: ["-c", command], environment: .inherit, platformOptions: options)
        let childInput = input?.readEnd
        ChildProcessGroups.prepare()
        Task.detached {
            do {
                // run() hands the child its ends and closes them here once it has started; the body
                // only reports the pid, and run() then awaits the child's end and reaps it.
                let status: TerminationStatus
                if let childInput {
                    status = try await run(
                        configuration, input: .fileDescriptor(childInput, closeAfterSpawningProcess: true),
                        output: .fileDescriptor(output.writeEnd, closeAfterSpawningProcess: true),
                        error: .fileDescriptor(error.writeEnd, closeAfterSpawningProcess: true)
                    ) { execution in state.started(execution.processIdentifier.value) }.terminationStatus
                } else {
                    status = try await run(
                        configuration, input: .none,
                        output: .fileDescriptor(output.writeEnd, closeAfterSpawningProcess: true),
                        error: .fileDescriptor(error.writeEnd, closeAfterSpawningProcess: true)
                    ) { execution in state.started(execution.processIdentifier.value) }.terminationStatus
                }
                switch status {
                case .exited(let code): state.ended(.exited(code))
                case .signaled(let number): state.ended(.signaled(number))
                }
            } catch {
                state.ended(.failedToStart("\(error)"))
            }
            // Wake the poll of whoever waits for this child; the byte is never read.
            _ = try? withUnsafeBytes(of: UInt8(1)) { try notice.writeEnd.write($0) }
            try? notice.writeEnd.close()
        }
        let (pid, listed) = state.waitUntilStarted()
        guard pid > 0 else {
            for descriptor in [input?.writeEnd, output.readEnd, error.readEnd, notice.readEnd].compactMap({ $0 }) {
                try? descriptor.close()
            }
            let reason: String
            if case .failedToStart(let text) = state.outcome { reason = text } else { reason = "unknown reason" }
            throw ExternalProgramError(.startFailed, "could not start /bin/sh -c '\(command)': \(reason)")
        }
        self.state = state
        standardInput = input?.writeEnd
        standardOutput = output.readEnd
        standardError = error.readEnd
        exitNotice = notice.readEnd
        processGroup = pid
        guard listed else {
            finish()
            throw ExternalProgramError(
                .tooManyProcesses, "more than \(ChildProcessGroups.capacity) external programs would run at once")
        }
    }

    deinit { finish() }

    /// How it ended; nil while it runs.
    var ending: Outcome? { state.outcome }

    /// Waits (in poll, not spinning) up to `timeout` for the child to end; its outcome, or nil.
    @discardableResult
    func waitForExit(timeout: Duration) -> Outcome? {
        if let ending { return ending }
        _ = try? SystemCalls.poll([(exitNotice, false)], timeout: timeout)
        return ending
    }

    /// Closes our end of its stdin: a filter sees end of file and should exit.
    func closeStandardInput() {
        if let standardInput {
            try? standardInput.close()
            self.standardInput = nil
        }
    }

    /// Kills the child's whole process group now.
    func kill() {
        SystemCalls.killProcessGroup(processGroup)
    }

    /// Ends the child for good: waits up to `grace` for it to exit by itself, then kills its group
    /// (which also removes anything it left running in the background), waits until it is reaped
    /// and closes our descriptors. Safe to call more than once.
    func finish(grace: Duration = .zero) {
        guard !closed else { return }
        closed = true
        closeStandardInput()
        if grace > .zero { waitForExit(timeout: grace) }
        kill()
        // SIGKILL cannot be refused; the bound only guards against a child stuck in the kernel.
        waitForExit(timeout: .seconds(10))
        kill()  // stragglers that were started after the first kill
        ChildProcessGroups.unregister(processGroup)
        ChildProcessGroups.killAdoptedOrphans()
        for descriptor in [standardOutput, standardError, exitNotice] { try? descriptor.close() }
    }
}

/// What the `run` task tells the thread that started the child: its pid once it runs (listed
/// among the groups to kill on Ctrl-C before anyone else hears of it), and how it ended.
private final class ChildState: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let start = Mutex<(pid: pid_t, listed: Bool)?>(nil)
    private let end = Mutex<ProgramProcess.Outcome?>(nil)

    func started(_ pid: pid_t) {
        let listed = ChildProcessGroups.register(pid)
        start.withLock { $0 = (pid, listed) }
        semaphore.signal()
    }

    func ended(_ outcome: ProgramProcess.Outcome) {
        end.withLock { $0 = outcome }
        // A child that never started still has to release the waiting thread.
        let wasStarted = start.withLock { state in
            if state != nil { return true }
            state = (0, false)
            return false
        }
        if !wasStarted { semaphore.signal() }
    }

    func waitUntilStarted() -> (pid: pid_t, listed: Bool) {
        semaphore.wait()
        return start.withLock { $0! }
    }

    var outcome: ProgramProcess.Outcome? { end.withLock { $0 } }
}
