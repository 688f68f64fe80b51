import CGSSSystem
import Glibc

/// Finds plugins: bundled ones by id (libgss-<id>.so in a directory of $GSS_PLUGIN_PATH, next to
/// the shared library holding this code or in its ../lib/gss, next to the gss executable or in
/// its ../lib/gss), any other by path.
public enum PluginLocator {
    /// Directories searched for bundled plugins, in order.
    public static var searchDirectories: [String] {
        var directories: [String] = []
        if let extra = ProcessEnvironment.value(of: "GSS_PLUGIN_PATH") {
            directories += extra.split(separator: ":").map(String.init)
        }
        // Used as a library (libgss.so), the plugins shipped with it sit beside it.
        if let library = libraryDirectory {
            directories += [library, FileSystem.standardized(library + "/../lib/gss")]
        }
        if let executable = executableDirectory {
            directories += [executable, FileSystem.standardized(executable + "/../lib/gss")]
        }
        return directories
    }

    /// The directory of the running executable (via /proc/self/exe, which resolves symlinks).
    static var executableDirectory: String? {
        WorkerExecutable.current.map(FileSystem.parent(of:))
    }

    /// The directory of the shared library that holds this code (symlinks resolved); nil when it
    /// is linked into the executable, as in gss itself.
    static var libraryDirectory: String? {
        let anchor: @convention(c) () -> Void = {}
        guard let file = gss_shared_object_containing(unsafeBitCast(anchor, to: UnsafeRawPointer.self)),
            let resolved = FileSystem.resolvingLinks(String(cString: file))
        else { return nil }
        return FileSystem.parent(of: resolved)
    }

    /// An argument names a file (rather than a bundled id) when it contains '/' or ends in .so.
    public static func isPath(_ argument: String) -> Bool {
        argument.contains("/") || argument.hasSuffix(".so")
    }

    public static func fileName(forID id: String) -> String { "libgss-\(id).so" }

    /// Opens a bundled plugin by id or any plugin by path.
    public static func open(_ argument: String) throws(PluginError) -> PluginLibrary {
        try PluginLibrary.open(path: try path(of: argument))
    }

    /// The file of a bundled plugin by id, or the given path, without loading it (isolated and
    /// conformance runs load plugins only in worker processes). A path must exist.
    public static func path(of argument: String) throws(PluginError) -> String {
        if isPath(argument) {
            let resolved = FileSystem.standardized(argument)
            guard FileSystem.exists(resolved) else {
                throw PluginError(.fileNotFound, "plugin file '\(resolved)' does not exist")
            }
            return resolved
        }
        for directory in searchDirectories {
            let candidate = directory + "/" + fileName(forID: argument)
            if FileSystem.exists(candidate) { return candidate }
        }
        let known = bundledIDs()
        throw PluginError(
            .unknownPlugin,
            "no bundled plugin is called '\(argument)'"
                + (known.isEmpty ? "" : " (available: \(known.joined(separator: ", ")))")
                + "; give a path such as ./libmine.so for your own")
    }

    /// Ids of the bundled plugins found in the search directories, sorted, without duplicates.
    public static func bundledIDs() -> [String] {
        var ids = Set<String>()
        for directory in searchDirectories {
            let names = FileSystem.entries(ofDirectory: directory) ?? []
            for name in names where name.hasPrefix("libgss-") && name.hasSuffix(".so") {
                ids.insert(String(name.dropFirst("libgss-".count).dropLast(".so".count)))
            }
        }
        return ids.sorted()
    }
}
