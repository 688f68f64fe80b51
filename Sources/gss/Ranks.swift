import FoundationEssentials
import Glibc
import GSSCore
import GSSHost

/// The processes a command runs on: this one alone, or — built with the MPI trait and started by
/// mpirun or srun — every MPI rank, each running the same command. Rank 0 coordinates and is the
/// only one that prints; the others compute the calls it hands them.
enum Ranks {
    /// Whether this process prints results (rank 0, or a process on its own). Known from the
    /// launcher's environment, before MPI starts.
    static var isCoordinator: Bool { (MPILaunch.environmentRank ?? 0) == 0 }

    nonisolated(unsafe) private static var current: (any ChunkExecutor)?
    nonisolated(unsafe) private static var coordinated: CoordinatedExecutor?
    nonisolated(unsafe) private static var startedMPI = false
    #if MPI
    nonisolated(unsafe) private static var mpiRanks: MPIRanks?
    #endif

    /// Where estimates run, made on first use (which starts MPI under a launcher): every process of
    /// the job, with rank 0 keeping the journal at `journal` when given.
    static func executor(journal: String?) throws -> any ChunkExecutor {
        if let current { return current }
        var transport: (any RankTransport)?
        #if MPI
        if MPILaunch.environmentRank != nil {
            let ranks = try MPIRanks.start()
            startedMPI = true
            mpiRanks = ranks
            if ranks.size > 1 { transport = ranks }
        }
        #endif
        let made: any ChunkExecutor
        if transport == nil && journal == nil {
            made = LocalChunkExecutor()
        } else {
            let key = journalKey()
            let executor = CoordinatedExecutor(
                transport: transport, journal: journal.map { path in { try RunJournal(path: path, arguments: key) } },
                describe: { error in
                    SmoothingError(code: GSS.exitCode(forFailure: error) == 2 ? .invalidConfiguration : .evaluationFailed, message: "\(error)")
                })
            coordinated = executor
            made = executor
        }
        current = made
        return made
    }

    /// How many processes take part (1 before the executor is made).
    static var processCount: Int { current?.processCount ?? 1 }

    /// Ranks other than 0 print nothing on stdout (the worker processes gss starts for itself excepted).
    static func silenceOtherRanks(arguments: [String]) {
        guard !isCoordinator, arguments.dropFirst().first != "worker" else { return }
        let null = open("/dev/null", O_WRONLY)
        if null >= 0 {
            dup2(null, STDOUT_FILENO)
            close(null)
        }
    }

    /// Ends MPI after a successful run.
    static func finishSucceeded() {
        #if MPI
        mpiRanks?.flush()
        if startedMPI { MPIRanks.finish() }
        #endif
    }

    /// Ends this process after an error, with `code`: rank 0 prints `sentence`, and every rank ends
    /// MPI normally when all of them failed (an operation's shared failure, or a bad option every
    /// rank rejects alike); a failure only this rank met ends the whole job.
    static func finishFailed(code: Int32, sentence: String) -> Never {
        var code = code
        #if MPI
        if let mpiRanks, mpiRanks.size > 1, !(coordinated?.failedTogether ?? false) {
            if let agreed = mpiRanks.agreeOnFailure(code: code, seconds: 2) {
                code = agreed
            } else {
                // Others still run, maybe waiting for this rank: say which rank failed, and end them all.
                StandardError.write((mpiRanks.rank == 0 ? "" : "rank \(mpiRanks.rank): ") + sentence + "\n")
                MPIRanks.abort(code: code)
            }
        }
        #endif
        if isCoordinator { StandardError.write(sentence + "\n") }
        #if MPI
        mpiRanks?.flush()
        if startedMPI { MPIRanks.finish() }
        #endif
        Glibc.exit(code)
    }

    /// Notes on stderr what the journal held (rank 0).
    static func reportJournal() {
        guard let records = coordinated?.journalRecords, records.reused > 0 else { return }
        StandardError.write("note: resumed from the journal: \(records.reused) of \(records.found) records reused\n")
    }

    /// What identifies a run for its journal: the arguments, except the journal itself and the
    /// thread count (which never change the bits), and the contents of every @FILE named.
    static func journalKey(arguments: [String] = CommandLine.arguments) -> String {
        var kept: [String] = []
        var skipNext = false
        for argument in arguments.dropFirst() {
            if skipNext {
                skipNext = false
                continue
            }
            if argument == "--journal" || argument == "--threads" {
                skipNext = true
                continue
            }
            if argument.hasPrefix("--journal=") || argument.hasPrefix("--threads=") { continue }
            kept.append(argument)
            if let at = argument.firstIndex(of: "@"), at == argument.startIndex || argument[..<at].hasSuffix("=") {
                let path = String(argument[argument.index(after: at)...])
                if let contents = FileManager.default.contents(atPath: path) {
                    kept.append("@contents:" + contents.base64EncodedString())
                }
            }
        }
        return kept.joined(separator: "\u{0}")
    }
}
