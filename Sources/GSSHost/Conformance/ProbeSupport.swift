import CGSSPlugin
import CGSSSystem
import GSSCore
import Glibc
import Synchronization

/// A conformance worker's line to the parent: steps before every risky call (so a crash or hang
/// is reported with what it was doing), then the outcome.
final class ProbeReporter: Sendable {
    /// One frame at a time, whichever thread of a check sends it.
    private let socket = Mutex(MessageSocket(fd: WorkerDescriptors.socket))

    func step(_ text: String) {
        socket.withLock { socket in try? socket.sendFrame(kind: FrameKind.step.rawValue, payload: Array(text.utf8)) }
    }

    func finish(_ outcome: CheckOutcome) {
        let payload = try! WireFormat.encode(outcome)
        socket.withLock { socket in try? socket.sendFrame(kind: FrameKind.outcome.rawValue, payload: payload) }
    }
}

/// A buffer of `count` doubles between two guard regions filled with a pattern, to catch writes
/// before or after it. The buffer itself starts as `initial` (a sentinel for outputs).
final class GuardedDoubles: @unchecked Sendable {
    static let guardBytes = 512
    static let pattern: UInt8 = 0xA5
    /// A signalling NaN with a payload no computation produces: an output still holding it was
    /// never written.
    static let unwritten = Double(bitPattern: 0x7FF4_0C0F_FEED_0BAD)

    let count: Int
    private let raw: UnsafeMutableRawPointer

    init(count: Int, initial: Double = GuardedDoubles.unwritten) {
        self.count = count
        raw = .allocate(byteCount: count * 8 + 2 * Self.guardBytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: Self.pattern, count: Self.guardBytes)
        (raw + Self.guardBytes + count * 8).initializeMemory(as: UInt8.self, repeating: Self.pattern, count: Self.guardBytes)
        pointer.initialize(repeating: initial, count: count)
    }

    convenience init(_ values: [Double]) {
        self.init(count: values.count)
        for (index, value) in values.enumerated() { pointer[index] = value }
    }

    deinit { raw.deallocate() }

    var pointer: UnsafeMutablePointer<Double> { (raw + Self.guardBytes).assumingMemoryBound(to: Double.self) }
    var values: [Double] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// How many bytes just before the buffer were changed (counted from the first changed one).
    var bytesWrittenBefore: Int {
        let bytes = raw.assumingMemoryBound(to: UInt8.self)
        guard let first = (0..<Self.guardBytes).first(where: { bytes[$0] != Self.pattern }) else { return 0 }
        return Self.guardBytes - first
    }

    /// How many bytes just after the buffer were changed (up to the last changed one).
    var bytesWrittenAfter: Int {
        let bytes = (raw + Self.guardBytes + count * 8).assumingMemoryBound(to: UInt8.self)
        guard let last = (0..<Self.guardBytes).last(where: { bytes[$0] != Self.pattern }) else { return 0 }
        return last + 1
    }
}

/// A deterministic stream of numbers for probe inputs (SplitMix64), so every run probes the same rows.
struct ProbeRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    mutating func signed() -> Double { Double(next() >> 11) * 0x1p-52 - 1 }
}

/// A created instance, known to the probe by its raw handle (the probe decides when to destroy).
struct ProbeHandle: @unchecked Sendable {
    let raw: OpaquePointer
}

/// What one guarded evaluate call did.
struct GuardedCall {
    let status: gss_status
    let message: String
    let outputs: [Double]
    /// Every way the call broke the buffer rules, worded for the report (empty: none).
    let violations: [String]

    var succeeded: Bool { status == GSS_OK }
}

/// The plugin as the probe drives it: validated by PluginLibrary, called through PluginFunctions.
struct ProbePlugin: @unchecked Sendable {
    let library: PluginLibrary
    let options: [(key: String, value: String)]
    let reporter: ProbeReporter
    var functions: PluginFunctions { library.functions }
    let n: Int
    let m: Int

    static let errorCapacity = 1024

    init(path: String, options: [PluginOption], reporter: ProbeReporter) throws(PluginError) {
        reporter.step("loading the plugin")
        library = try PluginLibrary.open(path: path)
        self.options = options.map(\.pair)
        self.reporter = reporter
        reporter.step("creating an instance with the given options")
        let instance = try library.instantiate(options: self.options)
        n = instance.inputCount
        m = instance.outputCount
    }

    /// A fresh instance with the given options (create succeeded in the create check).
    func create(_ why: String = "creating an instance") throws(PluginError) -> ProbeHandle {
        reporter.step(why)
        var error = [CChar](repeating: 0, count: Self.errorCapacity)
        let (status, instance) = error.withUnsafeMutableBufferPointer {
            functions.create(options: options, error: $0.baseAddress!, capacity: $0.count)
        }
        guard status == GSS_OK, let instance else {
            throw PluginError(.createFailed, "create failed (\(PluginStatus.name(status))): \(cText(error))")
        }
        return ProbeHandle(raw: instance)
    }

    func destroy(_ handle: ProbeHandle) {
        reporter.step("calling destroy")
        functions.destroy(handle.raw)
    }

    /// The default input if there is one and it is finite; zeros otherwise.
    func base(_ handle: ProbeHandle) -> [Double] {
        var x = [Double](repeating: 0, count: n)
        reporter.step("calling default_input")
        if functions.defaultInput(handle.raw, into: &x), x.allSatisfy(\.isFinite) { return x }
        return [Double](repeating: 0, count: n)
    }

