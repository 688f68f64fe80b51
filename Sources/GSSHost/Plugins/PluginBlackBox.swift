import CGSSSystem
import GSSCore
import Glibc

/// A plugin instance configuration as a black box. Workers share one instance when the plugin is
/// GSS_F_REENTRANT; otherwise every worker gets an instance of its own, created with the same options.
public struct PluginBlackBox: BlackBox {
    public let library: PluginLibrary
    public let options: [(key: String, value: String)]
    /// The first instance: it answers dims, shape and default input, and serves worker 0.
    public let primary: PluginInstance

    public init(library: PluginLibrary, options: [(key: String, value: String)]) throws(PluginError) {
        self.library = library
        self.options = options
        primary = try library.instantiate(options: options)
    }

    public var inputCount: Int { primary.inputCount }
    public var outputCount: Int { primary.outputCount }
    public var displayName: String { "plugin '\(library.id)'" }

    public func makeEvaluators(count: Int) throws -> [any BatchEvaluator] {
        var evaluators: [any BatchEvaluator] = [PluginEvaluator(instance: primary)]
        for _ in 1..<max(count, 1) {
            let instance = library.isReentrant ? primary : try library.instantiate(options: options)
            evaluators.append(PluginEvaluator(instance: instance))
        }
        return evaluators
    }
}

/// One worker's use of an instance, with its own error buffer.
final class PluginEvaluator: BatchEvaluator, @unchecked Sendable {
    let instance: PluginInstance
    private let error = UnsafeMutablePointer<CChar>.allocate(capacity: PluginInstance.errorCapacity)
    /// The plugin's id as a C string, for the crash guard's line (a signal handler cannot make one).
    private let pluginName: UnsafeMutablePointer<CChar>

    init(instance: PluginInstance) {
        self.instance = instance
        pluginName = strdup(instance.library.id)
    }

    deinit {
        error.deallocate()
        free(pluginName)
    }

    func evaluate(_ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>) throws {
        gss_crash_guard_enter(pluginName, inputs, rows, instance.inputCount)
        defer { gss_crash_guard_leave() }
        try instance.evaluate(inputs, rows: rows, into: outputs, error: error)
    }
}

/// Crashes of in-process plugins as one sentence with exit status 1 (see gss_system.h).
public enum PluginCrashGuard {
    /// Installs the signal handlers; for the command only, since a library must not take over its
    /// host's signals. Idempotent.
    public static func install() { gss_crash_guard_install() }
}
