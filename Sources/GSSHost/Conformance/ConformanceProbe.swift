import CGSSPlugin
import GSSCore
import Glibc
import Synchronization

/// The worker side of `gss conform`: runs one check against the plugin and reports its outcome.
/// A crash or a hang here is the parent's to report; the steps sent before every risky call
/// say what the plugin was doing.
struct ConformanceProbe {
    let invocation: WorkerInvocation
    let reporter: ProbeReporter
    /// Seconds the timed loops may use.
    let budget: Double

    static func run(check name: String, invocation: WorkerInvocation) {
        let reporter = ProbeReporter()
        guard let check = ConformanceCheck(rawValue: name) else {
            reporter.finish(.fail("unknown check '\(name)'"))
            return
        }
        let probe = ConformanceProbe(
            invocation: invocation, reporter: reporter,
            budget: invocation.settings[ProbeSetting.budget].flatMap(Double.init) ?? 5)
        let outcome: CheckOutcome
        do {
            outcome = try probe.run(check)
        } catch {
            outcome = .fail(error.message)
        }
        reporter.finish(outcome)
    }

    func run(_ check: ConformanceCheck) throws(PluginError) -> CheckOutcome {
        switch check {
        case .load: return load()
        case .entry: return entry()
        case .otherMajors: return otherMajors()
        case .descriptor: return descriptor()
        case .create: return create()
        case .unknownOption: return try unknownOption()
        case .dims: return try dims()
        case .outputShape: return try outputShape()
        case .defaultInput: return try defaultInput()
        case .evaluate: return try evaluate()
        case .buffers: return try buffers()
        case .batching: return try batching()
        case .determinism: return try determinism()
        case .threads: return try threads()
        case .throughput: return try throughput()
        case .lifecycle: return try lifecycle()
        }
    }

    /// How many rows of `secondsPerRow` fit in `share` of the budget (at least `minimum`).
    private func affordableRows(_ secondsPerRow: Double, share: Double, minimum: Int) -> Int {
        max(minimum, Int(min(budget * share / secondsPerRow, 1e6)))
    }

    private var path: String { invocation.pluginPath }
    private var options: [(key: String, value: String)] { invocation.options.map(\.pair) }

    private func plugin() throws(PluginError) -> ProbePlugin {
        try ProbePlugin(path: path, options: invocation.options, reporter: reporter)
    }

    // MARK: Loading and the descriptor

    private func load() -> CheckOutcome {
        reporter.step("calling dlopen")
        do {
            _ = try PluginObject.open(path: path)
            return .pass("dlopen(RTLD_NOW | RTLD_LOCAL) succeeded")
        } catch {
            return .fail(error.message)
        }
    }

    /// The entry point, or the outcome that explains why there is none.
    private enum EntryLookup {
        case found(PluginEntryPoint)
        case missing(CheckOutcome)
    }

    private func entryPoint() -> EntryLookup {
        reporter.step("calling dlopen")
        guard let object = try? PluginObject.open(path: path) else { return .missing(.fail("dlopen failed")) }
        reporter.step("looking up \(GSS_PLUGIN_ENTRY_SYMBOL)")
        guard let entry = object.entryPoint() else {
            return .missing(.fail("does not export \(GSS_PLUGIN_ENTRY_SYMBOL) (check its spelling, extern \"C\" and GSS_PLUGIN_EXPORT)"))
        }
        return .found(entry)
    }

    private func entry() -> CheckOutcome {
        let entry: PluginEntryPoint
        switch entryPoint() {
        case .found(let found): entry = found
        case .missing(let outcome): return outcome
        }
        reporter.step("calling \(GSS_PLUGIN_ENTRY_SYMBOL)(\(PluginLibrary.abiMajor))")
        guard let first = entry.descriptor(forMajor: PluginLibrary.abiMajor) else {
            return .fail("\(GSS_PLUGIN_ENTRY_SYMBOL)(\(PluginLibrary.abiMajor)) returned NULL: the plugin does not serve this host's ABI major \(PluginLibrary.abiMajor)")
        }
        reporter.step("calling \(GSS_PLUGIN_ENTRY_SYMBOL)(\(PluginLibrary.abiMajor)) from 4 threads at once")
        let seen = Locked<[UInt]>([])
        WorkerThreads.run(count: 4) { _ in
            for _ in 0..<100 {
                let pointer = entry.descriptor(forMajor: PluginLibrary.abiMajor).map { UInt(bitPattern: $0) } ?? 0
                seen.withValue { $0.append(pointer) }
            }
        }
        let expected = UInt(bitPattern: first)
        if let other = seen.value.first(where: { $0 != expected }) {
            return .fail(
                other == 0
                    ? "\(GSS_PLUGIN_ENTRY_SYMBOL)(\(PluginLibrary.abiMajor)) returned NULL on a later call"
                    : "\(GSS_PLUGIN_ENTRY_SYMBOL)(\(PluginLibrary.abiMajor)) returned a different descriptor on a later call; it must return one static descriptor")
        }
        return .pass("\(GSS_PLUGIN_ENTRY_SYMBOL)(\(PluginLibrary.abiMajor)) returns the same descriptor on every call, also from 4 threads at once")
    }

