import ArgumentParser
import GSSHost

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the bundled plugins with their sizes.")

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    func run() throws {
        var rows: [(id: String, n: Int, m: Int, summary: String)] = []
        for id in PluginLocator.bundledIDs() {
            let library = try PluginLocator.open(id)
            let instance = try library.instantiate(options: [])
            let firstLine = library.summary.split(separator: "\n").first.map(String.init) ?? library.name
            rows.append((id, instance.inputCount, instance.outputCount, firstLine))
        }
        switch format {
        case .json:
            print(JSONValue.array(rows.map { row in
                .object([("id", .string(row.id)), ("n", .integer(row.n)), ("m", .integer(row.m)), ("summary", .string(row.summary))])
            }).inline)
        case .text:
            let width = max(2, rows.map(\.id.count).max() ?? 0)
            print("id".padding(toLength: width, withPad: " ", startingAt: 0) + "  " + "n".leftPadded(5) + "  " + "m".leftPadded(6) + "  description")
            for row in rows {
                print(row.id.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + "\(row.n)".leftPadded(5) + "  "
                    + "\(row.m)".leftPadded(6) + "  " + row.summary)
            }
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