    /// Rows near `base`: perturbations of scale up to 1 in pseudo-random directions.
    func moderateRows(around base: [Double], count: Int, seed: UInt64) -> [[Double]] {
        var random = ProbeRandom(seed: seed)
        let scales = [1e-3, 0.1, 0.5, 1.0]
        return (0..<count).map { index in
            base.map { $0 + scales[index % scales.count] * random.signed() }
        }
    }

    /// Seconds one row takes (the second of two calls on `row`, so lazy set-up is not counted);
    /// checks size their work by it to fit the time limit.
    func secondsPerRow(_ handle: ProbeHandle, row: [Double]) -> Double {
        _ = evaluate(handle, rows: [row])
        let started = ContinuousClock.now
        _ = evaluate(handle, rows: [row], announce: false)
        return max((ContinuousClock.now - started).inSeconds, 1e-7)
    }

    /// "the row [0.1, 0.2]" or "a batch of 3 rows, the first [0.1, 0.2]".
    static func describe(rows: [[Double]]) -> String {
        rows.count == 1 ? "the row \(formatRow(rows[0]))" : "a batch of \(rows.count) rows, the first \(formatRow(rows[0]))"
    }

    /// Evaluates `rows` in one call with guarded buffers and reports every breach of the rules.
    func evaluate(_ handle: ProbeHandle, rows: [[Double]], announce: Bool = true) -> GuardedCall {
        if announce { reporter.step("evaluating " + Self.describe(rows: rows)) }
        let flat = rows.flatMap { $0 }
        let x = GuardedDoubles(flat)
        let y = GuardedDoubles(count: rows.count * m)
        let error = GuardedDoubles(count: Self.errorCapacity / 8, initial: 0)
        let errorText = UnsafeMutableRawPointer(error.pointer).assumingMemoryBound(to: CChar.self)
        let status = functions.evaluate(handle.raw, x.pointer, rows: rows.count, y.pointer, error: errorText, capacity: Self.errorCapacity)
        var violations: [String] = []
        let batch = rows.count == 1 ? "a batch of 1 row" : "a batch of \(rows.count) rows"
        let shape = "\(rows.count) × \(m) outputs"
        if y.bytesWrittenAfter > 0 {
            violations.append("wrote \(y.bytesWrittenAfter) bytes past the end of y (\(shape), \(batch))")
        }
        if y.bytesWrittenBefore > 0 {
            violations.append("wrote \(y.bytesWrittenBefore) bytes before the start of y (\(shape), \(batch))")
        }
        if x.bytesWrittenBefore > 0 || x.bytesWrittenAfter > 0 {
            violations.append("wrote next to the input buffer x (\(batch))")
        }
        if let changed = (0..<flat.count).first(where: { x.pointer[$0].bitPattern != flat[$0].bitPattern }) {
            violations.append(
                "changed the input x, which is read-only: row \(changed / n), input \(changed % n) went from \(flat[changed]) to \(x.pointer[changed]) (\(batch))")
        }
        if let unwritten = (0..<rows.count * m).first(where: { y.pointer[$0].bitPattern == GuardedDoubles.unwritten.bitPattern }) {
            violations.append("left output \(unwritten % m) of row \(unwritten / m) unwritten (\(batch); every output must be written)")
        }
        if error.bytesWrittenAfter > 0 || error.bytesWrittenBefore > 0 {
            violations.append("wrote outside the \(Self.errorCapacity)-byte error buffer")
        }
        let terminated = (0..<Self.errorCapacity).contains { errorText[$0] == 0 }
        if !terminated { violations.append("left the error buffer without a terminating NUL") }
        let message = terminated ? String(cString: errorText) : ""
        return GuardedCall(status: status, message: message, outputs: y.values, violations: violations)
    }

    /// The first difference between two runs of the same rows, worded for the report.
    static func firstDifference(
        _ a: [Double], _ b: [Double], rows: [[Double]], m: Int, first: String, second: String
    ) -> String? {
        guard let index = (0..<min(a.count, b.count)).first(where: { a[$0].bitPattern != b[$0].bitPattern }) else {
            return nil
        }
        let row = index / m
        return "output \(index % m) of the row \(formatRow(rows[row])) is \(a[index]) \(first) but \(b[index]) \(second)"
    }
}

/// Reads this process's resources for the lifecycle check.
enum ProcessResources {
    static var heapBytesInUse: Int { Int(gss_heap_bytes_in_use()) }

    /// Resident set size in bytes (/proc/self/statm's second field, in pages).
    static var residentBytes: Int {
        guard let text = FileSystem.text(ofFile: "/proc/self/statm") else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static var threadCount: Int {
        FileSystem.entries(ofDirectory: "/proc/self/task")?.count ?? 0
    }

    /// Open file descriptors (the listing's own descriptor is open while it reads, in every sample alike).
    static var descriptorCount: Int {
        FileSystem.entries(ofDirectory: "/proc/self/fd")?.count ?? 0
    }
}

/// "2.5 KiB", "3.1 MiB": byte counts for messages.
func formatBytes(_ bytes: Int) -> String {
    let magnitude = abs(Double(bytes))
    let sign = bytes < 0 ? "-" : ""
    if magnitude < 1024 { return "\(bytes) B" }
    if magnitude < 1024 * 1024 { return sign + String(cFormat: "%.1f KiB", magnitude / 1024) }
    return sign + String(cFormat: "%.1f MiB", magnitude / (1024 * 1024))
}

/// "10.4 M", "6.2 k", "59": rows per second for messages.
public func formatRate(_ rate: Double) -> String {
    if rate >= 1e6 { return String(cFormat: "%.1f M", rate / 1e6) }
    if rate >= 1e4 { return String(cFormat: "%.1f k", rate / 1e3) }
    return String(cFormat: "%.0f", rate)
}
