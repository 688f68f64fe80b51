import Glibc

/// Numbers given as "1,2.5,-3" or read from @FILE (a JSON array, or a .npy array of float64/float32).
struct NumberList: CustomStringConvertible {
    let values: [Double]

    init(values: [Double]) { self.values = values }

    /// Parses an option's text; a CommandError says what was wrong (argument-parser shows it).
    init(parsing argument: String) throws {
        values = try NumberList.parse(argument)
    }

    static func parse(_ argument: String) throws(CommandError) -> [Double] {
        if argument.hasPrefix("@") { return try NumberFile.read(path: String(argument.dropFirst())) }
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
        var values: [Double] = []
        for (index, part) in parts.enumerated() {
            let text = part.trimmingSpaces()
            guard let value = Double(text), value.isFinite else {
                throw .usage("\(quotedInput(text)) (entry \(index)) is not a finite number; expected comma-separated numbers such as 0.5,-1,2e-3")
            }
            values.append(value)
        }
        return values
    }

    var description: String { values.map { "\($0)" }.joined(separator: ",") }
}
