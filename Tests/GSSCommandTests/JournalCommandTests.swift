import Foundation
import GSSTestSupport
import Testing

/// `--journal FILE`: the finished parts of a run, kept so that a rerun with the same arguments
/// resumes it and prints the same bytes (across MPI ranks, rank 0 keeps it; here one process).
@Suite("Resuming from a journal")
struct JournalCommandTests {
    static func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    @Test("a rerun reuses every record; a run cut off mid-line resumes; both print the uninterrupted bytes")
    func resumes() throws {
        let directory = try temporaryDirectory("journal")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = directory + "/run.journal"
        // No --seed: the drawn seed is kept too, so the rerun prints the same seed.
        let arguments = ["grad", "sorter", "--samples", "4096", "--covariance", "--format", "json", "--journal", journal]
        let first = try runGSS(arguments + ["--threads", "2"])
        #expect(first.status == 0, "\(first.stderr)")
        let records = try Self.lines(journal).filter { !$0.isEmpty }
        // The seed, sample 0's output and 64 chunks.
        #expect(records.count == 66)

        let again = try runGSS(arguments + ["--threads", "1"])
        #expect(again.stdout == first.stdout)
        #expect(again.stderr.contains("66 of 66 records reused"))
        #expect(try Self.lines(journal).filter { !$0.isEmpty }.count == 66)

        // As if killed while writing: 30 whole records, then half of the next one.
        let torn = records[30]
        try (records[..<30].joined(separator: "\n") + "\n" + torn.prefix(torn.count / 2)).write(toFile: journal, atomically: true, encoding: .utf8)
        let resumed = try runGSS(arguments)
        #expect(resumed.stdout == first.stdout)
        #expect(resumed.stderr.contains("30 of 30 records reused"))
        #expect(try Self.lines(journal).filter { !$0.isEmpty }.count == 30 + 1 + 36)
    }

    @Test("other arguments or another @FILE content reuse nothing")
    func keyedByArguments() throws {
        let directory = try temporaryDirectory("journal-key")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = directory + "/run.journal"
        let point = directory + "/x.json"
        try "[0.1, 0.2, 0.3, 0.4, 0.5]".write(toFile: point, atomically: true, encoding: .utf8)
        let arguments = ["grad", "sorter", "--x", "@" + point, "--samples", "256", "--seed", "3", "--journal", journal]
        #expect(try runGSS(arguments).status == 0)
        #expect(try runGSS(arguments).stderr.contains("records reused"))
        #expect(try !runGSS(arguments + ["--dist", "gaussian"]).stderr.contains("records reused"))
        try "[0.5, 0.2, 0.3, 0.4, 0.1]".write(toFile: point, atomically: true, encoding: .utf8)
        let changed = try runGSS(arguments)
        #expect(changed.status == 0)
        #expect(!changed.stderr.contains("records reused"))
    }

    @Test("a journal that cannot be opened is a usage error: one sentence, exit 2")
    func unwritable() throws {
        let run = try runGSS(["grad", "sorter", "--seed", "1", "--journal", "/proc/gss-no-such-dir/journal"])
        #expect(run.status == 2)
        #expect(run.stderr.hasPrefix("error: cannot open the journal '/proc/gss-no-such-dir/journal' given to --journal"))
        #expect(run.stderr.split(separator: "\n").count == 1)
    }
}