    private func otherMajors() -> CheckOutcome {
        guard case .found(let entry) = entryPoint() else { return .fail("no entry point") }
        let majors: [UInt32] = [0, 2, 999, UInt32.max]
        for major in majors {
            reporter.step("calling \(GSS_PLUGIN_ENTRY_SYMBOL)(\(major))")
            if entry.descriptor(forMajor: major) != nil {
                return .fail("\(GSS_PLUGIN_ENTRY_SYMBOL)(\(major)) returned a descriptor; it must return NULL for an ABI major it was not built for")
            }
        }
        return .pass("returns NULL for majors \(majors.map(String.init).joined(separator: ", "))")
    }

    private func descriptor() -> CheckOutcome {
        guard case .found(let entry) = entryPoint() else { return .fail("no entry point") }
        reporter.step("reading the descriptor")
        guard let pointer = entry.descriptor(forMajor: PluginLibrary.abiMajor) else {
            return .fail("\(GSS_PLUGIN_ENTRY_SYMBOL)(\(PluginLibrary.abiMajor)) returned NULL")
        }
        let size = pointer.pointee.struct_size
        guard size >= PluginLibrary.minimumDescriptorSize else {
            return .fail("struct_size is \(size) bytes, smaller than the \(PluginLibrary.minimumDescriptorSize) bytes of ABI \(PluginLibrary.abiMajor).0 (set it to sizeof(gss_plugin))")
        }
        let d = pointer.pointee
        var problems: [String] = []
        var facts = PluginFacts()
        if d.abi_major != PluginLibrary.abiMajor {
            problems.append("abi_major is \(d.abi_major), but the descriptor was returned for major \(PluginLibrary.abiMajor)")
        }
        facts.abi = "\(d.abi_major).\(d.abi_minor)"
        func string(_ field: UnsafePointer<CChar>?, _ name: String) -> String? {
            reporter.step("reading the descriptor's \(name)")
            guard let field else {
                problems.append("\(name) is NULL")
                return nil
            }
            guard let text = String(validatingCString: field) else {
                problems.append("\(name) is not valid UTF-8")
                return nil
            }
            if text.isEmpty { problems.append("\(name) is empty") }
            return text
        }
        facts.id = string(d.id, "id")
        facts.name = string(d.name, "name")
        facts.version = string(d.version, "version")
        _ = string(d.description, "description")
        if let id = facts.id, !id.isEmpty, !id.utf8.allSatisfy(PluginLibrary.identifierBytes.contains) {
            problems.append("id '\(id)' is not of the form [a-z0-9._-]+")
        }
        let members: [(String, Bool)] = [
            ("create", d.create != nil), ("destroy", d.destroy != nil), ("dims", d.dims != nil), ("evaluate", d.evaluate != nil),
        ]
        for (member, present) in members where !present { problems.append("the required member \(member) is NULL") }
        let known = UInt64(GSS_F_REENTRANT) | UInt64(GSS_F_DETERMINISTIC)
        if d.flags & ~known != 0 {
            problems.append("flags has unknown bits 0x\(String(d.flags & ~known, radix: 16)), which must be zero")
        }
        var flags: [String] = []
        if d.flags & UInt64(GSS_F_REENTRANT) != 0 { flags.append("reentrant") }
        if d.flags & UInt64(GSS_F_DETERMINISTIC) != 0 { flags.append("deterministic") }
        facts.flags = flags
        var outcome: CheckOutcome = problems.isEmpty
            ? .pass("struct_size \(size), ABI \(facts.abi!), id '\(facts.id ?? "")', flags \(flags.isEmpty ? "none" : flags.joined(separator: "+")), required members set, strings valid UTF-8")
            : .fail(problems.joined(separator: "; "))
        outcome.facts = facts
        return outcome
    }

    // MARK: Instances and options

