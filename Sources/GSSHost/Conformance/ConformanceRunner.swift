import Glibc

/// How `gss conform` runs its checks.
public struct ConformanceSettings: Sendable {
    /// The gss binary, started as `gss worker check NAME …` for every check.
    public var workerExecutable: String
    /// Seconds one check may take before its worker is killed and the check fails as hung.
    public var timeLimit: Double = 10
    /// Create/evaluate/destroy cycles of the lifecycle check (fewer if the time limit needs it).
    public var cycles: Int = 2000

    public init(workerExecutable: String, timeLimit: Double = 10, cycles: Int = 2000) {
        self.workerExecutable = workerExecutable
        self.timeLimit = timeLimit
        self.cycles = cycles
    }
}

/// Runs every conformance check on a plugin, each in its own worker process, and collects the
/// verdicts. A worker that dies or hangs fails its check with the signal (or the time limit) and
/// the step it was on; checks whose prerequisites failed are skipped.
public struct ConformanceRunner: Sendable {
    public let pluginPath: String
    public let options: [PluginOption]
    public let settings: ConformanceSettings

    public init(pluginPath: String, options: [PluginOption], settings: ConformanceSettings) {
        self.pluginPath = pluginPath
        self.options = options
        self.settings = settings
    }

    /// Runs the checks in order; `onResult` sees each verdict as it comes.
    public func run(onResult: (CheckResult) -> Void = { _ in }) -> ConformanceReport {
        var report = ConformanceReport(pluginPath: pluginPath, options: options)
        var hungIn: ConformanceCheck?
        // A key no plugin knows: random, so a plugin cannot special-case it.
        let unknownKey = "conform_unknown_" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        for check in ConformanceCheck.allCases {
            let outcome: CheckOutcome
            if let blocker = check.prerequisites.first(where: { needed in
                report.results.first { $0.check == needed }?.outcome.status != .pass
            }) {
                outcome = .skip("needs '\(blocker.rawValue)' to pass")
            } else if check.evaluates, let hungIn {
                outcome = .skip("evaluate already hung in '\(hungIn.rawValue)'")
            } else {
                outcome = run(check, unknownKey: unknownKey)
                if outcome.status == .fail, outcome.detail.hasPrefix(Self.noAnswer), check.evaluates { hungIn = check }
            }
            if let facts = outcome.facts { report.facts.merge(facts) }
            if let throughput = outcome.throughput { report.throughput = throughput }
            let result = CheckResult(check: check, outcome: outcome)
            report.results.append(result)
            onResult(result)
        }
        return report
    }

    private static let noAnswer = "no answer within"

    /// One check in a fresh worker: its outcome, or what happened to the worker.
    func run(_ check: ConformanceCheck, unknownKey: String) -> CheckOutcome {
        var environment: [String: String]?
        if check == .lifecycle {
            // Without glibc's per-thread cache, freed blocks are counted as free at once, so heap
            // in use is exact and an unchanged heap means "nothing leaked".
            environment = ProcessEnvironment.all
            environment!["GLIBC_TUNABLES"] = "glibc.malloc.tcache_count=0"
        }
        let invocation = WorkerInvocation(
            role: .check(check.rawValue), pluginPath: pluginPath, options: options, parent: getpid(),
            settings: [
                ProbeSetting.budget: String(settings.timeLimit * ProbeSetting.budgetShare),
                ProbeSetting.cycles: String(settings.cycles),
                ProbeSetting.unknownKey: unknownKey,
            ])
        let connection: WorkerConnection
        do {
            connection = try WorkerConnection(
                executable: settings.workerExecutable, invocation: invocation, environment: environment)
        } catch {
            return .fail("could not start a worker process: \(error)")
        }
        let deadline = ContinuousClock.now.advanced(bySeconds: settings.timeLimit)
        var step = "starting"
        while true {
            let frame: (kind: UInt8, payload: [UInt8])
            do {
                frame = try connection.nextFrame(deadline: deadline)
            } catch .timedOut {
                connection.kill()
                return .fail("\(Self.noAnswer) \(String(cFormat: "%g", settings.timeLimit)) s while \(step) (the worker was killed; --timeout sets the limit)")
            } catch .closed {
                let termination = connection.reapAfterClose()
                let said = connection.lastOutputLine()
                return .fail("\(termination) while \(step)" + (said.isEmpty ? "" : "; its last output: '\(said)'"))
            } catch {
                connection.kill()
                return .fail("the worker process failed while \(step): \(error)")
            }
            switch FrameKind(rawValue: frame.kind) {
            case .step:
                step = String(decoding: frame.payload, as: UTF8.self)
            case .outcome:
                guard var outcome = try? WireFormat.decode(CheckOutcome.self, from: frame.payload) else {
                    connection.kill()
                    return .fail("the worker process sent an unreadable verdict")
                }
                // Whatever the plugin does at exit (static destructors) is part of the verdict.
                let termination = connection.finish(grace: settings.timeLimit)
                if termination != .exited(status: 0), outcome.status != .fail {
                    outcome = .fail("\(outcome.detail); but then the worker process \(termination.predicate) at exit")
                }
                return outcome
            default:
                connection.kill()
                return .fail("the worker process sent a message of unknown kind \(frame.kind)")
            }
        }
    }
}

/// Names of the settings a conformance worker receives.
enum ProbeSetting {
    /// Seconds the worker may spend in its timed loops (throughput, threads, lifecycle).
    static let budget = "budget"
    /// Lifecycle cycles to run.
    static let cycles = "cycles"
    /// The option key the unknown-option check offers.
    static let unknownKey = "unknown-key"
    /// The share of the time limit a worker plans to use, leaving room for start-up and slow calls.
    static let budgetShare = 0.5
}
