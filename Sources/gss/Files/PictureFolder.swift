import FoundationEssentials
import Glibc
import GSSStudy

/// A folder of result files that appears complete or not at all: the files are written into a
/// fresh temporary folder beside it and only then renamed into place.
enum PictureFolder {
    /// Checks before any work that DIR can be written: its parent exists and DIR, if it exists, is a folder.
    static func check(_ path: String) throws(CommandError) {
        try refuseFileInTheWay(of: path)
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: parent) else {
            throw .usage("--out \(quotedInput(path)): its parent folder \(quotedInput(parent)) does not exist")
        }
    }

    /// Refuses a --out folder that is a file, or lies below one (its folder cannot be made).
    static func refuseFileInTheWay(of path: String) throws(CommandError) {
        var isDirectory = false
        var url = URL(fileURLWithPath: path)
        while !FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            guard url.pathComponents.count > 1 else { return }
            url.deleteLastPathComponent()
        }
        guard !isDirectory else { return }
        if url.path == URL(fileURLWithPath: path).path {
            throw .usage("--out \(quotedInput(path)) exists and is not a folder")
        }
        throw .usage("--out \(quotedInput(path)) cannot be made: \(quotedInput(url.path)) is a file, not a folder")
    }

    /// Writes every (name, bytes) into `path`, creating it when missing; on failure nothing is left
    /// in `path` that was not there before (files are renamed in only once all are written).
    static func write(_ files: [(name: String, bytes: [UInt8])], to path: String) throws {
        let folder = URL(fileURLWithPath: path).standardizedFileURL
        let parent = folder.deletingLastPathComponent()
        var template = Array(parent.appendingPathComponent(".gss-out-XXXXXX").path.utf8CString)
        guard let created = mkdtemp(&template) else {
            throw CommandError.failure("cannot write --out '\(path)': no temporary folder in '\(parent.path)' (\(String(cString: strerror(errno))))")
        }
        let staging = URL(fileURLWithPath: String(cString: created))
        // mkdtemp makes it private (0700); the folder it becomes should get the usual permissions.
        let mask = umask(0)
        umask(mask)
        chmod(created, 0o777 & ~mask)
        defer { try? FileManager.default.removeItem(at: staging) }
        do {
            for file in files {
                try Data(file.bytes).write(to: staging.appendingPathComponent(file.name))
            }
            // A new folder appears in one rename; into an existing one every file is renamed in.
            if rename(staging.path, folder.path) == 0 { return }
            for file in files {
                let destination = folder.appendingPathComponent(file.name).path
                guard rename(staging.appendingPathComponent(file.name).path, destination) == 0 else {
                    throw CommandError.failure("cannot write '\(destination)': \(String(cString: strerror(errno)))")
                }
            }
        } catch let error as CommandError {
            throw error
        } catch {
            throw CommandError.failure("cannot write --out '\(path)': \(fileErrorDescription(error))")
        }
    }
}
