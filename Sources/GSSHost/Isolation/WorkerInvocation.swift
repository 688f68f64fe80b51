/// The command line of a worker process, `gss worker WORDS…`: written by the parent, read by the
/// worker, both here, so the two can never disagree. Options travel as separate words, so keys
/// and values may hold any characters.
public struct WorkerInvocation: Sendable, Equatable {
    public enum Role: Sendable, Equatable {
        /// Serve evaluate requests for an isolated black box.
        case evaluate
        /// Run one conformance check and report it.
        case check(String)
    }

    public var role: Role
    public var pluginPath: String
    public var options: [PluginOption]
    /// The process that started the worker; the worker quits if its parent is someone else.
    public var parent: Int32
    /// Named settings of a conformance check (time budget, cycles, …).
    public var settings: [String: String]

    public init(role: Role, pluginPath: String, options: [PluginOption], parent: Int32, settings: [String: String] = [:]) {
        self.role = role
        self.pluginPath = pluginPath
        self.options = options
        self.parent = parent
        self.settings = settings
    }

    /// The words after `gss worker`.
    public var arguments: [String] {
        var words: [String]
        switch role {
        case .evaluate: words = ["evaluate"]
        case .check(let name): words = ["check", name]
        }
        words += ["--parent", "\(parent)", "--plugin", pluginPath]
        for option in options { words += ["--option", option.key, option.value] }
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) { words += ["--set", key, value] }
        return words
    }

    /// Reads what `arguments` wrote; nil for anything else (the worker is not for people to run).
    public init?(arguments words: [String]) {
        var rest = words[...]
        func next() -> String? { rest.popFirst() }
        switch next() {
        case "evaluate": role = .evaluate
        case "check":
            guard let name = next() else { return nil }
            role = .check(name)
        default: return nil
        }
        var parent: Int32?
        var path: String?
        var options: [PluginOption] = []
        var settings: [String: String] = [:]
        while let word = next() {
            switch word {
            case "--parent":
                guard let text = next(), let value = Int32(text) else { return nil }
                parent = value
            case "--plugin":
                guard let value = next() else { return nil }
                path = value
            case "--option":
                guard let key = next(), let value = next() else { return nil }
                options.append(PluginOption(key: key, value: value))
            case "--set":
                guard let key = next(), let value = next() else { return nil }
                settings[key] = value
            default: return nil
            }
        }
        guard let parent, let path else { return nil }
        self.parent = parent
        self.pluginPath = path
        self.options = options
        self.settings = settings
    }
}

/// One `-o key=value` for a plugin's create(), as a value type that can be compared and sent.
public struct PluginOption: Sendable, Equatable, Codable {
    public let key: String
    public let value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    public var pair: (key: String, value: String) { (key, value) }
}