    /// create with `options` and a guarded error buffer: status, instance, message, and how the
    /// buffer was treated.
    private func guardedCreate(
        _ functions: PluginFunctions, options: [(key: String, value: String)], capacity: Int
    ) -> (status: gss_status, instance: OpaquePointer?, message: String, bufferProblem: String?) {
        let buffer = GuardedDoubles(count: (capacity + 7) / 8, initial: 0)
        let bytes = UnsafeMutableRawPointer(buffer.pointer).assumingMemoryBound(to: CChar.self)
        // Bytes between capacity and the end of the last double belong to the guard too.
        for index in capacity..<buffer.count * 8 { bytes[index] = CChar(bitPattern: GuardedDoubles.pattern) }
        let (status, instance) = functions.create(options: options, error: bytes, capacity: capacity)
        var problem: String?
        let strayTail = (capacity..<buffer.count * 8).contains { bytes[$0] != CChar(bitPattern: GuardedDoubles.pattern) }
        if buffer.bytesWrittenAfter > 0 || strayTail || buffer.bytesWrittenBefore > 0 {
            problem = "wrote outside the \(capacity)-byte error buffer"
        }
        let end = (0..<capacity).first { bytes[$0] == 0 }
        if end == nil { problem = problem ?? "left the \(capacity)-byte error buffer without a terminating NUL" }
        let message = end.map { _ in String(cString: bytes) } ?? ""
        return (status, instance, message, problem)
    }

    private func create() -> CheckOutcome {
        reporter.step("loading the plugin")
        let library: PluginLibrary
        do {
            library = try PluginLibrary.open(path: path)
        } catch {
            return .fail(error.message)
        }
        let functions = library.functions
        var notes: [String] = []
        reporter.step("calling create with no options")
        let bare = guardedCreate(functions, options: [], capacity: ProbePlugin.errorCapacity)
        if let problem = bare.bufferProblem { return .fail("create with no options " + problem) }
        if bare.status == GSS_OK {
            guard let instance = bare.instance else { return .fail("create with no options returned GSS_OK but left *out NULL") }
            reporter.step("calling destroy on the instance made with no options")
            functions.destroy(instance)
            notes.append("starts with no options")
        } else if bare.message.isEmpty {
            return .fail("create with no options returned \(PluginStatus.name(bare.status)) without a message")
        } else if options.isEmpty {
            return .fail("refuses to start without options (\(PluginStatus.name(bare.status)): '\(bare.message)'); give them with -o key=value")
        } else {
            notes.append("refuses to start without options ('\(bare.message)')")
        }
        if !options.isEmpty {
            reporter.step("calling create with the given options")
            let given = guardedCreate(functions, options: options, capacity: ProbePlugin.errorCapacity)
            if let problem = given.bufferProblem { return .fail("create with the given options " + problem) }
            guard given.status == GSS_OK else {
                return .fail("create refused the given options (\(PluginStatus.name(given.status))): '\(given.message)'")
            }
            guard let instance = given.instance else { return .fail("create with the given options returned GSS_OK but left *out NULL") }
            reporter.step("calling destroy on the instance made with the given options")
            functions.destroy(instance)
            notes.append("starts with the given options")
        }
        reporter.step("calling destroy(NULL)")
        functions.destroy(nil)
        notes.append("destroy(NULL) is harmless")
        return .pass(notes.joined(separator: "; "))
    }

    private func unknownOption() throws(PluginError) -> CheckOutcome {
        let library = try PluginLibrary.open(path: path)
        let key = invocation.settings[ProbeSetting.unknownKey] ?? "conform_unknown_option"
        let offered = options + [(key: key, value: "1")]
        reporter.step("calling create with the unknown option '\(key)'")
        let refused = guardedCreate(library.functions, options: offered, capacity: ProbePlugin.errorCapacity)
        if refused.status == GSS_OK {
            if let instance = refused.instance {
                reporter.step("calling destroy on the instance that accepted '\(key)'")
                library.functions.destroy(instance)
            }
            return .fail("accepted the unknown option '\(key)' silently; create must refuse keys it does not know with GSS_E_INVALID_ARGUMENT")
        }
        if let problem = refused.bufferProblem { return .fail("refusing '\(key)', create " + problem) }
        if refused.status != GSS_E_INVALID_ARGUMENT {
            return .fail("refused the unknown option '\(key)' with \(PluginStatus.name(refused.status)) instead of GSS_E_INVALID_ARGUMENT")
        }
        if refused.message.isEmpty { return .fail("refused the unknown option '\(key)' without a message") }
        if !refused.message.contains(key) {
            return .fail("refused the unknown option '\(key)', but its message does not name it: '\(refused.message)'")
        }
        // A small buffer must be honoured too: truncated, terminated, nothing written past it.
        reporter.step("calling create with the unknown option '\(key)' and an 8-byte error buffer")
        let small = guardedCreate(library.functions, options: offered, capacity: 8)
        if let instance = small.instance, small.status == GSS_OK { library.functions.destroy(instance) }
        if let problem = small.bufferProblem { return .fail("refusing '\(key)' into an 8-byte error buffer, create " + problem) }
        return .pass("refused with GSS_E_INVALID_ARGUMENT: '\(refused.message)'; an 8-byte error buffer is respected")
    }

    // MARK: Sizes

