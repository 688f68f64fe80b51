import Glibc

/// Finds plugins: bundled ones by id (libgss-<id>.so next to the gss executable, in ../lib/gss,
/// or in a directory of $GSS_PLUGIN_PATH), any other by path.
public enum PluginLocator {
    /// Directories searched for bundled plugins, in order.
    public static var searchDirectories: [String] {
        var directories: [String] = []
        if let extra = ProcessEnvironment.value(of: "GSS_PLUGIN_PATH") {
            directories += extra.split(separator: ":").map(String.init)
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
