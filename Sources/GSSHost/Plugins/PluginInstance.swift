import CGSSPlugin

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
        let (status, created) = error.withUnsafeMutableBufferPointer { buffer in
            library.functions.create(options: options, error: buffer.baseAddress!, capacity: buffer.count)
        }
        guard status == GSS_OK, let created else {
            let detail = error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let reason = detail.isEmpty ? "status \(PluginStatus.name(status)) without a message" : detail
            throw PluginError(.createFailed, "plugin '\(library.id)' refused to start: \(reason)")
        }
        handle = created
        let (n, m) = library.functions.dims(created)
        guard (1...Self.dimensionLimit).contains(n), (1...Self.dimensionLimit).contains(m) else {
            library.functions.destroy(created)
            throw PluginError(
                .invalidDimensions,
                "plugin '\(library.id)' reports n = \(n) inputs and m = \(m) outputs; both must be between 1 and \(Self.dimensionLimit)")
        }
        inputCount = n
        outputCount = m
    }

    deinit { library.functions.destroy(handle) }

    /// The output's shape (e.g. [64, 64] for an image), or [m] when the plugin does not say.
    public func outputShape() throws(PluginError) -> [Int] {
        var shape = [Int](repeating: 0, count: 4)
        guard let rank = library.functions.outputShape(handle, into: &shape) else { return [outputCount] }
        guard (1...4).contains(rank), shape[0..<rank].reduce(1, *) == outputCount else {
            throw PluginError(
                .invalidOutputShape,
                "plugin '\(library.id)' reports an output shape of rank \(rank) \(Array(shape.prefix(max(0, min(rank, 4))))) that does not multiply to m = \(outputCount)")
        }
        return Array(shape[0..<rank])
    }

    /// The plugin's suggested starting input, or nil when it has none.
    public func defaultInput() -> [Double]? {
        var x = [Double](repeating: 0, count: inputCount)
        return library.functions.defaultInput(handle, into: &x) ? x : nil
    }

    /// The plugin's typical scale per input (ABI 1.1), or nil when it has none; a scale that is
    /// not n positive finite numbers is refused as a broken plugin.
    public func typicalScale() throws(PluginError) -> [Double]? {
        var scale = [Double](repeating: .nan, count: inputCount)
        guard library.functions.typicalScale(handle, into: &scale) else { return nil }
        guard let bad = scale.firstIndex(where: { !($0 > 0 && $0.isFinite) }) else { return scale }
        throw PluginError(
            .invalidTypicalScale,
            "plugin '\(library.id)' reports a typical scale of \(scale[bad]) for input \(bad); each must be positive and finite")
    }

    /// Evaluates `rows` rows; `error` must hold errorCapacity bytes (each caller brings its own).
    func evaluate(
        _ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>,
        error: UnsafeMutablePointer<CChar>
    ) throws(PluginError) {
        error[0] = 0
        // Outputs the plugin never writes stay NaN and fail the estimate instead of counting as
        // zero (or as whatever the buffer held, which differs from run to run).
        outputs.update(repeating: .nan, count: rows * outputCount)
        let status = library.functions.evaluate(handle, inputs, rows: rows, outputs, error: error, capacity: Self.errorCapacity)
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