    private func dims() throws(PluginError) -> CheckOutcome {
        let library = try PluginLibrary.open(path: path)
        let probe = try plugin()
        var seen: [(n: Int, m: Int)] = []
        for round in 0..<2 {
            let handle = try probe.create(round == 0 ? "creating an instance" : "creating a second instance")
            for _ in 0..<3 {
                reporter.step("calling dims")
                seen.append(library.functions.dims(handle.raw))
            }
            probe.destroy(handle)
        }
        let (n, m) = seen[0]
        var outcome: CheckOutcome
        if !(1...PluginInstance.dimensionLimit).contains(n) || !(1...PluginInstance.dimensionLimit).contains(m) {
            outcome = .fail("reports n = \(n) inputs and m = \(m) outputs; both must be between 1 and \(PluginInstance.dimensionLimit)")
        } else if let other = seen.first(where: { $0 != (n, m) }) {
            outcome = .fail("reports n = \(n), m = \(m) and later n = \(other.n), m = \(other.m) for the same options")
        } else {
            outcome = .pass("n = \(n), m = \(m), the same on every call and on a second instance")
        }
        var facts = PluginFacts()
        facts.inputCount = n
        facts.outputCount = m
        outcome.facts = facts
        return outcome
    }

    private func outputShape() throws(PluginError) -> CheckOutcome {
        let probe = try plugin()
        guard probe.functions.hasOutputShape else { return .pass("absent (optional: outputs are then a flat vector of m)") }
        let handle = try probe.create()
        defer { probe.destroy(handle) }
        var results: [[Int]] = []
        for _ in 0..<2 {
            var shape = [Int](repeating: -7, count: 8)
            reporter.step("calling output_shape")
            let rank = probe.functions.outputShape(handle.raw, into: &shape)!
            if shape[4...].contains(where: { $0 != -7 }) {
                return .fail("output_shape wrote more than 4 extents into shape[4]")
            }
            guard (1...4).contains(rank) else { return .fail("output_shape returned rank \(rank); it must be 1 to 4") }
            let extents = Array(shape[0..<rank])
            guard extents.allSatisfy({ $0 >= 1 }), extents.reduce(1, *) == probe.m else {
                return .fail("output_shape reports \(extents.map(String.init).joined(separator: " × ")), which does not multiply to m = \(probe.m)")
            }
            results.append(extents)
        }
        guard results[0] == results[1] else { return .fail("output_shape changes between calls: \(results[0]) then \(results[1])") }
        return .pass("rank \(results[0].count): \(results[0].map(String.init).joined(separator: " × ")) = m")
    }

