import ArgumentParser
import Glibc
import GSSHost

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the bundled plugins with their sizes.")

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    func run() throws {
        var rows: [(id: String, n: Int, m: Int, summary: String)] = []
        for id in PluginLocator.bundledIDs() {
            let library = try PluginLocator.open(id)
            let instance = try library.instantiate(options: [])
            rows.append((id, instance.inputCount, instance.outputCount, Self.firstSentence(of: library.summary) ?? library.name))
        }
        switch format {
        case .json:
            print(JSONValue.array(rows.map { row in
                .object([("id", .string(row.id)), ("n", .integer(row.n)), ("m", .integer(row.m)), ("summary", .string(row.summary))])
            }).inline)
        case .text:
            let width = max(2, rows.map(\.id.count).max() ?? 0)
            print("id".padded(to: width) + "  " + "n".leftPadded(5) + "  " + "m".leftPadded(6) + "  description")
            for row in rows {
                print(row.id.padded(to: width) + "  " + "\(row.n)".leftPadded(5) + "  "
                    + "\(row.m)".leftPadded(6) + "  " + row.summary)
            }
        }
    }
}

extension List {
    /// A description's first sentence (its lines are wrapped anywhere), without its
    /// parentheticals when it is long: a whole phrase, never one cut at a line's end.
    static func firstSentence(of description: String) -> String? {
        let text = description.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard !text.isEmpty else { return nil }
        var sentence = text
        if let end = text.firstRange(of: ". ") { sentence = String(text[..<end.lowerBound]) + "." }
        guard sentence.count > 100 else { return sentence }
        var shortened = ""
        var depth = 0
        for character in sentence {
            if character == "(" { depth += 1 }
            if depth == 0 { shortened.append(character) }
            if character == ")" && depth > 0 { depth -= 1 }
        }
        return shortened.replacing(" ,", with: ",").replacing(" .", with: ".").replacing("  ", with: " ")
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
