import CGSSLibrary
import Glibc
import GSSCore
import GSSHost

// The functions of include/gss.h, each a thin translation: C arguments to Swift values, one call
// into Core or Host, results and errors back (LibraryError, libraryCall). Contracts are the header's.

/// The handle behind a gss_black_box pointer (retained by the pointer until gss_black_box_free).
private func blackBox(_ pointer: OpaquePointer) -> LibraryBlackBox {
    Unmanaged<LibraryBlackBox>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
}

private func configuration(_ pointer: OpaquePointer) -> LibraryConfiguration {
    Unmanaged<LibraryConfiguration>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
}

private func handOver(_ box: LibraryBlackBox, to out: UnsafeMutablePointer<OpaquePointer?>) {
    out.pointee = OpaquePointer(Unmanaged.passRetained(box).toOpaque())
}

/// A required pointer argument, or a sentence naming it.
private func required<T>(_ value: T?, _ name: String) throws(LibraryError) -> T {
    guard let value else { throw .invalid("\(name) must not be NULL") }
    return value
}

private func string(_ text: UnsafePointer<CChar>?, _ name: String) throws(LibraryError) -> String {
    String(cString: try required(text, name))
}

/// A size given as size_t within 1 ... limit, or a sentence.
private func dimension(_ value: Int, _ name: String) throws(LibraryError) -> Int {
    guard (1...PluginInstance.dimensionLimit).contains(value) else {
        throw .invalid("\(name) must be from 1 to \(PluginInstance.dimensionLimit), got \(value)")
    }
    return value
}

// MARK: Versions

@_cdecl("gss_api_version")
public func gss_api_version() -> UInt32 { (UInt32(GSS_API_MAJOR) << 16) | UInt32(GSS_API_MINOR) }

/// Static storage for the version string (valid while the library is loaded).
nonisolated(unsafe) private let versionText: UnsafeMutablePointer<CChar> = strdup(GSSVersion.package)!

@_cdecl("gss_library_version")
public func gss_library_version() -> UnsafePointer<CChar> { UnsafePointer(versionText) }

@_cdecl("gss_point_seed")
public func gss_point_seed(_ seed: UInt64, _ point: UInt64) -> UInt64 {
    Smoother.pointSeed(seed, point: Int(truncatingIfNeeded: point))
}

// MARK: Black boxes

@_cdecl("gss_black_box_open_plugin")
public func gss_black_box_open_plugin(
    _ plugin: UnsafePointer<CChar>?, _ options: UnsafePointer<gss_option>?, _ optionCount: Int,
    _ out: UnsafeMutablePointer<OpaquePointer?>?, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    libraryCall(error: error, capacity: capacity) {
        let out = try required(out, "out")
        let name = try string(plugin, "plugin")
        guard optionCount == 0 || options != nil else { throw LibraryError.invalid("options must not be NULL when option_count is \(optionCount)") }
        let pairs = try (0..<optionCount).map { i throws(LibraryError) -> (key: String, value: String) in
            (try string(options![i].key, "options[\(i)].key"), try string(options![i].value, "options[\(i)].value"))
        }
        let library = try PluginLocator.open(name)
        let plugin = try PluginBlackBox(library: library, options: pairs)
        handOver(
            LibraryBlackBox(plugin, outputShape: try plugin.primary.outputShape(), defaultInput: plugin.primary.defaultInput()),
            to: out)
    }
}

@_cdecl("gss_black_box_from_function")
public func gss_black_box_from_function(
    _ n: Int, _ m: Int, _ function: gss_block_function?, _ context: UnsafeMutableRawPointer?, _ flags: UInt32,
    _ preferredRows: Int, _ name: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
    _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    libraryCall(error: error, capacity: capacity) {
        let out = try required(out, "out")
        let box = FunctionBlackBox(
            inputCount: try dimension(n, "n"), outputCount: try dimension(m, "m"), function: try required(function, "function"),
            context: context, reentrant: flags & UInt32(GSS_FUNCTION_REENTRANT) != 0, preferredRows: preferredRows,
            name: name.map { String(cString: $0) })
        handOver(LibraryBlackBox(box), to: out)
    }
}

