/// Everything that can go wrong with a C function as a black box (`--symbol LIB:FUNC
/// --signature SIG`), each with its own code. `description` is one sentence for the user.
public struct ForeignFunctionError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable, Equatable {
        /// --symbol is not of the form LIB:FUNC.
        case invalidSymbol
        /// --signature does not follow the grammar.
        case invalidSignature
        /// dlopen failed (the message carries dlerror's text).
        case libraryNotLoadable
        /// The library does not export the function.
        case symbolNotFound
        /// --n/--m are missing for the array form, or disagree with a scalar signature.
        case invalidDimensions
        /// libffi refused to prepare the call (ffi_prep_cif).
        case preparationFailed
        /// A perturbed input does not fit the function's integer argument.
        case argumentOutOfRange
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Usage errors (exit 2) versus failures while the function runs (exit 1).
    public var isUsageError: Bool { code != .argumentOutOfRange }

    public var description: String { message }
}
