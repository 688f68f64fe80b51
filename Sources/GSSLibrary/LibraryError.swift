import CGSSLibrary
import GSSCore
import GSSHost

/// A failed library call: the status it returns and its one sentence. Every error a call meets is
/// turned into one of these once, here, so the exported functions stay thin.
struct LibraryError: Error {
    let status: gss_status
    var message: String
    /// For evaluation failures: the point and sample that failed (-1 when unknown) and the input row.
    var point: Int = -1
    var sample: Int = -1
    var input: [Double]? = nil

    static func invalid(_ message: String) -> LibraryError { LibraryError(status: GSS_E_INVALID_ARGUMENT, message: message) }

    /// The status and sentence for any error a call can meet: bad requests are GSS_E_INVALID_ARGUMENT,
    /// failures of the black box while it runs GSS_E_EVALUATION.
    init(_ error: any Error, point: Int = -1) {
        switch error {
        case let error as LibraryError:
            self = error
        case let error as BatchPointError:
            var inner = LibraryError(error.underlying, point: error.point)
            inner.message = "at point \(error.point), \(inner.message)"
            self = inner
        case let error as SmoothingError:
            let evaluation = error.code == .evaluationFailed
            self.init(
                status: evaluation ? GSS_E_EVALUATION : GSS_E_INVALID_ARGUMENT, message: error.message,
                point: evaluation ? max(point, 0) : -1, sample: error.sampleIndex ?? -1, input: error.input)
        case let error as PluginError:
            self.init(status: error.isUsageError ? GSS_E_INVALID_ARGUMENT : GSS_E_EVALUATION, message: error.message)
        case let error as ExternalProgramError:
            self.init(status: error.isUsageError ? GSS_E_INVALID_ARGUMENT : GSS_E_EVALUATION, message: error.description)
        case let error as ForeignFunctionError:
            self.init(status: error.isUsageError ? GSS_E_INVALID_ARGUMENT : GSS_E_EVALUATION, message: error.description)
        default:
            self.init(status: GSS_E_INTERNAL, message: "\(error)")
        }
    }

    init(status: gss_status, message: String, point: Int = -1, sample: Int = -1, input: [Double]? = nil) {
        self.status = status
        self.message = message
        self.point = point
        self.sample = sample
        self.input = input
    }
}

/// Runs one exported call: its status, its sentence written into the caller's buffer on failure,
/// its failure details into `call` (when given).
func libraryCall(
    error buffer: UnsafeMutablePointer<CChar>?, capacity: Int, call: UnsafeMutablePointer<gss_call>? = nil,
    inputCount: Int = 0, _ body: () throws -> Void
) -> gss_status {
    do {
        try body()
        return GSS_OK
    } catch {
        let failure = LibraryError(error)
        writeMessage(failure.message, into: buffer, capacity: capacity)
        if let call, failure.status == GSS_E_EVALUATION { record(failure, in: call, inputCount: inputCount) }
        return failure.status
    }
}

/// Copies a sentence into a caller's buffer, NUL-terminated, cut at a character boundary to fit.
func writeMessage(_ message: String, into buffer: UnsafeMutablePointer<CChar>?, capacity: Int) {
    guard let buffer, capacity > 0 else { return }
    var length = 0
    for character in message {
        let bytes = Array(String(character).utf8)
        if length + bytes.count > capacity - 1 { break }
        for byte in bytes {
            buffer[length] = CChar(bitPattern: byte)
            length += 1
        }
    }
    buffer[length] = 0
}

/// The failed point, sample and input row, where the caller's gss_call has room for them.
private func record(_ failure: LibraryError, in call: UnsafeMutablePointer<gss_call>, inputCount n: Int) {
    guard call.pointee.struct_size >= MemoryLayout<gss_call>.size else { return }
    call.pointee.failed_point = Int64(failure.point)
    call.pointee.failed_sample = Int64(failure.sample)
    call.pointee.failed_input_written = 0
    if let row = failure.input, row.count == n, let destination = call.pointee.failed_input {
        for j in 0..<n { destination[j] = row[j] }
        call.pointee.failed_input_written = 1
    }
}
