import CGSSPlugin
import Glibc

/// A shared object opened with dlopen, before anything about its descriptor is known. This and
/// `PluginFunctions` are the only places the host calls into a plugin: dlopen, dlsym, the entry
/// point and the descriptor's functions. Validation is the callers' business (PluginLibrary
/// refuses at the first fault; the conformance probe lists them all).
struct PluginObject: @unchecked Sendable {
    let path: String
    let handle: UnsafeMutableRawPointer

    /// dlopen(path, RTLD_NOW | RTLD_LOCAL), as the ABI promises plugins.
    static func open(path: String) throws(PluginError) -> PluginObject {
        guard FileSystem.exists(path) else {
            throw PluginError(.fileNotFound, "plugin file '\(path)' does not exist")
        }
        _ = dlerror()
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown reason"
            throw PluginError(.notLoadable, "cannot load plugin '\(path)': \(reason)")
        }
        return PluginObject(path: path, handle: handle)
    }

    /// The exported gss_plugin_entry, or nil when the object does not export it.
    func entryPoint() -> PluginEntryPoint? {
        guard let symbol = dlsym(handle, GSS_PLUGIN_ENTRY_SYMBOL) else { return nil }
        return PluginEntryPoint(function: unsafeBitCast(symbol, to: gss_plugin_entry_fn.self))
    }
}

/// A plugin's gss_plugin_entry.
struct PluginEntryPoint: @unchecked Sendable {
    let function: gss_plugin_entry_fn

    /// What the plugin returns for a host of ABI major `major` (NULL: it does not serve it).
    func descriptor(forMajor major: UInt32) -> UnsafePointer<gss_plugin>? { function(major) }
}

/// The descriptor's functions, called only through these wrappers (which own the C types).
struct PluginFunctions: @unchecked Sendable {
    typealias Create = @convention(c) (UnsafePointer<gss_option>?, Int, UnsafeMutablePointer<OpaquePointer?>?, UnsafeMutablePointer<CChar>?, Int) -> gss_status
    typealias Destroy = @convention(c) (OpaquePointer?) -> Void
    typealias Dims = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>?, UnsafeMutablePointer<Int>?) -> Void
    typealias Evaluate = @convention(c) (OpaquePointer?, UnsafePointer<Double>?, Int, UnsafeMutablePointer<Double>?, UnsafeMutablePointer<CChar>?, Int) -> gss_status
    typealias OutputShape = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>?) -> Int
    typealias DefaultInput = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Double>?) -> Void
    typealias TypicalScale = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Double>?) -> Void

    let createFunction: Create
    let destroyFunction: Destroy
    let dimsFunction: Dims
    let evaluateFunction: Evaluate
    let outputShapeFunction: OutputShape?
    let defaultInputFunction: DefaultInput?
    let typicalScaleFunction: TypicalScale?

    var hasOutputShape: Bool { outputShapeFunction != nil }
    var hasDefaultInput: Bool { defaultInputFunction != nil }

    /// The functions of a descriptor (members past its struct_size already zeroed), or nil when a
    /// required one is NULL.
    init?(descriptor d: gss_plugin) {
        guard let create = d.create, let destroy = d.destroy, let dims = d.dims, let evaluate = d.evaluate else {
            return nil
        }
        createFunction = create
        destroyFunction = destroy
        dimsFunction = dims
        evaluateFunction = evaluate
        outputShapeFunction = d.output_shape
        defaultInputFunction = d.default_input
        typicalScaleFunction = d.typical_scale
    }

    /// create() with the options in order; the strings live only for the call (the ABI's rule).
    func create(
        options: [(key: String, value: String)], error: UnsafeMutablePointer<CChar>, capacity: Int
    ) -> (status: gss_status, instance: OpaquePointer?) {
        let keys = options.map { strdup($0.key)! }
        let values = options.map { strdup($0.value)! }
        defer {
            keys.forEach { free($0) }
            values.forEach { free($0) }
        }
        let pairs = zip(keys, values).map { gss_option(key: UnsafePointer($0), value: UnsafePointer($1)) }
        var created: OpaquePointer?
        let status = pairs.withUnsafeBufferPointer { buffer in
            createFunction(buffer.baseAddress, buffer.count, &created, error, capacity)
        }
        return (status, created)
    }

    func destroy(_ instance: OpaquePointer?) { destroyFunction(instance) }

    func dims(_ instance: OpaquePointer) -> (n: Int, m: Int) {
        var n = 0
        var m = 0
        dimsFunction(instance, &n, &m)
        return (n, m)
    }

    func evaluate(
        _ instance: OpaquePointer, _ x: UnsafePointer<Double>, rows: Int, _ y: UnsafeMutablePointer<Double>,
        error: UnsafeMutablePointer<CChar>, capacity: Int
    ) -> gss_status {
        evaluateFunction(instance, x, rows, y, error, capacity)
    }

    /// output_shape() into `shape` (room for at least 4); nil when the plugin has none.
    func outputShape(_ instance: OpaquePointer, into shape: UnsafeMutablePointer<Int>) -> Int? {
        outputShapeFunction.map { $0(instance, shape) }
    }

    /// default_input() into `x` (room for n); false when the plugin has none.
    func defaultInput(_ instance: OpaquePointer, into x: UnsafeMutablePointer<Double>) -> Bool {
        guard let defaultInputFunction else { return false }
        defaultInputFunction(instance, x)
        return true
    }

    /// typical_scale() into `scale` (room for n); false when the plugin has none (or is ABI 1.0).
    func typicalScale(_ instance: OpaquePointer, into scale: UnsafeMutablePointer<Double>) -> Bool {
        guard let typicalScaleFunction else { return false }
        typicalScaleFunction(instance, scale)
        return true
    }
}
