import Glibc

/// This process's environment variables.
enum ProcessEnvironment {
    /// One variable's value; nil when it is unset.
    static func value(of name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Every variable, for handing a (changed) copy to a child process.
    static var all: [String: String] {
        var variables: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return variables
    }
}
