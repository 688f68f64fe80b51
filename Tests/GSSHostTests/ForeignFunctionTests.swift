import Foundation
import GSSCore
import GSSHost
import GSSTestSupport
import Testing

@Suite("C functions through libffi")
struct ForeignFunctionTests {
    static let fixture = Products.fixture("cfunctions")

    @Test("the signature grammar: scalar forms, the array form, free spacing", arguments: [
        ("double(double)", FunctionSignature.scalar(result: .double, arguments: [.double])),
        (" float ( float , float ) ", .scalar(result: .float, arguments: [.float, .float])),
        ("int64(int64,double,float,int32)", .scalar(result: .int64, arguments: [.int64, .double, .float, .int32])),
        ("void(const double*,double*)", .array),
        ("void ( const  double * x_is_not_allowed", nil),
        ("void(const double *, double *)", .array),
        ("double", nil), ("double()", nil), ("doubel(double)", nil), ("double(int)", nil),
        ("void(double*,double*)", nil), ("void(const double*)", nil), ("double(double,)", nil), ("(double)", nil),
    ] as [(String, FunctionSignature?)])
    func grammar(text: String, expected: FunctionSignature?) {
        let parsed = try? FunctionSignature(parsing: text)
        #expect(parsed == expected, "\(text)")
        if expected == nil {
            let error = #expect(throws: ForeignFunctionError.self) { try FunctionSignature(parsing: text) }
            #expect(error?.code == .invalidSignature && error?.isUsageError == true)
            #expect(error?.message.contains("--signature '\(text)' is not a signature") == true)
        }
    }

    @Test("libm's floor, fmax and their float twins give exactly C's answers")
    func libm() throws {
        let floorBox = try ForeignFunctionBlackBox(symbol: "libm.so.6:floor", signature: "double(double)")
        #expect(floorBox.inputCount == 1 && floorBox.outputCount == 1)
        #expect(try evaluateRows(floorBox, [[2.7], [-0.5], [3], [-1e-300]]) == [2, -1, 3, -1])
        let fmax = try ForeignFunctionBlackBox(symbol: "libm.so.6:fmax", signature: "double(double,double)")
        #expect(try evaluateRows(fmax, [[1, 2], [-3, -4], [0.1, 0.1]]) == [2, -3, 0.1])
        let floorf = try ForeignFunctionBlackBox(symbol: "libm.so.6:floorf", signature: "float(float)")
        #expect(try evaluateRows(floorf, [[2.7], [-0.5]]) == [2, -1])
        let fmaxf = try ForeignFunctionBlackBox(symbol: "libm.so.6:fmaxf", signature: "float(float,float)")
        // 0.1 travels as a float: the result is the float nearest 0.1, not the double.
        #expect(try evaluateRows(fmaxf, [[0.1, -1]]) == [Double(Float(0.1))])
        let hypot = try ForeignFunctionBlackBox(symbol: "libm.so.6:hypot", signature: "double(double,double)")
        #expect(try evaluateRows(hypot, [[3, 4]]) == [5])
    }

    @Test("every argument type lands in its place; integers round to nearest, halves to even")
    func argumentTypes() throws {
        let mixed = try ForeignFunctionBlackBox(symbol: Self.fixture + ":gss_fixture_mixed", signature: "double(int64,double,float,int32)")
        // a = 1 (1.4 rounded), b = 2.25, c = 3.5 (a float), d = -5 (-4.6 rounded).
        let expected: Double = 1000 + 225 + 35 - 5
        #expect(try evaluateRows(mixed, [[1.4, 2.25, 3.5, -4.6]]) == [expected])
        let digits = try ForeignFunctionBlackBox(symbol: Self.fixture + ":gss_fixture_digits", signature: "int32(int32,int32)")
        #expect(try evaluateRows(digits, [[2.5, 3.5], [-2.5, 0.49], [7, -1]]) == [24, -20, 69])
        let half = try ForeignFunctionBlackBox(symbol: Self.fixture + ":gss_fixture_half", signature: "float(float)")
        #expect(try evaluateRows(half, [[3], [-0.5]]) == [1.5, -0.25])
        let labs = try ForeignFunctionBlackBox(symbol: "libc.so.6:labs", signature: "int64(int64)")
        #expect(try evaluateRows(labs, [[-4e15]]) == [4e15])
    }

    @Test("an integer argument out of range fails the row (exit 1), not wraps")
    func outOfRange() throws {
        let digits = try ForeignFunctionBlackBox(symbol: Self.fixture + ":gss_fixture_digits", signature: "int32(int32,int32)")
        let error = #expect(throws: ForeignFunctionError.self) { _ = try evaluateRows(digits, [[1, 2], [3e10, 1]]) }
        #expect(error?.code == .argumentOutOfRange && error?.isUsageError == false)
        #expect(error?.message == "input 0 is 30000000000.0, which does not fit the int32 argument 1 of gss_fixture_digits")
    }

    @Test("the array form reads n doubles and writes m, row by row")
    func arrayForm() throws {
        let affine = try ForeignFunctionBlackBox(
            symbol: Self.fixture + ":gss_fixture_affine", signature: "void(const double*,double*)", inputCount: 3, outputCount: 2)
        let expected: [Double] = [3, 9, 1, -2]  // A·(1, 2, 4) + b and A·0 + b
        #expect(try evaluateRows(affine, [[1, 2, 4], [0, 0, 0]]) == expected)
    }

    @Test("serialised calls give the same results under many workers")
    func serialized() throws {
        let box = try ForeignFunctionBlackBox(symbol: "libm.so.6:floor", signature: "double(double)", serialized: true)
        let configuration = SmoothingConfiguration(distribution: .logistic, samples: 4096, sampler: .mc, seed: 5)
        let serial = try Smoother(configuration: configuration, threads: 4).estimate(box, at: [0.3])
        let free = try Smoother(configuration: configuration, threads: 4)
            .estimate(try ForeignFunctionBlackBox(symbol: "libm.so.6:floor", signature: "double(double)"), at: [0.3])
        #expect(serial == free)
    }

    @Test("usage errors name what is wrong", arguments: [
        ("floor", "double(double)", nil, nil, ForeignFunctionError.Code.invalidSymbol, "must be LIB:FUNC"),
        ("libm.so.6:", "double(double)", nil, nil, .invalidSymbol, "must be LIB:FUNC"),
        ("libgss-nothing.so.9:f", "double(double)", nil, nil, .libraryNotLoadable, "cannot load the library 'libgss-nothing.so.9'"),
        ("libm.so.6:no_such_function", "double(double)", nil, nil, .symbolNotFound, "has no function 'no_such_function'"),
        ("libm.so.6:floor", "void(const double*,double*)", 1, nil, .invalidDimensions, "needs --n and --m"),
        ("libm.so.6:floor", "double(double)", 2, nil, .invalidDimensions, "--n 2 disagrees"),
        ("libm.so.6:floor", "double(double)", nil, 3, .invalidDimensions, "--m 3 disagrees"),
        ("libm.so.6:floor", "double(dbl)", nil, nil, .invalidSignature, "'dbl'"),
    ] as [(String, String, Int?, Int?, ForeignFunctionError.Code, String)])
    func usage(symbol: String, signature: String, n: Int?, m: Int?, code: ForeignFunctionError.Code, phrase: String) {
        let error = #expect(throws: ForeignFunctionError.self) {
            try ForeignFunctionBlackBox(symbol: symbol, signature: signature, inputCount: n, outputCount: m)
        }
        #expect(error?.code == code && error?.isUsageError == true)
        #expect(error?.message.contains(phrase) == true, "\(String(describing: error))")
    }
}
