import CGSSPlugin
import Foundation

/// One created plugin instance; destroyed exactly once, when the last reference goes away.
public final class PluginInstance: @unchecked Sendable {
    /// Inputs or outputs beyond this are refused as a sign of a broken dims().
    public static let dimensionLimit = 1 << 26
    static let errorCapacity = 1024

    public let library: PluginLibrary
    public let inputCount: Int
    public let outputCount: Int
    let handle: OpaquePointer

    init(library: PluginLibrary, options: [(key: String, value: String)]) throws(PluginError) {
        self.library = library
        var error = [CChar](repeating: 0, count: Self.errorCapacity)
        var created: OpaquePointer?
        // The plugin copies what it keeps; the strings only need to outlive the call.
        let keys = options.map { strdup($0.key)! }
        let values = options.map { strdup($0.value)! }
        defer {
            keys.forEach { free($0) }
            values.forEach { free($0) }
        }
        let pairs = zip(keys, values).map { gss_option(key: UnsafePointer($0), value: UnsafePointer($1)) }
        let status = pairs.withUnsafeBufferPointer { buffer in
            library.create(buffer.baseAddress, buffer.count, &created, &error, error.count)
        }
        guard status == GSS_OK, let created else {
            let detail = error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let reason = detail.isEmpty ? "status \(PluginStatus.name(status)) without a message" : detail
            throw PluginError(.createFailed, "plugin '\(library.id)' refused to start: \(reason)")
        }
        handle = created
        var n = 0
        var m = 0
        library.dims(created, &n, &m)
        guard (1...Self.dimensionLimit).contains(n), (1...Self.dimensionLimit).contains(m) else {
            library.destroy(created)
            throw PluginError(
                .invalidDimensions,
                "plugin '\(library.id)' reports n = \(n) inputs and m = \(m) outputs; both must be between 1 and \(Self.dimensionLimit)")
        }
        inputCount = n
        outputCount = m
    }

    deinit { library.destroy(handle) }

    /// The output's shape (e.g. [64, 64] for an image), or [m] when the plugin does not say.
    public func outputShape() throws(PluginError) -> [Int] {
        guard let outputShape = library.outputShape else { return [outputCount] }
        var shape = [Int](repeating: 0, count: 4)
        let rank = outputShape(handle, &shape)
        guard (1...4).contains(rank), shape[0..<rank].reduce(1, *) == outputCount else {
            throw PluginError(
                .invalidOutputShape,
                "plugin '\(library.id)' reports an output shape of rank \(rank) \(Array(shape.prefix(max(0, min(rank, 4))))) that does not multiply to m = \(outputCount)")
        }
        return Array(shape[0..<rank])
    }

    /// The plugin's suggested starting input, or nil when it has none.
    public func defaultInput() -> [Double]? {
        guard let defaultInput = library.defaultInput else { return nil }
        var x = [Double](repeating: 0, count: inputCount)
        defaultInput(handle, &x)
        return x
    }

    /// Evaluates `rows` rows; `error` must hold errorCapacity bytes (each caller brings its own).
    func evaluate(
        _ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>,
        error: UnsafeMutablePointer<CChar>
    ) throws(PluginError) {
        error[0] = 0
        let status = library.evaluate(handle, inputs, rows, outputs, error, Self.errorCapacity)
        guard status == GSS_OK else {
            error[Self.errorCapacity - 1] = 0
            let detail = String(cString: error)
            // The caller names the plugin and the row; this says what the plugin said.
            throw PluginError(.evaluationFailed, PluginStatus.name(status) + (detail.isEmpty ? "" : ": \(detail)"))
        }
    }
}

/// Names of gss_status values for messages.
public enum PluginStatus {
    public static func name(_ status: gss_status) -> String {
        switch status {
        case GSS_OK: return "GSS_OK"
        case GSS_E_INVALID_ARGUMENT: return "GSS_E_INVALID_ARGUMENT"
        case GSS_E_OUT_OF_MEMORY: return "GSS_E_OUT_OF_MEMORY"
        case GSS_E_EVALUATION: return "GSS_E_EVALUATION"
        case GSS_E_UNSUPPORTED: return "GSS_E_UNSUPPORTED"
        case GSS_E_INTERNAL: return "GSS_E_INTERNAL"
        default: return "unknown status \(status)"
        }
    }
}
