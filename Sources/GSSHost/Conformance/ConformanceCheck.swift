/// The checks of `gss conform`, in the order they run. Each runs in a worker process of its own,
/// so a plugin that crashes or hangs in one still gets a verdict on the others.
public enum ConformanceCheck: String, CaseIterable, Sendable, Codable {
    case load
    case entry
    case otherMajors = "other-majors"
    case descriptor
    case create
    case unknownOption = "unknown-option"
    case dims
    case outputShape = "output-shape"
    case defaultInput = "default-input"
    case evaluate
    case buffers
    case batching
    case determinism
    case threads
    case throughput
    case lifecycle

    /// What the check verifies, in a few words.
    public var summary: String {
        switch self {
        case .load: return "dlopen(RTLD_NOW | RTLD_LOCAL) succeeds"
        case .entry: return "gss_plugin_entry is exported and returns one static descriptor for ABI major 1"
        case .otherMajors: return "gss_plugin_entry returns NULL for majors 0, 2, 999 and 2^32-1, without crashing"
        case .descriptor: return "struct_size, versions, id syntax, required members, UTF-8 strings, flag bits"
        case .create: return "create succeeds with no options and with the given ones; destroy(NULL) is harmless"
        case .unknownOption: return "an unknown option is refused with GSS_E_INVALID_ARGUMENT and a message naming it"
        case .dims: return "n and m are within 1 … 2^26 and stable across calls and instances"
        case .outputShape: return "output_shape (if present) has rank 1 … 4 and multiplies to m"
        case .defaultInput: return "default_input (if present) is finite, stable and stays within n numbers"
        case .evaluate: return "finite outputs with GSS_OK on a spread of inputs"
        case .buffers: return "no writes before or after y, x unchanged, every output written, error buffer respected"
        case .batching: return "a batch of k rows equals the k rows one at a time"
        case .determinism: return "with GSS_F_DETERMINISTIC: repeated calls and fresh instances give the same bits"
        case .threads: return "concurrent calls (on one instance if GSS_F_REENTRANT, else one each) equal serial ones"
        case .throughput: return "rows per second on one thread"
        case .lifecycle: return "create/evaluate/destroy cycles do not grow memory, threads or descriptors"
        }
    }

    /// The checks that must pass before this one can run.
    var prerequisites: [ConformanceCheck] {
        switch self {
        case .load: return []
        case .entry: return [.load]
        case .otherMajors, .descriptor: return [.entry]
        case .create: return [.descriptor]
        case .unknownOption, .dims: return [.create]
        default: return [.dims]
        }
    }

    /// Whether the check calls evaluate (after a plugin hung once, the rest are skipped).
    var evaluates: Bool {
        switch self {
        case .evaluate, .buffers, .batching, .determinism, .threads, .throughput, .lifecycle: return true
        default: return false
        }
    }
}

/// A check's verdict.
public struct CheckOutcome: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case pass, fail, skip
    }

    public var status: Status
    /// One sentence: what was found (why it failed, or what passed).
    public var detail: String
    /// What the check learnt about the plugin (descriptor, dims).
    public var facts: PluginFacts?
    /// The throughput check's measurement.
    public var throughput: Throughput?

    public static func pass(_ detail: String) -> CheckOutcome { CheckOutcome(status: .pass, detail: detail) }
    public static func fail(_ detail: String) -> CheckOutcome { CheckOutcome(status: .fail, detail: detail) }
    public static func skip(_ detail: String) -> CheckOutcome { CheckOutcome(status: .skip, detail: detail) }
}

/// What conformance learnt about the plugin, for the report's header.
public struct PluginFacts: Codable, Sendable, Equatable {
    public var id: String?
    public var name: String?
    public var version: String?
    public var abi: String?
    public var flags: [String]?
    public var inputCount: Int?
    public var outputCount: Int?

    public init() {}

    /// Fills what `other` knows and this does not.
    mutating func merge(_ other: PluginFacts) {
        id = id ?? other.id
        name = name ?? other.name
        version = version ?? other.version
        abi = abi ?? other.abi
        flags = flags ?? other.flags
        inputCount = inputCount ?? other.inputCount
        outputCount = outputCount ?? other.outputCount
    }
}

/// Rows per second of one thread evaluating batches of `batchRows` rows for `seconds`.
public struct Throughput: Codable, Sendable, Equatable {
    public var rowsPerSecond: Double
    public var batchRows: Int
    public var seconds: Double
}

/// One check and its verdict.
public struct CheckResult: Sendable, Equatable {
    public let check: ConformanceCheck
    public let outcome: CheckOutcome
}

/// Everything `gss conform` found.
public struct ConformanceReport: Sendable {
    public let pluginPath: String
    public let options: [PluginOption]
    public var results: [CheckResult] = []
    public var facts = PluginFacts()
    public var throughput: Throughput?

    public var passed: Bool { results.allSatisfy { $0.outcome.status == .pass } }
    public var failures: [CheckResult] { results.filter { $0.outcome.status == .fail } }
}
