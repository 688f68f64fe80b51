/// Everything that can go wrong between the host and a plugin, each with its own code, so callers
/// (and tests) can tell the cases apart. `description` is one sentence for the user.
public struct PluginError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable, Equatable {
        /// No bundled plugin has this id.
        case unknownPlugin
        /// The path does not exist.
        case fileNotFound
        /// dlopen failed (the message carries dlerror's text).
        case notLoadable
        /// The object does not export gss_plugin_entry.
        case missingEntry
        /// gss_plugin_entry returned NULL for our ABI major.
        case majorNotServed
        /// The descriptor's struct_size is smaller than the ABI 1.0 layout.
        case descriptorTooSmall
        /// The descriptor claims another ABI major.
        case majorMismatch
        /// A required member (function or string) is NULL.
        case missingMember
        /// The id is not of the form [a-z0-9._-]+.
        case invalidIdentifier
        /// create() failed (the message carries the plugin's text).
        case createFailed
        /// dims() reported n or m outside 1 ... limit.
        case invalidDimensions
        /// output_shape() reported a rank or extents inconsistent with m.
        case invalidOutputShape
        /// typical_scale() reported a scale that is not positive and finite.
        case invalidTypicalScale
        /// evaluate() returned an error status (the message carries the plugin's text).
        case evaluationFailed
        /// An isolated plugin's worker process died (a signal, or exit) while it ran plugin code.
        case workerCrashed
        /// An isolated plugin's worker process gave no answer within the time limit; it was killed.
        case workerTimedOut
        /// A worker process could not be started or spoke nonsense (the host's side failed).
        case workerFailed
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Usage errors (exit 2) versus failures of the black box while it runs (exit 1).
    public var isUsageError: Bool {
        switch code {
        case .evaluationFailed, .workerCrashed, .workerTimedOut, .workerFailed: return false
        default: return true
        }
    }

    public var description: String { message }
}
