/// The C type of a function as `--signature` spells it: `RET(ARG,ARG,...)` over the scalar types
/// `double float int32 int64` (each argument one input coordinate, the result the one output), or
/// the array form `void(const double*,double*)` (the function reads n doubles and writes m).
/// Spaces are free around names, commas, parentheses and '*'.
public enum FunctionSignature: Sendable, Equatable, CustomStringConvertible {
    public enum Scalar: String, Sendable, CaseIterable {
        case double, float, int32, int64
    }

    case scalar(result: Scalar, arguments: [Scalar])
    case array

    static let arrayArguments = ["const double*", "double*"]

    public init(parsing text: String) throws(ForeignFunctionError) {
        func invalid(_ reason: String) -> ForeignFunctionError {
            ForeignFunctionError(
                .invalidSignature,
                "--signature '\(text)' is not a signature: \(reason); expected RET(ARG,...) with the types \(Scalar.allCases.map(\.rawValue).joined(separator: " ")), such as double(double) or float(float,float), or the array form void(const double*,double*)")
        }
        let trimmed = Self.normalized(text)
        guard let open = trimmed.firstIndex(of: "("), trimmed.hasSuffix(")") else {
            throw invalid("it needs the form RET(ARG,...)")
        }
        let resultName = String(trimmed[..<open])
        let inside = trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)]
        let arguments = inside.isEmpty ? [] : inside.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        if resultName == "void" {
            guard arguments == Self.arrayArguments else {
                throw invalid("a void function must take (const double*,double*), the array form")
            }
            self = .array
            return
        }
        guard let result = Scalar(rawValue: resultName) else {
            throw invalid("the result type '\(resultName)' is not one of them")
        }
        guard !arguments.isEmpty else { throw invalid("it takes no arguments, so it has no inputs to smooth") }
        var scalars: [Scalar] = []
        for (index, name) in arguments.enumerated() {
            guard let scalar = Scalar(rawValue: name) else {
                throw invalid("argument \(index + 1) has the type '\(name)', which is not one of them")
            }
            scalars.append(scalar)
        }
        self = .scalar(result: result, arguments: scalars)
    }

    /// Runs of spaces become one, and none is left next to ( ) , or *.
    private static func normalized(_ text: String) -> String {
        var words = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for mark in ["(", ")", ",", "*"] {
            words = words.replacing(" " + mark, with: mark).replacing(mark + " ", with: mark)
        }
        return words
    }

    public var description: String {
        switch self {
        case .array: return "void(" + Self.arrayArguments.joined(separator: ",") + ")"
        case .scalar(let result, let arguments):
            return result.rawValue + "(" + arguments.map(\.rawValue).joined(separator: ",") + ")"
        }
    }
}
