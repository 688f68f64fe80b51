import Glibc
import GSSCore

/// Checks of a smoothing request made where the command builds it, before anything is
/// allocated or evaluated: what cannot fit in memory, or what moves x + γε beyond the doubles,
/// is bad input (exit 2), not an abort or a failure blamed on the black box.
enum RequestChecks {
    /// Bytes the estimate holds at once, at least: the result (value, Jacobian, extras and their
    /// errors) and the running sums, about 3·m·p doubles for every worker's partial and the
    /// total (p score features), plus two rows of inputs and outputs per worker, or the s
    /// responses the k-sample median keeps. Doubles, because the products may exceed Int.
    static func estimateBytes(_ configuration: SmoothingConfiguration, inputCount n: Int, outputCount m: Int, workers: Int) -> Double {
        let (n, m) = (Double(n), Double(m))
        let scaleFeatures = configuration.differentiatesScale ? (configuration.scaleMatrix == nil ? n : n * n) : 0
        let p = n + scaleFeatures
        // Every chunk has at least two rows, so no more workers run than half the samples.
        let workers = Double(max(1, min(workers, configuration.samples / 2)))
        var doubles = 2 * (m + m * p) + (workers + 1) * m * (3 * p + 2) + workers * 2 * (n + m + p)
        if configuration.estimatesCovariance {
            let pairs = m * (m + 1) / 2
            doubles += 2 * m * m * (p + 1) + (workers + 1) * pairs * (p + 1) * 2
        }
        if configuration.medianSampleCount != nil { doubles += Double(configuration.samples) }
        return 8 * doubles
    }

    /// Refuses `bytes` beyond this machine's physical memory, saying what needs them.
    static func refuseBeyondPhysicalMemory(_ bytes: Double, for request: String, advice: String) throws(CommandError) {
        let physical = Double(sysconf(Int32(_SC_PHYS_PAGES))) * Double(sysconf(Int32(_SC_PAGESIZE)))
        guard physical > 0, bytes > physical else { return }
        throw .usage("\(request) needs about \(formatBytes(bytes)) of memory, more than this machine's \(formatBytes(physical)); \(advice)")
    }

    /// "17.2 GB", "512 MB".
    static func formatBytes(_ bytes: Double) -> String {
        let gigabytes = bytes / 1e9
        if gigabytes >= 1e6 { return String(cFormat: "%.2g GB", gigabytes) }
        return gigabytes >= 1 ? String(cFormat: "%.1f GB", gigabytes) : String(cFormat: "%.0f MB", bytes / 1e6)
    }

    /// Refuses a scale under which x + γε (or x + Lε) overflows for the largest noise the samples
    /// draw (uniforms lie in [2^-53, 1 − 2^-53]), naming the first input that does.
    static func refuseOverflowingPerturbation(
        at x: [Double], scale: [Double], scaleMatrix: ScaleMatrix?, distribution: Distribution, scaleOption: String
    ) throws(CommandError) {
        let largestNoise = max(abs(distribution.quantile(0x1p-53)), abs(distribution.quantile(1 - 0x1p-53)))
        let n = x.count
        for j in 0..<n {
            let reach: Double
            if let scaleMatrix {
                reach = (0..<n).reduce(0) { $0 + abs(scaleMatrix.entries[j * n + $1]) } * largestNoise
            } else {
                reach = (scale.count == n ? scale[j] : scale[0]) * largestNoise
            }
            guard (abs(x[j]) + reach).isFinite else {
                throw .usage(
                    "\(scaleOption) is too large for x: with --dist \(distribution.rawValue) the noise reaches |ε| = \(String(cFormat: "%.3g", largestNoise)), which puts x + γε beyond the largest double (\(String(cFormat: "%.3g", Double.greatestFiniteMagnitude))) in input \(j); use a smaller \(scaleOption)")
            }
        }
    }
}
