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
        // Bundled plugins are found beside the library (the program lives elsewhere), and through
        // $GSS_PLUGIN_PATH when they are not there.
        var beside = ProcessInfo.processInfo.environment
        beside["GSS_PLUGIN_PATH"] = nil
        var throughPath = beside
        throughPath["GSS_PLUGIN_PATH"] = Products.directory
        for environment in [beside, throughPath] {
            let run = try runProgram(program, [], environment: environment)
            #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
            #expect(run.stdout.hasSuffix("ok: 0 failed checks\n"), "\(run.stdout)")
        }
    }

    @Test("libGSS.so loads without a Swift toolchain: it needs only system libraries")
    func onlySystemLibraries() throws {
        let ldd = try runProgram("/usr/bin/ldd", [Self.library])
        #expect(ldd.status == 0, "\(ldd.stderr)")
        let needed = ldd.stdout.split(separator: "\n").compactMap { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) }
        let allowed = ["linux-vdso.so.1", "libffi.so.8", "libm.so.6", "libmvec.so.1", "libstdc++.so.6", "libgcc_s.so.1", "libc.so.6"]
        for library in needed where !allowed.contains(library) && !library.hasPrefix("/lib64/ld-linux") {
            Issue.record("libGSS.so needs \(library), which is not a system library")
        }
        #expect(needed.contains("libc.so.6"))
    }
}
