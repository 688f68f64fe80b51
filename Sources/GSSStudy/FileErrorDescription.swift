import FoundationEssentials
import Glibc

/// Why a file operation of FoundationEssentials (Data.write, FileManager) failed, in the system's
/// words ("Permission denied"), for messages such as "cannot write 'x' (…)".
public func fileErrorDescription(_ error: any Error) -> String {
    if let error = error as? CocoaError, let underlying = error.underlying as? POSIXError {
        return String(cString: strerror(underlying.code.rawValue))
    }
    if let error = error as? POSIXError { return String(cString: strerror(error.code.rawValue)) }
    return "\(error)"
}