@_cdecl("gss_black_box_open_program")
public func gss_black_box_open_program(
    _ command: UnsafePointer<CChar>?, _ n: Int, _ m: Int, _ timeoutSeconds: Double, _ flags: UInt32,
    _ out: UnsafeMutablePointer<OpaquePointer?>?, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    libraryCall(error: error, capacity: capacity) {
        let out = try required(out, "out")
        let text = try string(command, "command")
        guard timeoutSeconds >= 0 else { throw LibraryError.invalid("timeout_seconds must be 0 (none) or positive, got \(timeoutSeconds)") }
        let timeout = timeoutSeconds > 0 ? timeoutSeconds : nil
        let box: any BlackBox =
            flags & UInt32(GSS_PROGRAM_EACH_ROW) != 0
            ? try EachRowProgramBlackBox(template: text, inputCount: n, outputCount: m, timeoutSeconds: timeout)
            : try ExternalProgramBlackBox(command: text, inputCount: n, outputCount: m, timeoutSeconds: timeout)
        handOver(LibraryBlackBox(box), to: out)
    }
}

@_cdecl("gss_black_box_open_symbol")
public func gss_black_box_open_symbol(
    _ symbol: UnsafePointer<CChar>?, _ signature: UnsafePointer<CChar>?, _ n: Int, _ m: Int, _ flags: UInt32,
    _ out: UnsafeMutablePointer<OpaquePointer?>?, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    libraryCall(error: error, capacity: capacity) {
        let out = try required(out, "out")
        let box = try ForeignFunctionBlackBox(
            symbol: try string(symbol, "symbol"), signature: try string(signature, "signature"),
            inputCount: n == 0 ? nil : n, outputCount: m == 0 ? nil : m,
            serialized: flags & UInt32(GSS_SYMBOL_SERIALIZE) != 0)
        handOver(LibraryBlackBox(box), to: out)
    }
}

@_cdecl("gss_black_box_free")
public func gss_black_box_free(_ box: OpaquePointer?) {
    guard let box else { return }
    Unmanaged<LibraryBlackBox>.fromOpaque(UnsafeRawPointer(box)).release()
}

@_cdecl("gss_black_box_dims")
public func gss_black_box_dims(_ box: OpaquePointer?, _ n: UnsafeMutablePointer<Int>?, _ m: UnsafeMutablePointer<Int>?) {
    guard let box else { return }
    n?.pointee = blackBox(box).inputCount
    m?.pointee = blackBox(box).outputCount
}

@_cdecl("gss_black_box_output_shape")
public func gss_black_box_output_shape(_ box: OpaquePointer?, _ shape: UnsafeMutablePointer<Int>?, _ capacity: Int) -> Int {
    guard let box else { return 0 }
    let extents = blackBox(box).outputShape
    if let shape {
        for (i, extent) in extents.prefix(capacity).enumerated() { shape[i] = extent }
    }
    return extents.count
}

@_cdecl("gss_black_box_default_input")
public func gss_black_box_default_input(_ box: OpaquePointer?, _ x: UnsafeMutablePointer<Double>?) -> Int32 {
    guard let box, let x, let input = blackBox(box).defaultInput else { return 0 }
    x.update(from: input, count: input.count)
    return 1
}

