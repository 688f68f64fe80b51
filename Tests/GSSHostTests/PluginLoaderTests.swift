import Foundation
import GSSHost
import GSSTestSupport
import Testing

@Suite("Plugin loading and validation")
struct PluginLoaderTests {
    func openError(_ path: String) -> PluginError? {
        do {
            _ = try PluginLibrary.open(path: path)
            return nil
        } catch {
            return error
        }
    }

    @Test("each broken plugin fails validation with its own error", arguments: [
        ("noentry", PluginError.Code.missingEntry, "does not export gss_plugin_entry"),
        ("nullentry", .majorNotServed, "does not serve ABI major 1"),
        ("smallstruct", .descriptorTooSmall, "descriptor of 16 bytes"),
        ("nullmember", .missingMember, "required member 'evaluate' NULL"),
        ("wrongmajor", .majorMismatch, "built for ABI major 2"),
        ("badid", .invalidIdentifier, "'Bad ID!'"),
    ])
    func brokenFixtures(fixture: String, code: PluginError.Code, phrase: String) throws {
        let error = try #require(openError(Products.fixture(fixture)))
        #expect(error.code == code)
        #expect(error.message.contains(phrase), "message was: \(error.message)")
        #expect(error.isUsageError)
    }

    @Test("a missing file says so")
    func missingFile() throws {
        let error = try #require(openError("/nonexistent/libnothing.so"))
        #expect(error.code == .fileNotFound)
        #expect(error.message.contains("/nonexistent/libnothing.so"))
    }

    @Test("an object dlopen refuses reports dlerror's text")
    func notLoadable() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gss-junk-\(getpid()).so").path
        try Data("this is not an ELF file".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(openError(path))
        #expect(error.code == .notLoadable)
        #expect(error.message.contains("cannot load plugin"))
        #expect(error.message.lowercased().contains("elf") || error.message.contains("file too short"), "dlerror text missing: \(error.message)")
    }

    @Test("an unknown bundled id lists the available ones")
    func unknownID() throws {
        let error = #expect(throws: PluginError.self) { try PluginLocator.open("no-such-plugin") }
        #expect(error?.code == .unknownPlugin)
        #expect(error?.message.contains("sorter") == true)
    }

    @Test("bundled plugins are found by id next to the executable's directory")
    func bundledByID() throws {
        setenv("GSS_PLUGIN_PATH", Products.directory, 1)
        let library = try PluginLocator.open("sorter")
        #expect(library.id == "sorter")
        #expect(library.isReentrant && library.isDeterministic)
        #expect(PluginLocator.bundledIDs().contains("sorter"))
        #expect(!PluginLocator.bundledIDs().contains { $0.hasPrefix("fixture") })
    }

    @Test("create failures carry the plugin's message", arguments: [
        (["bogus": "1"], "unknown option 'bogus' (sorter takes n, mode)"),
        (["n": "0"], "option n='0' is not a whole number from 1 to 1024"),
        (["n": "+5"], "option n='+5'"),
        (["mode": "shuffle"], "option mode='shuffle' is not one of permutation, ranks"),
    ])
    func createFailures(options: [String: String], phrase: String) throws {
        let library = try PluginLibrary.open(path: Products.bundled("sorter"))
        let error = #expect(throws: PluginError.self) {
            try library.instantiate(options: options.map { ($0.key, $0.value) })
        }
        #expect(error?.code == .createFailed)
        #expect(error?.message.contains(phrase) == true, "message was: \(error?.message ?? "none")")
    }

    @Test("a library is opened once per process")
    func cached() throws {
        let a = try PluginLibrary.open(path: Products.bundled("sorter"))
        let b = try PluginLibrary.open(path: Products.directory + "/./libgss-sorter.so")
        #expect(a === b)
    }
}
