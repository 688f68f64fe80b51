import CFFI
import GSSCore
import Glibc
import Synchronization

/// Any C function in any shared library, called through libffi: `--symbol LIB:FUNC --signature SIG`.
///
/// Scalar form `RET(ARG,...)`: argument k is input coordinate k and the result is the one output,
/// so n is the number of arguments and m = 1. An int32/int64 argument gets the perturbed input
/// rounded to the nearest integer, halves to even (as rint does); one outside the type's range
/// fails the row. Array form `void(const double*,double*)`: the function reads n doubles and
/// writes m doubles, with n and m given by the user.
///
/// Nothing can check that the signature is the function's real one: a wrong signature is
/// undefined behaviour (wrong numbers at best, a crash at worst).
///
/// Functions are taken to be reentrant (pure functions such as floor are): every worker calls it
/// at once, each with its own call interface and argument buffers. `serialized` puts one lock
/// around every batch, for functions with hidden state.
public struct ForeignFunctionBlackBox: BlackBox {
    public let library: String
    public let function: String
    public let signature: FunctionSignature
    public let inputCount: Int
    public let outputCount: Int
    public let serialized: Bool
    let address: FunctionAddress
    let lock: CallLock?

    /// Opens `symbol` ("LIB:FUNC": a path or a soname such as libm.so.6, then the function's name)
    /// and checks the sizes: the array form needs n and m; a scalar form fixes them.
    public init(
        symbol: String, signature text: String, inputCount: Int? = nil, outputCount: Int? = nil, serialized: Bool = false
    ) throws(ForeignFunctionError) {
        guard let colon = symbol.lastIndex(of: ":"), colon != symbol.startIndex, symbol.index(after: colon) != symbol.endIndex else {
            throw ForeignFunctionError(
                .invalidSymbol, "--symbol '\(symbol)' must be LIB:FUNC, such as libm.so.6:floor or ./libmine.so:my_function")
        }
        library = String(symbol[..<colon])
        function = String(symbol[symbol.index(after: colon)...])
        signature = try FunctionSignature(parsing: text)
        switch signature {
        case .array:
            guard let inputCount, let outputCount else {
                throw ForeignFunctionError(
                    .invalidDimensions,
                    "the array form \(signature) needs --n and --m: how many doubles the function reads and writes")
            }
            for (name, value) in [("--n", inputCount), ("--m", outputCount)] where !(1...PluginInstance.dimensionLimit).contains(value) {
                throw ForeignFunctionError(
                    .invalidDimensions, "\(name) must be a whole number from 1 to \(PluginInstance.dimensionLimit), got \(value)")
            }
            self.inputCount = inputCount
            self.outputCount = outputCount
        case .scalar(_, let arguments):
            if let inputCount, inputCount != arguments.count {
                throw ForeignFunctionError(
                    .invalidDimensions,
                    "--n \(inputCount) disagrees with --signature \(signature), whose \(arguments.count) argument\(arguments.count == 1 ? " is" : "s are") the inputs")
            }
            if let outputCount, outputCount != 1 {
                throw ForeignFunctionError(
                    .invalidDimensions, "--m \(outputCount) disagrees with --signature \(signature), whose result is the one output")
            }
            self.inputCount = arguments.count
            self.outputCount = 1
        }
        address = try FunctionAddress(library: library, function: function)
        self.serialized = serialized
        lock = serialized ? CallLock() : nil
        // Prepare once now, so a signature libffi refuses is a usage error before any work.
        _ = try CallInterface(signature: signature)
    }

    public var displayName: String { "C function '\(function)' from \(library)" }

    public func makeEvaluators(count: Int) throws -> [any BatchEvaluator] {
        try (0..<max(count, 1)).map { _ in try ForeignFunctionEvaluator(blackBox: self) }
    }
}

/// The function's address, from a library opened for the life of the process (never dlclose'd,
/// like plugins: its code may be running on any worker until gss exits).
struct FunctionAddress: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer

    init(library: String, function: String) throws(ForeignFunctionError) {
        _ = dlerror()
        guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown reason"
            throw ForeignFunctionError(.libraryNotLoadable, "cannot load the library '\(library)' named by --symbol: \(reason)")
        }
        _ = dlerror()
        guard let pointer = dlsym(handle, function) else {
            throw ForeignFunctionError(.symbolNotFound, "the library '\(library)' has no function '\(function)' (named by --symbol)")
        }
        self.pointer = pointer
    }
}

/// One lock for every evaluator of a serialised function.
final class CallLock: Sendable {
    let mutex = Mutex(())
}