    private func defaultInput() throws(PluginError) -> CheckOutcome {
        let probe = try plugin()
        guard probe.functions.hasDefaultInput else { return .pass("absent (optional: --x is then required)") }
        let handle = try probe.create()
        defer { probe.destroy(handle) }
        var results: [[Double]] = []
        for _ in 0..<2 {
            let x = GuardedDoubles(count: probe.n)
            reporter.step("calling default_input")
            _ = probe.functions.defaultInput(handle.raw, into: x.pointer)
            if x.bytesWrittenAfter > 0 { return .fail("default_input wrote \(x.bytesWrittenAfter) bytes past its n = \(probe.n) numbers") }
            if x.bytesWrittenBefore > 0 { return .fail("default_input wrote \(x.bytesWrittenBefore) bytes before its buffer") }
            let values = x.values
            if let unwritten = values.firstIndex(where: { $0.bitPattern == GuardedDoubles.unwritten.bitPattern }) {
                return .fail("default_input left input \(unwritten) of \(probe.n) unwritten")
            }
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                return .fail("default_input gives \(values[bad]) as input \(bad); it must be finite")
            }
            results.append(values)
        }
        guard results[0].map(\.bitPattern) == results[1].map(\.bitPattern) else {
            return .fail("default_input changes between calls: \(formatRow(results[0])) then \(formatRow(results[1]))")
        }
        return .pass("\(formatRow(results[0]))")
    }

    // MARK: Evaluation

    /// The inputs of the evaluate check. Near rows (the base and perturbations up to scale 1) must
    /// be computed; far ones (scale 10, zeros, ±1, ±1e3, ±1e6) may be refused as the ABI allows
    /// (GSS_E_EVALUATION, a message, the row NaN-filled), but never answered with NaN or ∞.
    private func spread(base: [Double]) -> [(row: [Double], near: Bool)] {
        let n = base.count
        var random = ProbeRandom(seed: 0x5EED)
        let directions = (0..<2).map { _ in (0..<n).map { _ in random.signed() } }
        var rows: [(row: [Double], near: Bool)] = [(base, true)]
        for scale in [1e-6, 1e-3, 0.1, 1, 10] {
            for direction in directions { rows.append((zip(base, direction).map { $0 + scale * $1 }, scale <= 1)) }
        }
        for value in [0.0, 1, -1] { rows.append(([Double](repeating: value, count: n), false)) }
        rows.append((zip(base, directions[0]).map { $0 + 1e3 * $1 }, false))
        rows.append((zip(base, directions[0]).map { $0 - 1e3 * $1 }, false))
        for value in [1e3, -1e3, 1e6, -1e6] { rows.append(([Double](repeating: value, count: n), false)) }
        return rows
    }

    private func evaluate() throws(PluginError) -> CheckOutcome {
        let probe = try plugin()
        let handle = try probe.create()
        defer { probe.destroy(handle) }
        let base = probe.base(handle)
        let rows = spread(base: base)
        var refused: [(row: [Double], message: String)] = []
        for (row, near) in rows {
            let call = probe.evaluate(handle, rows: [row])
            let unwritten = GuardedDoubles.unwritten.bitPattern
            if call.status == GSS_E_EVALUATION, !near, !call.message.isEmpty,
                call.outputs.allSatisfy({ $0.isNaN && $0.bitPattern != unwritten })
            {
                refused.append((row, call.message))
                continue
            }
            if !call.succeeded {
                let what = call.message.isEmpty ? " without a message" : ": '\(call.message)'"
                let rule = near
                    ? "; it must compute its default input and rows near it"
                    : (call.status == GSS_E_EVALUATION ? "; a refused row must be filled with NaN and explained" : "")
                return .fail("returned \(PluginStatus.name(call.status)) for the row \(formatRow(row))" + what + rule)
            }
            if let bad = call.outputs.firstIndex(where: { !$0.isFinite && $0.bitPattern != unwritten }) {
                return .fail("returned output \(bad) = \(call.outputs[bad]) with GSS_OK for the row \(formatRow(row)); a row that cannot be computed must be NaN-filled with GSS_E_EVALUATION")
            }
        }
        let start = probe.functions.hasDefaultInput ? "the default input" : "zeros"
        let computed = "finite outputs for \(rows.count - refused.count) of \(rows.count) rows: \(start) and perturbations of it at scales 1e-6 … 10, zeros, ±1, ±1e3 and ±1e6"
        guard let first = refused.first else { return .pass(computed) }
        return .pass(computed + "; \(refused.count) far rows refused as the ABI asks, e.g. \(formatRow(first.row)): '\(first.message)'")
    }

    private func buffers() throws(PluginError) -> CheckOutcome {
        let probe = try plugin()
        let handle = try probe.create()
        defer { probe.destroy(handle) }
        let base = probe.base(handle)
        let first = probe.evaluate(handle, rows: [base])
        if let violation = first.violations.first { return .fail(violation) }
        let largest = min(64, affordableRows(probe.secondsPerRow(handle, row: base), share: 0.5, minimum: 8) - 8)
        let sizes = [1, 2, 5] + (largest > 5 ? [largest] : [])
        for (index, count) in sizes.enumerated() {
            let rows = probe.moderateRows(around: base, count: count, seed: UInt64(100 + index))
            let call = probe.evaluate(handle, rows: rows)
            if let violation = call.violations.first { return .fail(violation) }
            if !call.succeeded { return .fail("returned \(PluginStatus.name(call.status)) for \(ProbePlugin.describe(rows: rows)): '\(call.message)'") }
        }
        let listed = sizes.map(String.init).joined(separator: ", ")
        return .pass("batches of \(listed) rows: nothing written within \(GuardedDoubles.guardBytes) bytes before or after y, x unchanged, every output written")
    }

    private func batching() throws(PluginError) -> CheckOutcome {
        let probe = try plugin()
        let handle = try probe.create()
        defer { probe.destroy(handle) }
        let base = probe.base(handle)
        // Each row is evaluated 4 times (alone twice, in one batch, in small batches).
        let count = min(37, affordableRows(probe.secondsPerRow(handle, row: base), share: 0.6 / 4, minimum: 4))
        let rows = probe.moderateRows(around: base, count: count, seed: 200)
        var sizes: [Int] = []
        for size in [1, 2, 3, 5, 8, 13, 21] where sizes.reduce(0, +) < count {
            sizes.append(min(size, count - sizes.reduce(0, +)))
        }
        func run(_ batch: [[Double]]) throws(PluginError) -> [Double] {
            let call = probe.evaluate(handle, rows: batch)
            guard call.succeeded else {
                throw PluginError(.evaluationFailed, "returned \(PluginStatus.name(call.status)) for \(ProbePlugin.describe(rows: batch)): '\(call.message)'")
            }
            return call.outputs
        }
        var alone: [Double] = []
        for row in rows { alone += try run([row]) }
        var againAlone: [Double] = []
        for row in rows { againAlone += try run([row]) }
        let together = try run(rows)
        var split: [Double] = []
        var start = 0
        for size in sizes {
            split += try run(Array(rows[start..<start + size]))
            start += size
        }
        let deterministic = probe.library.isDeterministic
        if ProbePlugin.firstDifference(alone, againAlone, rows: rows, m: probe.m, first: "", second: "") != nil {
            return .skip("the same rows give different outputs on repeated calls, so batching cannot be judged (see determinism)")
        }
        let listed = sizes.map(String.init).joined(separator: ", ")
        let batchDifference = ProbePlugin.firstDifference(together, alone, rows: rows, m: probe.m, first: "in a batch of \(count) rows", second: "alone")
            ?? ProbePlugin.firstDifference(split, alone, rows: rows, m: probe.m, first: "in batches of \(listed) rows", second: "alone")
        if let batchDifference {
            return deterministic
                ? .fail("results depend on the batch: " + batchDifference)
                : .pass("not claimed deterministic, so differences are not judged (\(batchDifference))")
        }
        return .pass("\(count) rows in one batch, in batches of \(listed), and one at a time give the same bits")
    }

    private func determinism() throws(PluginError) -> CheckOutcome {
        let probe = try plugin()
        guard probe.library.isDeterministic else { return .pass("not claimed (GSS_F_DETERMINISTIC is unset)") }
        let first = try probe.create()
        let base = probe.base(first)
        // Each row is evaluated 7 times (and as many other rows in between once).
        let count = min(8, affordableRows(probe.secondsPerRow(first, row: base), share: 0.6 / 8, minimum: 2))
        let rows = probe.moderateRows(around: base, count: count, seed: 300)
        let others = probe.moderateRows(around: base, count: count, seed: 301)
        func run(_ handle: ProbeHandle, _ batch: [[Double]]) throws(PluginError) -> [Double] {
            let call = probe.evaluate(handle, rows: batch)
            guard call.succeeded else {
                throw PluginError(.evaluationFailed, "returned \(PluginStatus.name(call.status)) for \(ProbePlugin.describe(rows: batch)): '\(call.message)'")
            }
            return call.outputs
        }
        let reference = try run(first, rows)
        _ = try run(first, others)
        let repeated = try run(first, rows)
        var repeatedAgain: [Double] = []
        for _ in 0..<3 { repeatedAgain = try run(first, rows) }
        probe.destroy(first)
        let second = try probe.create("creating a fresh instance")
        let fresh = try run(second, rows)
        probe.destroy(second)
        if let difference = ProbePlugin.firstDifference(reference, repeated, rows: rows, m: probe.m, first: "on the first call", second: "on a repeated call")
            ?? ProbePlugin.firstDifference(reference, repeatedAgain, rows: rows, m: probe.m, first: "on the first call", second: "on the fifth")
        {
            return .fail("claims GSS_F_DETERMINISTIC, but " + difference)
        }
        if let difference = ProbePlugin.firstDifference(reference, fresh, rows: rows, m: probe.m, first: "on one instance", second: "on a fresh one") {
            return .fail("claims GSS_F_DETERMINISTIC, but " + difference)
        }
        return .pass("the same \(count) rows give the same bits on 5 calls (with other rows in between) and on a fresh instance")
    }

    private func threads() throws(PluginError) -> CheckOutcome {
        let probe = try plugin()
        let reentrant = probe.library.isReentrant
        let deterministic = probe.library.isDeterministic
        let threadCount = 4
        let reference = try probe.create("creating the reference instance")
        let base = probe.base(reference)
        // The serial pass and at least two concurrent rounds must fit.
        let perThread = min(8, affordableRows(probe.secondsPerRow(reference, row: base), share: 0.3 / Double(threadCount * 3), minimum: 1))
        let rows = (0..<threadCount).map { probe.moderateRows(around: base, count: perThread, seed: UInt64(400 + $0)) }
        // Serial results first, and how long one thread's rows take, to size the concurrent run.
        let started = ContinuousClock.now
        var serial: [[Double]] = []
        for batch in rows {
            let call = probe.evaluate(reference, rows: batch)
            guard call.succeeded else {
                probe.destroy(reference)
                return .fail("returned \(PluginStatus.name(call.status)) for \(ProbePlugin.describe(rows: batch)): '\(call.message)'")
            }
            serial.append(call.outputs)
        }
        let perCall = max((ContinuousClock.now - started).inSeconds / Double(threadCount), 1e-6)
        if deterministic {
            // A plugin that differs from itself serially is judged by determinism, not here.
            for (index, batch) in rows.enumerated() {
                let again = probe.evaluate(reference, rows: batch)
                if again.succeeded,
                    ProbePlugin.firstDifference(again.outputs, serial[index], rows: batch, m: probe.m, first: "", second: "") != nil
                {
                    probe.destroy(reference)
                    return .skip("the same rows give different outputs on repeated serial calls, so concurrency cannot be judged (see determinism)")
                }
            }
        }
        let serialResults = serial
        let rounds = max(2, min(200, Int(budget * 0.4 / (perCall * Double(threadCount)))))
        if !reentrant { probe.destroy(reference) }
        reporter.step(
            reentrant
                ? "evaluating on one instance from \(threadCount) threads at once (GSS_F_REENTRANT), \(rounds) rounds"
                : "creating, evaluating on and destroying \(threadCount) instances from \(threadCount) threads at once, \(rounds) rounds")
        let findings = Locked<[String]>([])
        let deadline = ContinuousClock.now.advanced(bySeconds: budget * 0.6)
        WorkerThreads.run(count: threadCount) { thread in
            var handle: ProbeHandle
            if reentrant {
                handle = reference
            } else {
                do {
                    handle = try probe.create()
                } catch {
                    findings.withValue { $0.append("create failed on a concurrent thread: \(error)") }
                    return
                }
            }
            for _ in 0..<rounds where ContinuousClock.now < deadline {
                let call = probe.evaluate(handle, rows: rows[thread], announce: false)
                if !call.succeeded {
                    findings.withValue { $0.append("returned \(PluginStatus.name(call.status)) on a concurrent thread: '\(call.message)'") }
                    break
                }
                if deterministic,
                    let difference = ProbePlugin.firstDifference(
                        call.outputs, serialResults[thread], rows: rows[thread], m: probe.m, first: "from concurrent calls", second: "from serial ones")
                {
                    findings.withValue { $0.append(difference) }
                    break
                }
            }
            if !reentrant { probe.destroy(handle) }
        }
        if reentrant { probe.destroy(reference) }
        let how = reentrant ? "concurrent calls on one instance (GSS_F_REENTRANT)" : "concurrent calls on \(threadCount) instances"
        if let finding = findings.value.first { return .fail("\(how): " + finding) }
        return .pass(
            "\(how) from \(threadCount) threads" + (deterministic ? " give the same bits as serial ones" : " complete (not deterministic: values not compared)"))
    }

    private func throughput() throws(PluginError) -> CheckOutcome {
        let probe = try plugin()
        let handle = try probe.create()
        defer { probe.destroy(handle) }
        let base = probe.base(handle)
        var random = ProbeRandom(seed: 500)
        func rows(_ count: Int) -> [Double] { (0..<count).flatMap { _ in base.map { $0 + random.signed() } } }
        var error = [CChar](repeating: 0, count: ProbePlugin.errorCapacity)
        func call(_ x: [Double], _ count: Int) throws(PluginError) -> Double {
            var y = [Double](repeating: 0, count: count * probe.m)
            let started = ContinuousClock.now
            let status = probe.functions.evaluate(handle.raw, x, rows: count, &y, error: &error, capacity: error.count)
            let seconds = (ContinuousClock.now - started).inSeconds
            guard status == GSS_OK else {
                throw PluginError(.evaluationFailed, "returned \(PluginStatus.name(status)) for a batch of \(count) rows: '\(cText(error))'")
            }
            return seconds
        }
        reporter.step("timing one row")
        let single = rows(1)
        _ = try call(single, 1)
        let perRow = max(try call(single, 1), 1e-9)
        // Batches of about 5 ms, from 1 to 1024 rows.
        var batch = 1
        while batch < 1024 && Double(batch * 2) * perRow <= 0.005 { batch *= 2 }
        let x = rows(batch)
        let limit = min(1.0, budget * 0.5)
        reporter.step("evaluating batches of \(batch) rows for up to \(String(cFormat: "%g", limit)) s")
        var spent = 0.0
        var done = 0
        repeat {
            spent += try call(x, batch)
            done += batch
        } while spent < limit
        var outcome = CheckOutcome.pass("\(formatRate(Double(done) / spent)) rows/s on one thread (batches of \(batch) row\(batch == 1 ? "" : "s"), \(done) rows in \(String(cFormat: "%.2f", spent)) s)")
        outcome.throughput = Throughput(rowsPerSecond: Double(done) / spent, batchRows: batch, seconds: spent)
        return outcome
    }

    // MARK: Lifecycle

    /// Resources at one moment of the lifecycle check.
    private struct Sample {
        let heap: Int
        let resident: Int
        let threads: Int
        let descriptors: Int

        static func take() -> Sample {
            // The heap first: reading the others allocates (and frees) a little.
            let heap = ProcessResources.heapBytesInUse
            return Sample(
                heap: heap, resident: ProcessResources.residentBytes, threads: ProcessResources.threadCount,
                descriptors: ProcessResources.descriptorCount)
        }
    }

    /// Heap growth over the measured half that counts as a leak: above one-off lazy allocations
    /// (a first-use buffer, a cache filled once) and at least one small block per cycle.
    static let heapSlack = 16 << 10
    static let heapBytesPerCycle = 8
    /// Resident growth that counts as a leak: RSS moves in pages and glibc keeps freed memory for
    /// reuse (and trims it only past a threshold that grows with large blocks), so a few MiB of
    /// drift are no evidence; a steady leak passes this long before it hurts.
    static let residentSlack = 4 << 20

    private func lifecycle() throws(PluginError) -> CheckOutcome {
        let probe = try plugin()
        let wanted = max(20, invocation.settings[ProbeSetting.cycles].flatMap(Int.init) ?? 2000)
        let deadline = ContinuousClock.now.advanced(bySeconds: budget * 0.8)
        let first = try probe.create()
        var x = probe.base(first)
        probe.destroy(first)
        var y = [Double](repeating: 0, count: probe.m)
        var error = [CChar](repeating: 0, count: ProbePlugin.errorCapacity)
        var failure: String?
        // One cycle, with nothing allocated by us that outlives it.
        func cycle(_ index: Int) -> Bool {
            reporter.step("create/evaluate/destroy cycle \(index + 1)")
            let (status, created) = error.withUnsafeMutableBufferPointer {
                probe.functions.create(options: probe.options, error: $0.baseAddress!, capacity: $0.count)
            }
            guard status == GSS_OK, let created else {
                failure = "create failed in cycle \(index + 1): '\(cText(error))'"
                return false
            }
            let evaluated = probe.functions.evaluate(created, &x, rows: 1, &y, error: &error, capacity: error.count)
            probe.functions.destroy(created)
            if evaluated != GSS_OK {
                failure = "evaluate failed in cycle \(index + 1): '\(cText(error))'"
                return false
            }
            return true
        }
        // The first cycle's time decides how many fit (a slow create, e.g. an FFT plan, costs cycles).
        let started = ContinuousClock.now
        guard cycle(0) else { return .fail(failure!) }
        var done = 1
        let affordable = max(20, Int(min(Double(wanted), budget * 0.7 / max((ContinuousClock.now - started).inSeconds, 1e-7))))
        let planned = min(wanted, affordable)
        let warmup = max(5, planned / 10)
        while done < warmup {
            guard cycle(done) else { return .fail(failure!) }
            done += 1
        }
        let start = Sample.take()
        // The cycles left are split in two halves; the time limit may cut them short.
        let remaining = planned - warmup
        var middle: Sample?
        var middleCycle = done
        while done < planned && ContinuousClock.now < deadline {
            guard cycle(done) else { return .fail(failure!) }
            done += 1
            if done - warmup == remaining / 2 {
                middle = Sample.take()
                middleCycle = done
            }
        }
        let end = Sample.take()
        let measured: (from: Sample, cycles: Int)
        if let middle, done - middleCycle >= 10 {
            measured = (middle, done - middleCycle)
        } else {
            measured = (start, done - warmup)
        }
        guard measured.cycles >= 10 else {
            return .skip("only \(done) create/evaluate/destroy cycles fit in the time limit, too few to judge; raise --timeout")
        }
        let heapGrowth = end.heap - measured.from.heap
        let residentGrowth = end.resident - measured.from.resident
        let threadGrowth = end.threads - measured.from.threads
        let descriptorGrowth = end.descriptors - measured.from.descriptors
        let over = "over the last \(measured.cycles) of \(done) create/evaluate/destroy cycles"
        if heapGrowth > Self.heapSlack && heapGrowth >= Self.heapBytesPerCycle * measured.cycles {
            return .fail("heap in use grew by \(formatBytes(heapGrowth)) \(over) (\(formatBytes(heapGrowth / measured.cycles)) per cycle): destroy does not free everything create and evaluate allocate")
        }
        if residentGrowth > Self.residentSlack {
            return .fail("resident memory grew by \(formatBytes(residentGrowth)) \(over): destroy does not release everything")
        }
        if threadGrowth > 0 { return .fail("\(threadGrowth) more threads \(over): destroy does not stop them") }
        if descriptorGrowth > 0 { return .fail("\(descriptorGrowth) more open file descriptors \(over): destroy does not close them") }
        let cut = done < wanted ? " (\(wanted) wanted; the time limit allowed \(done))" : ""
        return .pass(
            "\(done) cycles\(cut): heap in use \(heapGrowth >= 0 ? "+" : "")\(formatBytes(heapGrowth)), resident \(residentGrowth >= 0 ? "+" : "")\(formatBytes(residentGrowth)), threads and descriptors steady over the last \(measured.cycles)")
    }
}

/// A value shared by threads, read and changed under a lock.
/// (A class, so that escaping closures can share it: a Mutex itself cannot be captured.)
final class Locked<Value: Sendable>: Sendable {
    private let stored: Mutex<Value>

    init(_ value: Value) { stored = Mutex(value) }

    var value: Value { stored.withLock { $0 } }

    func withValue<T: Sendable>(_ body: (inout Value) -> T) -> T { stored.withLock { body(&$0) } }
}

/// The NUL-terminated text in a C buffer held by an array.
func cText(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
