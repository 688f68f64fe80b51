import CGSSPlugin
import Synchronization

/// A plugin shared object, opened and validated: the descriptor is known to be usable.
///
/// Objects stay loaded for the life of the process (never dlclose'd): plugins may keep threads or
/// static state alive, and unloading buys nothing for a command-line run.
public final class PluginLibrary: @unchecked Sendable {
    /// The ABI major this host serves.
    public static let abiMajor = UInt32(GSS_ABI_MAJOR)
    /// The size of the ABI 1.0 descriptor: every field up to and including default_input.
    public static let minimumDescriptorSize =
        MemoryLayout<gss_plugin>.offset(of: \gss_plugin.default_input)! + MemoryLayout<UnsafeRawPointer?>.size

    public let path: String
    public let id: String
    public let name: String
    public let version: String
    public let summary: String
    public let abiMinor: UInt32
    public let flags: UInt64
    let descriptor: UnsafePointer<gss_plugin>
    let functions: PluginFunctions

    public var isReentrant: Bool { flags & UInt64(GSS_F_REENTRANT) != 0 }
    public var isDeterministic: Bool { flags & UInt64(GSS_F_DETERMINISTIC) != 0 }

    private static let cache = LibraryCache()

    /// Opens the object at `path` (once per process) and validates its descriptor.
    public static func open(path: String) throws(PluginError) -> PluginLibrary {
        let resolved = FileSystem.standardized(path)
        return try cache.library(at: resolved) { () throws(PluginError) in try PluginLibrary(path: resolved) }
    }

    private init(path: String) throws(PluginError) {
        let object = try PluginObject.open(path: path)
        guard let entry = object.entryPoint() else {
            throw PluginError(
                .missingEntry, "'\(path)' is not a gss plugin: it does not export \(GSS_PLUGIN_ENTRY_SYMBOL)")
        }
        guard let descriptor = entry.descriptor(forMajor: Self.abiMajor) else {
            throw PluginError(
                .majorNotServed,
                "plugin '\(path)' does not serve ABI major \(Self.abiMajor) (its gss_plugin_entry returned NULL); rebuild it against this gss_plugin.h")
        }
        // struct_size comes first and is all we may read before checking it.
        let structSize = descriptor.pointee.struct_size
        guard structSize >= Self.minimumDescriptorSize else {
            throw PluginError(
                .descriptorTooSmall,
                "plugin '\(path)' has a descriptor of \(structSize) bytes, smaller than the \(Self.minimumDescriptorSize) bytes of ABI \(Self.abiMajor).0")
        }
        let d = Self.readable(descriptor, size: structSize)
        guard d.abi_major == Self.abiMajor else {
            throw PluginError(
                .majorMismatch,
                "plugin '\(path)' was built for ABI major \(d.abi_major), but this host serves major \(Self.abiMajor)")
        }
        func required<T>(_ value: T?, _ member: String) throws(PluginError) -> T {
            guard let value else {
                throw PluginError(.missingMember, "plugin '\(path)' leaves the required member '\(member)' NULL")
            }
            return value
        }
        let id = String(cString: try required(d.id, "id"))
        guard !id.isEmpty, id.utf8.allSatisfy({ Self.identifierBytes.contains($0) }) else {
            throw PluginError(
                .invalidIdentifier, "plugin '\(path)' has the id '\(id)', which is not of the form [a-z0-9._-]+")
        }
        self.path = path
        self.id = id
        name = String(cString: try required(d.name, "name"))
        version = String(cString: try required(d.version, "version"))
        summary = String(cString: try required(d.description, "description"))
        abiMinor = d.abi_minor
        flags = d.flags
        self.descriptor = descriptor
        _ = try required(d.create, "create")
        _ = try required(d.destroy, "destroy")
        _ = try required(d.dims, "dims")
        _ = try required(d.evaluate, "evaluate")
        functions = PluginFunctions(descriptor: d)!
    }

    /// The descriptor's first `size` bytes, the rest zero: a plugin built against an older minor
    /// has no memory of ours past its struct_size, so its later members read as absent (NULL).
    static func readable(_ descriptor: UnsafePointer<gss_plugin>, size: Int) -> gss_plugin {
        var copy = gss_plugin()
        withUnsafeMutableBytes(of: &copy) { bytes in
            bytes.copyMemory(from: UnsafeRawBufferPointer(start: descriptor, count: min(size, bytes.count)))
        }
        return copy
    }

    /// The characters an id may use: [a-z0-9._-].
    static let identifierBytes = Set("abcdefghijklmnopqrstuvwxyz0123456789._-".utf8)

    /// Creates an instance with the user's options (`-o key=value`, in order).
    public func instantiate(options: [(key: String, value: String)]) throws(PluginError) -> PluginInstance {
        try PluginInstance(library: self, options: options)
    }
}

/// Loaded libraries by resolved path, so each object is opened and validated once per process.
private final class LibraryCache: Sendable {
    private let libraries = Mutex<[String: PluginLibrary]>([:])

    /// Loads under the lock, so two threads asking for the same path open it once.
    func library(at path: String, load: () throws(PluginError) -> PluginLibrary) throws(PluginError) -> PluginLibrary {
        try libraries.withLock { (libraries) throws(PluginError) -> PluginLibrary in
            if let library = libraries[path] { return library }
            let library = try load()
            libraries[path] = library
            return library
        }
    }
}