/// libffi's call interface for one signature, prepared once (ffi_prep_cif) and reused for every
/// row, with its argument and result buffers. Every libffi call of gss is in this class.
final class CallInterface {
    private let cif = UnsafeMutablePointer<ffi_cif>.allocate(capacity: 1)
    private let argumentTypes: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>
    /// 8 bytes per argument: the value itself (scalar form) or a pointer (array form).
    let arguments: UnsafeMutableRawPointer
    private let argumentAddresses: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// Large enough for any result, including integers libffi widens to ffi_arg.
    let result = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16)
    private let count: Int

    init(signature: FunctionSignature) throws(ForeignFunctionError) {
        let resultType: UnsafeMutablePointer<ffi_type>
        let types: [UnsafeMutablePointer<ffi_type>]
        switch signature {
        case .array:
            resultType = gss_ffi_type_void()
            types = [gss_ffi_type_pointer(), gss_ffi_type_pointer()]
        case .scalar(let result, let arguments):
            resultType = Self.type(of: result)
            types = arguments.map(Self.type(of:))
        }
        count = types.count
        argumentTypes = .allocate(capacity: count)
        arguments = .allocate(byteCount: 8 * count, alignment: 8)
        argumentAddresses = .allocate(capacity: count)
        for index in 0..<count {
            argumentTypes[index] = types[index]
            argumentAddresses[index] = arguments + 8 * index
        }
        let status = ffi_prep_cif(cif, FFI_DEFAULT_ABI, UInt32(count), resultType, argumentTypes)
        guard status == FFI_OK else {
            throw ForeignFunctionError(.preparationFailed, "libffi cannot prepare a call of the type \(signature) (status \(status.rawValue))")
        }
    }

    deinit {
        cif.deallocate()
        argumentTypes.deallocate()
        arguments.deallocate()
        argumentAddresses.deallocate()
        result.deallocate()
    }

    private static func type(of scalar: FunctionSignature.Scalar) -> UnsafeMutablePointer<ffi_type> {
        switch scalar {
        case .double: return gss_ffi_type_double()
        case .float: return gss_ffi_type_float()
        case .int32: return gss_ffi_type_sint32()
        case .int64: return gss_ffi_type_sint64()
        }
    }

    /// Calls `function` with the values now in `arguments`; the value lands in `result`.
    func call(_ function: UnsafeMutableRawPointer) {
        ffi_call(cif, unsafeBitCast(function, to: (@convention(c) () -> Void).self), result, argumentAddresses)
    }
}

/// One worker's call interface.
final class ForeignFunctionEvaluator: BatchEvaluator, @unchecked Sendable {
    private let blackBox: ForeignFunctionBlackBox
    private let interface: CallInterface

    init(blackBox: ForeignFunctionBlackBox) throws(ForeignFunctionError) {
        self.blackBox = blackBox
        interface = try CallInterface(signature: blackBox.signature)
    }

    func evaluate(_ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>) throws {
        if let lock = blackBox.lock {
            try lock.mutex.withLock { _ throws(ForeignFunctionError) in try evaluateRows(inputs, rows: rows, into: outputs) }
        } else {
            try evaluateRows(inputs, rows: rows, into: outputs)
        }
    }

    private func evaluateRows(_ inputs: UnsafePointer<Double>, rows: Int, into outputs: UnsafeMutablePointer<Double>) throws(ForeignFunctionError) {
        let function = blackBox.address.pointer
        let n = blackBox.inputCount
        let m = blackBox.outputCount
        switch blackBox.signature {
        case .array:
            // Outputs the function never writes stay NaN and fail the estimate instead of counting as zero.
            outputs.update(repeating: .nan, count: rows * m)
            for row in 0..<rows {
                interface.arguments.storeBytes(of: UnsafeRawPointer(inputs + row * n), as: UnsafeRawPointer.self)
                interface.arguments.storeBytes(of: UnsafeMutableRawPointer(outputs + row * m), toByteOffset: 8, as: UnsafeMutableRawPointer.self)
                interface.call(function)
            }
        case .scalar(let result, let arguments):
            for row in 0..<rows {
                for (index, type) in arguments.enumerated() {
                    try store(inputs[row * n + index], as: type, argument: index)
                }
                interface.call(function)
                outputs[row] = load(result)
            }
        }
    }

    /// An input as the argument's C type: doubles as they are, floats rounded to the nearest
    /// float, integers to the nearest integer (halves to even).
    private func store(_ value: Double, as type: FunctionSignature.Scalar, argument index: Int) throws(ForeignFunctionError) {
        let slot = interface.arguments + 8 * index
        switch type {
        case .double: slot.storeBytes(of: value, as: Double.self)
        case .float: slot.storeBytes(of: Float(value), as: Float.self)
        case .int32:
            guard let integer = Int32(exactly: value.rounded(.toNearestOrEven)) else { throw outOfRange(value, type, index) }
            slot.storeBytes(of: integer, as: Int32.self)
        case .int64:
            guard let integer = Int64(exactly: value.rounded(.toNearestOrEven)) else { throw outOfRange(value, type, index) }
            slot.storeBytes(of: integer, as: Int64.self)
        }
    }

    private func outOfRange(_ value: Double, _ type: FunctionSignature.Scalar, _ index: Int) -> ForeignFunctionError {
        ForeignFunctionError(
            .argumentOutOfRange, "input \(index) is \(value), which does not fit the \(type.rawValue) argument \(index + 1) of \(blackBox.function)")
    }

    /// The result as a double. libffi widens integer results narrower than a register to ffi_arg
    /// (sign-extended for signed types), so an int32 result is read as the low half of an int64.
    private func load(_ type: FunctionSignature.Scalar) -> Double {
        switch type {
        case .double: return interface.result.load(as: Double.self)
        case .float: return Double(interface.result.load(as: Float.self))
        case .int32: return Double(Int32(truncatingIfNeeded: interface.result.load(as: Int64.self)))
        case .int64: return Double(interface.result.load(as: Int64.self))
        }
    }
}
