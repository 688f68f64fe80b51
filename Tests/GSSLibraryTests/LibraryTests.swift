import Foundation
import GSSTestSupport
import Testing

/// The C API (include/gss.h) through libGSS.so, as a C caller uses it: C/capi_check.c compiled with
/// the system's C compiler against the built library, then run (each check prints a line when it fails).
struct LibraryTests {
    static let library = Products.directory + "/libGSS.so"

    @Test("C/capi_check.c passes against libGSS.so")
    func cCallerChecks() throws {
        let directory = try temporaryDirectory("capi-check")
        let program = directory + "/capi_check"
        let compile = try runProgram("/usr/bin/cc", [
            "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", Products.repositoryRoot + "/Tests/GSSLibraryTests/C/capi_check.c",
            "-I", Products.repositoryRoot + "/include", Self.library, "-lm", "-Wl,-rpath," + Products.directory, "-o", program,
        ])
        #expect(compile.status == 0, "cc failed: \(compile.stderr)")
        guard compile.status == 0 else { return }
        // Bundled plugins found through $GSS_PLUGIN_PATH, as the command finds them.
        var environment = ProcessInfo.processInfo.environment
        environment["GSS_PLUGIN_PATH"] = Products.directory
        let run = try runProgram(program, [], environment: environment)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.hasSuffix("ok: 0 failed checks\n"), "\(run.stdout)")
    }
}
