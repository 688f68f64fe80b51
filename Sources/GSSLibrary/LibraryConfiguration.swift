import CGSSLibrary
import GSSCore

/// What a gss_config handle points to: the smoothing configuration and the thread count, each
/// setter checking what it can alone (combinations are checked against the black box later).
final class LibraryConfiguration: @unchecked Sendable {  // changed only between calls (the header's rule)
    var smoothing = SmoothingConfiguration()
    /// 0: every processor this process may run on.
    var threads: UInt32 = 0

    var workerCount: Int { Int(threads == 0 ? gss_library_processor_count() : threads) }

    func setDistribution(_ name: String) throws(LibraryError) {
        smoothing.distribution = try Self.choice(name, of: Distribution.self, what: "distribution")
    }

    func setSampler(_ name: String) throws(LibraryError) {
        smoothing.sampler = try Self.choice(name, of: SamplingStrategy.self, what: "sampler")
    }

    func setCovariate(_ name: String) throws(LibraryError) {
        smoothing.covariate = try Self.choice(name, of: Covariate.self, what: "covariate")
    }

    func setScale(_ scale: [Double]) throws(LibraryError) {
        guard !scale.isEmpty else { throw .invalid("the scale needs 1 value or one per input, got none") }
        if let bad = scale.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
            throw .invalid("the scale must hold finite positive numbers, but entry \(bad) is \(scale[bad])")
        }
        smoothing.scale = scale
        smoothing.scaleMatrix = nil
    }

    func setScaleMatrix(_ entries: [Double]?, dimension: Int) throws(LibraryError) {
        guard let entries else {
            smoothing.scaleMatrix = nil
            return
        }
        guard dimension >= 1 else { throw .invalid("a scale matrix needs a dimension of at least 1, got \(dimension)") }
        do {
            smoothing.scaleMatrix = try ScaleMatrix(dimension: dimension, entries: entries)
        } catch {
            throw LibraryError(error)
        }
        smoothing.scale = [1]
    }

    func setSamples(_ samples: UInt64) throws(LibraryError) {
        guard samples >= 2, samples <= UInt64(Int.max / 2) else {
            throw .invalid("the number of samples must be at least 2, got \(samples)")
        }
        smoothing.samples = Int(samples)
    }

    func setMedian(_ k: UInt64) throws(LibraryError) {
        guard k != 1, k <= UInt64(Int.max / 2) else {
            throw .invalid("k-sample median smoothing needs k of at least 2 (0 for the mean), got \(k)")
        }
        smoothing.medianSampleCount = k == 0 ? nil : Int(k)
    }

    /// An enumeration's case by its name, or a sentence listing the names.
    private static func choice<T: RawRepresentable & CaseIterable>(_ name: String, of: T.Type, what: String) throws(LibraryError) -> T
    where T.RawValue == String {
        guard let value = T(rawValue: name) else {
            let known = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw .invalid("unknown \(what) '\(name)'; expected one of \(known)")
        }
        return value
    }
}
