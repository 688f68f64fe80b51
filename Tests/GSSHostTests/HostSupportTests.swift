@testable import GSSHost
import Testing

@Suite("Host support: worker message format, paths, number text")
struct HostSupportTests {
    @Test("a hello crosses exactly, non-finite default inputs and absent members included")
    func helloRoundTrip() throws {
        var hello = WorkerHello()
        let bits = [Double.nan, -.infinity, -0.0, 0x1p-1074, 1.5].map(\.bitPattern)
        hello.description = WorkerHello.Description(
            id: "sorter", inputCount: 4, outputCount: 16, outputShape: [4, 4], defaultInputBits: bits, typicalScaleBits: nil, flags: .max)
        let read = try WireFormat.decode(WorkerHello.self, from: hello.encoded())
        let description = try #require(read.description)
        #expect(description.id == "sorter" && description.inputCount == 4 && description.outputCount == 16)
        #expect(description.outputShape == [4, 4] && description.defaultInputBits == bits && description.flags == .max)
        #expect(read.failure == nil)

        var failure = WorkerHello()
        failure.failure = WorkerHello.Failure(code: "missingEntry", message: "'x.so' is not a gss plugin: ✗")
        let readFailure = try WireFormat.decode(WorkerHello.self, from: failure.encoded())
        #expect(readFailure.description == nil)
        #expect(readFailure.failure?.code == "missingEntry" && readFailure.failure?.message == "'x.so' is not a gss plugin: ✗")
    }

    @Test("a check's outcome crosses exactly, with and without facts and throughput")
    func outcomeRoundTrip() throws {
        var full = CheckOutcome.pass("10.4 M rows/s")
        var facts = PluginFacts()
        facts.id = "renderer"
        facts.flags = []
        facts.inputCount = 6
        full.facts = facts
        full.throughput = Throughput(rowsPerSecond: 1.04e7, batchRows: 1024, seconds: 0.5)
        for outcome in [full, .skip("needs 'dims' to pass"), .fail("")] {
            #expect(try WireFormat.decode(CheckOutcome.self, from: WireFormat.encode(outcome)) == outcome)
        }
    }

    @Test("truncated, trailing or mistyped bytes are refused, not misread")
    func corruptMessages() throws {
        let bytes = try WireFormat.encode(CheckOutcome.fail("a reason"))
        #expect(throws: (any Error).self) { try WireFormat.decode(CheckOutcome.self, from: Array(bytes.dropLast())) }
        #expect(throws: (any Error).self) { try WireFormat.decode(CheckOutcome.self, from: bytes + [0]) }
        #expect(throws: (any Error).self) { try WireFormat.decode(WorkerHello.Description.self, from: bytes) }
        #expect(throws: (any Error).self) { try WireFormat.decode(CheckOutcome.self, from: []) }
    }

    @Test("paths are made absolute and standardized by their letters, as Foundation's URL did")
    func standardizedPaths() {
        let here = FileSystem.workingDirectory
        #expect(FileSystem.standardized("x.so") == here + "/x.so")
        #expect(FileSystem.standardized("./a/./b.so") == here + "/a/b.so")
        #expect(FileSystem.standardized("") == here)
        #expect(FileSystem.standardized("/a/b/../c") == "/a/c")
        #expect(FileSystem.standardized("//a//b/") == "/a/b")
        #expect(FileSystem.standardized("/../lib/gss") == "/lib/gss")
        #expect(FileSystem.standardized("/usr/bin/../lib/gss") == "/usr/lib/gss")
        #expect(FileSystem.parent(of: "/usr/bin/gss") == "/usr/bin")
        #expect(FileSystem.parent(of: "/gss") == "/")
    }

    @Test("the file-system helpers read directories, links and files")
    func fileSystem() throws {
        #expect(FileSystem.exists("/proc/self/exe") && !FileSystem.exists("/proc/self/no-such-file"))
        let executable = try #require(FileSystem.linkTarget("/proc/self/exe"))
        #expect(executable.hasPrefix("/") && FileSystem.exists(executable))
        #expect(FileSystem.entries(ofDirectory: FileSystem.parent(of: executable))?.isEmpty == false)
        #expect(FileSystem.entries(ofDirectory: "/proc/self")?.contains { $0 == "." || $0 == ".." } == false)
        #expect(FileSystem.entries(ofDirectory: "/no/such/directory") == nil)
        #expect(FileSystem.text(ofFile: "/proc/self/statm")?.split(separator: " ").count ?? 0 > 1)
        #expect(FileSystem.resolvingLinks("/proc/self/exe") == executable)
    }

    @Test("numbers in messages read as printf writes them")
    func numberText() {
        #expect(String(cFormat: "%g", 10.0) == "10")
        #expect(String(cFormat: "%g", 0.25) == "0.25")
        #expect(String(cFormat: "%.2f s", 1.5) == "1.50 s")
        #expect(formatBytes(2560) == "2.5 KiB" && formatBytes(-3 << 20) == "-3.0 MiB" && formatBytes(12) == "12 B")
        #expect(formatRate(1.04e7) == "10.4 M" && formatRate(6200) == "6200" && formatRate(62_000) == "62.0 k")
    }

    @Test("linked into an executable, the host adds no library directory to the plugin search")
    func searchDirectories() throws {
        #expect(PluginLocator.libraryDirectory == nil)
        let executable = try #require(PluginLocator.executableDirectory)
        #expect(PluginLocator.searchDirectories.suffix(2) == [executable, FileSystem.standardized(executable + "/../lib/gss")])
    }

    @Test("the environment is read whole and by name")
    func environment() {
        let path = ProcessEnvironment.value(of: "PATH")
        #expect(path != nil && ProcessEnvironment.all["PATH"] == path)
        #expect(ProcessEnvironment.value(of: "GSS_NO_SUCH_VARIABLE_SET") == nil)
    }
}
