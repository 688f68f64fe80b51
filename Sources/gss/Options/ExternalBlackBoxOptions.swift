import ArgumentParser
import FoundationEssentials
import GSSCore
import GSSHost

/// Black boxes that are not plugins: an external program (--exec, --exec-each) or a C function
/// called through libffi (--symbol with --signature). (The options are declared in BlackBoxOptions.)
extension BlackBoxOptions {
    /// The black box these options ask for; nil when they ask for none (a plugin is meant).
    /// Any contradiction with the rest of the command line is a usage error.
    func openExternal() throws -> OpenedBlackBox? {
        let plugin = blackBox
        var chosen: [String] = []
        if let plugin { chosen.append("the plugin '\(plugin)'") }
        if exec != nil { chosen.append("--exec") }
        if execEach != nil { chosen.append("--exec-each") }
        if symbol != nil { chosen.append("--symbol") }
        guard chosen.count <= 1 else {
            throw CommandError.usage("give one black box, not \(chosen.joined(separator: " and "))")
        }
        guard !chosen.isEmpty else {
            throw CommandError.usage(
                "no black box given: name a plugin id or path (the <black-box> argument), or use --exec, --exec-each or --symbol")
        }
        func refuse(_ option: String, _ given: Bool, _ belongsTo: String) throws {
            if given { throw CommandError.usage("\(option) goes with \(belongsTo), which was not given") }
        }
        try refuse("--exec-timeout", execTimeout != nil && exec == nil && execEach == nil, "--exec or --exec-each")
        try refuse("--signature", signature != nil && symbol == nil, "--symbol")
        try refuse("--serialize-calls", serializeCalls && symbol == nil, "--symbol")
        if plugin != nil {
            try refuse("--n", inputCount != nil, "--exec, --exec-each or --symbol (a plugin reports its own sizes)")
            try refuse("--m", outputCount != nil, "--exec, --exec-each or --symbol (a plugin reports its own sizes)")
            return nil
        }
        guard pluginOptions.isEmpty else {
            throw CommandError.usage("-o passes options to a plugin's create(); \(chosen[0]) takes none")
        }

        let blackBox: any BlackBox
        if exec != nil || execEach != nil {
            let option = exec != nil ? "--exec" : "--exec-each"
            guard let inputCount, let outputCount else {
                throw CommandError.usage("\(option) needs --n (numbers per input row) and --m (numbers per output row)")
            }
            if let exec {
                blackBox = try ExternalProgramBlackBox(
                    command: exec, inputCount: inputCount, outputCount: outputCount, timeoutSeconds: execTimeout)
            } else {
                blackBox = try EachRowProgramBlackBox(
                    template: execEach!, inputCount: inputCount, outputCount: outputCount, timeoutSeconds: execTimeout)
            }
        } else {
            guard let signature else {
                throw CommandError.usage("--symbol needs --signature, the function's C type, such as --signature 'double(double)'")
            }
            do {
                blackBox = try ForeignFunctionBlackBox(
                    symbol: symbol!, signature: signature, inputCount: inputCount, outputCount: outputCount,
                    serialized: serializeCalls)
            } catch {
                throw error.code == .libraryNotLoadable ? Self.namingTheRealLibrary(error, symbol: symbol!) : error
            }
        }
        return OpenedBlackBox(blackBox: blackBox, defaultInput: nil, outputShape: [blackBox.outputCount])
    }
}

extension BlackBoxOptions {
    /// dlopen refuses a linker script such as libm.so (for the compiler, with "invalid ELF
    /// header"); the message then names the library the script stands for, such as libm.so.6.
    static func namingTheRealLibrary(_ error: ForeignFunctionError, symbol: String) -> ForeignFunctionError {
        guard let header = error.message.firstRange(of: ": invalid ELF header"),
            let start = error.message[..<header.lowerBound].ranges(of: "--symbol: ").last,
            let script = FileManager.default.contents(atPath: String(error.message[start.upperBound..<header.lowerBound])),
            script.count < 1 << 16, let text = String(data: script, encoding: .utf8)
        else { return error }
        // GROUP ( /lib/x86_64-linux-gnu/libm.so.6 AS_NEEDED ( … ) ): the first file named.
        guard let group = text.firstRange(of: #/(GROUP|INPUT)\s*\(\s*[^\s()]+/#) else { return error }
        let named = text[group].split(whereSeparator: { $0.isWhitespace || $0 == "(" }).last.map(String.init) ?? ""
        let library = named.split(separator: "/").last.map(String.init) ?? named
        let given = String(symbol[..<(symbol.lastIndex(of: ":") ?? symbol.endIndex)])
        let function = symbol.lastIndex(of: ":").map { String(symbol[symbol.index(after: $0)...]) } ?? "FUNC"
        return ForeignFunctionError(
            error.code,
            "\(error.message); \(quotedInput(given)) is a linker script for the compiler, not a library: name the library it stands for, as in --symbol \(library):\(function)")
    }
}
