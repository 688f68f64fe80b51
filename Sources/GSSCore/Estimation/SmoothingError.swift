/// Why an estimate could not be produced. `message` is one sentence for the user.
public struct SmoothingError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable {
        /// The request itself is wrong (bad option value, wrong length of x, …): a usage error.
        case invalidConfiguration
        /// The black box reported an error, or returned a non-finite output, for some input row.
        case evaluationFailed
    }

    public let code: Code
    public let message: String
    /// The sample index of the failing row (nil for the unperturbed x or a usage error).
    public let sampleIndex: Int?
    /// The input row that failed, when known.
    public let input: [Double]?

    public init(code: Code, message: String, sampleIndex: Int? = nil, input: [Double]? = nil) {
        self.code = code
        self.message = message
        self.sampleIndex = sampleIndex
        self.input = input
    }

    public static func invalidConfiguration(_ message: String) -> SmoothingError {
        SmoothingError(code: .invalidConfiguration, message: message)
    }

    public var description: String { message }
}
