import ArgumentParser
import GSSHost

/// --isolate and --eval-timeout: run the plugin in worker processes, so that a crash or a hang in
/// it fails the run (exit 1, naming the signal or the time limit and the batch's first input row)
/// instead of killing gss. (The options are declared in BlackBoxOptions.)
extension BlackBoxOptions {
    func validateIsolation() throws {
        if let evaluationTimeout, !(evaluationTimeout > 0 && evaluationTimeout.isFinite) {
            throw ValidationError("--eval-timeout must be a positive number of seconds, got \(evaluationTimeout)")
        }
    }

    /// A time limit only means something for a plugin in another process, so it turns isolation on.
    var isolationIsEnabled: Bool { isolate || evaluationTimeout != nil }

    /// The plugin named by `argument` (an id or a path), running in worker processes.
    func openIsolated(plugin argument: String, options: [(key: String, value: String)]) throws -> OpenedBlackBox {
        guard let executable = WorkerExecutable.current else {
            throw CommandError.failure("cannot find the gss executable (/proc/self/exe) to start worker processes")
        }
        let box = try IsolatedPluginBlackBox(
            pluginPath: try PluginLocator.path(of: argument), options: options.map { PluginOption(key: $0.key, value: $0.value) },
            settings: IsolationSettings(workerExecutable: executable, evaluationTimeout: evaluationTimeout))
        return OpenedBlackBox(
            blackBox: box, defaultInput: box.description.defaultInput, outputShape: box.description.outputShape,
            typicalScale: box.description.typicalScale)
    }
}