@_cdecl("gss_black_box_name")
public func gss_black_box_name(_ box: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int {
    guard let box else { return 0 }
    let name = blackBox(box).blackBox.displayName
    writeMessage(name, into: buffer, capacity: capacity)
    return name.utf8.count
}

@_cdecl("gss_black_box_evaluate")
public func gss_black_box_evaluate(
    _ box: OpaquePointer?, _ x: UnsafePointer<Double>?, _ rows: Int, _ y: UnsafeMutablePointer<Double>?, _ threads: UInt32,
    _ call: UnsafeMutablePointer<gss_call>?, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    let handle = box.map(blackBox)
    return libraryCall(error: error, capacity: capacity, call: call, inputCount: handle?.inputCount ?? 0) {
        let handle = try required(handle, "box")
        let x = try required(x, "x")
        let y = try required(y, "y")
        guard rows >= 1 else { throw LibraryError.invalid("rows must be at least 1, got \(rows)") }
        let workers = threads == 0 ? Int(gss_library_processor_count()) : Int(threads)
        try RowEvaluation.evaluate(handle, rows: x, count: rows, threads: workers, call: call, into: y)
    }
}

// MARK: Configuration

@_cdecl("gss_config_create")
public func gss_config_create(_ out: UnsafeMutablePointer<OpaquePointer?>?) -> gss_status {
    guard let out else { return GSS_E_INVALID_ARGUMENT }
    out.pointee = OpaquePointer(Unmanaged.passRetained(LibraryConfiguration()).toOpaque())
    return GSS_OK
}

@_cdecl("gss_config_free")
public func gss_config_free(_ config: OpaquePointer?) {
    guard let config else { return }
    Unmanaged<LibraryConfiguration>.fromOpaque(UnsafeRawPointer(config)).release()
}

/// One setter: the configuration (or a sentence when NULL) handed to `body`.
private func configure(
    _ config: OpaquePointer?, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int,
    _ body: (LibraryConfiguration) throws -> Void
) -> gss_status {
    libraryCall(error: error, capacity: capacity) { try body(configuration(try required(config, "config"))) }
}

@_cdecl("gss_config_set_distribution")
public func gss_config_set_distribution(
    _ config: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    configure(config, error, capacity) { try $0.setDistribution(try string(name, "name")) }
}

@_cdecl("gss_config_set_scale")
public func gss_config_set_scale(
    _ config: OpaquePointer?, _ scale: UnsafePointer<Double>?, _ count: Int, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    configure(config, error, capacity) {
        let values = count == 0 ? [] : Array(UnsafeBufferPointer(start: try required(scale, "scale"), count: count))
        try $0.setScale(values)
    }
}

@_cdecl("gss_config_set_scale_matrix")
public func gss_config_set_scale_matrix(
    _ config: OpaquePointer?, _ matrix: UnsafePointer<Double>?, _ dimension: Int, _ error: UnsafeMutablePointer<CChar>?,
    _ capacity: Int
) -> gss_status {
    configure(config, error, capacity) {
        try $0.setScaleMatrix(
            matrix.map { Array(UnsafeBufferPointer(start: $0, count: dimension * dimension)) }, dimension: dimension)
    }
}

@_cdecl("gss_config_set_samples")
public func gss_config_set_samples(
    _ config: OpaquePointer?, _ samples: UInt64, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    configure(config, error, capacity) { try $0.setSamples(samples) }
}

@_cdecl("gss_config_set_sampler")
public func gss_config_set_sampler(
    _ config: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    configure(config, error, capacity) { try $0.setSampler(try string(name, "name")) }
}

@_cdecl("gss_config_set_antithetic")
public func gss_config_set_antithetic(
    _ config: OpaquePointer?, _ enabled: Int32, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    configure(config, error, capacity) { $0.smoothing.antithetic = enabled != 0 }
}

@_cdecl("gss_config_set_covariate")
public func gss_config_set_covariate(
    _ config: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    configure(config, error, capacity) { try $0.setCovariate(try string(name, "name")) }
}

@_cdecl("gss_config_set_seed")
public func gss_config_set_seed(
    _ config: OpaquePointer?, _ seed: UInt64, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    configure(config, error, capacity) { $0.smoothing.seed = seed }
}

@_cdecl("gss_config_set_threads")
public func gss_config_set_threads(
    _ config: OpaquePointer?, _ threads: UInt32, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    configure(config, error, capacity) { $0.threads = threads }
}

@_cdecl("gss_config_set_scale_derivative")
public func gss_config_set_scale_derivative(
    _ config: OpaquePointer?, _ enabled: Int32, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    configure(config, error, capacity) { $0.smoothing.differentiatesScale = enabled != 0 }
}

@_cdecl("gss_config_set_covariance")
public func gss_config_set_covariance(
    _ config: OpaquePointer?, _ enabled: Int32, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    configure(config, error, capacity) { $0.smoothing.estimatesCovariance = enabled != 0 }
}

@_cdecl("gss_config_set_median")
public func gss_config_set_median(
    _ config: OpaquePointer?, _ k: UInt64, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    configure(config, error, capacity) { try $0.setMedian(k) }
}

// MARK: Estimates

@_cdecl("gss_estimate")
public func gss_estimate(
    _ box: OpaquePointer?, _ config: OpaquePointer?, _ x: UnsafePointer<Double>?, _ points: Int,
    _ outputs: UnsafePointer<gss_estimate_outputs>?, _ call: UnsafeMutablePointer<gss_call>?,
    _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    let handle = box.map(blackBox)
    return libraryCall(error: error, capacity: capacity, call: call, inputCount: handle?.inputCount ?? 0) {
        let handle = try required(handle, "box")
        let settings = configuration(try required(config, "config"))
        let request = try EstimateRequest(outputs: try required(outputs, "outputs"), configuration: settings.smoothing)
        let n = handle.inputCount
        let values = try batchPoints(try required(x, "x"), count: points, inputCount: n)
        try settings.smoothing.validate(inputCount: n, outputCount: handle.outputCount)
        let smoother = Smoother(configuration: settings.smoothing, threads: settings.workerCount)
        let estimates = try handle.withEvaluators(count: smoother.threads, call: call) { evaluators in
            try smoother.estimate(handle.blackBox, atPoints: values, count: points, evaluators: evaluators)
        }
        request.write(estimates)
    }
}

/// The x of a batch call as an array: at least one point, every number finite.
private func batchPoints(_ x: UnsafePointer<Double>, count points: Int, inputCount n: Int) throws(LibraryError) -> [Double] {
    guard points >= 1 else { throw LibraryError.invalid("points must be at least 1, got \(points)") }
    let values = Array(UnsafeBufferPointer(start: x, count: points * n))
    if let bad = values.firstIndex(where: { !$0.isFinite }) {
        throw LibraryError.invalid("x must hold finite numbers, but point \(bad / n), entry \(bad % n) is \(values[bad])")
    }
    return values
}

// MARK: Vector-Jacobian products

/// The handle behind a gss_vjp_tape pointer (retained by the pointer until gss_vjp_tape_free).
final class LibraryTape: Sendable {
    let tape: VJPTape
    init(_ tape: VJPTape) { self.tape = tape }
}

private func tape(_ pointer: OpaquePointer) -> LibraryTape {
    Unmanaged<LibraryTape>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
}

@_cdecl("gss_estimate_with_tape")
public func gss_estimate_with_tape(
    _ box: OpaquePointer?, _ config: OpaquePointer?, _ x: UnsafePointer<Double>?, _ points: Int,
    _ value: UnsafeMutablePointer<Double>?, _ valueStderr: UnsafeMutablePointer<Double>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?, _ call: UnsafeMutablePointer<gss_call>?,
    _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    let handle = box.map(blackBox)
    return libraryCall(error: error, capacity: capacity, call: call, inputCount: handle?.inputCount ?? 0) {
        let handle = try required(handle, "box")
        let settings = configuration(try required(config, "config"))
        let out = try required(out, "tape")
        let values = try batchPoints(try required(x, "x"), count: points, inputCount: handle.inputCount)
        try settings.smoothing.validate(inputCount: handle.inputCount, outputCount: handle.outputCount)
        let smoother = Smoother(configuration: settings.smoothing, threads: settings.workerCount)
        let result = try handle.withEvaluators(count: smoother.threads, call: call) { evaluators in
            try smoother.estimateWithTape(handle.blackBox, atPoints: values, count: points, evaluators: evaluators)
        }
        value?.update(from: result.value, count: result.value.count)
        valueStderr?.update(from: result.valueStderr, count: result.valueStderr.count)
        out.pointee = OpaquePointer(Unmanaged.passRetained(LibraryTape(result)).toOpaque())
    }
}

@_cdecl("gss_vjp")
public func gss_vjp(
    _ pointer: OpaquePointer?, _ cotangent: UnsafePointer<Double>?, _ input: UnsafeMutablePointer<Double>?,
    _ scale: UnsafeMutablePointer<Double>?, _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> gss_status {
    libraryCall(error: error, capacity: capacity) {
        let kept = tape(try required(pointer, "tape")).tape
        let g = try required(cotangent, "cotangent")
        let input = try required(input, "x_cotangent")
        let count = kept.count * kept.outputCount
        if let bad = (0..<count).first(where: { !g[$0].isFinite }) {
            throw LibraryError.invalid(
                "cotangent must hold finite numbers, but point \(bad / kept.outputCount), entry \(bad % kept.outputCount) is \(g[bad])")
        }
        kept.vectorJacobianProducts(cotangent: g, input: input, scale: scale)
    }
}

@_cdecl("gss_vjp_tape_bytes")
public func gss_vjp_tape_bytes(_ pointer: OpaquePointer?) -> Int {
    pointer.map { tape($0).tape.bytes } ?? 0
}

@_cdecl("gss_vjp_tape_free")
public func gss_vjp_tape_free(_ pointer: OpaquePointer?) {
    guard let pointer else { return }
    Unmanaged<LibraryTape>.fromOpaque(UnsafeRawPointer(pointer)).release()
}
