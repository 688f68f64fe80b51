import GSSCore

/// A ratio of two configurations' mean errors with its 95% interval. Repeat r uses the same seed
/// in both, so the interval comes from the paired differences a_r − ρ b_r (the delta method),
/// which accounts for whatever correlation the shared seeds create.
public struct ErrorRatio: Sendable, Equatable {
    public let ratio: Double
    public let low: Double
    public let high: Double

    public init?(_ numerator: JournalEntry?, over denominator: JournalEntry?) {
        guard let a = numerator?.errors, let b = denominator?.errors, a.count == b.count, a.count >= 2 else { return nil }
        let count = Double(a.count)
        let meanA = a.reduce(0, +) / count
        let meanB = b.reduce(0, +) / count
        guard meanB > 0 else { return nil }
        let ratio = meanA / meanB
        let differences = zip(a, b).map { $0 - ratio * $1 }
        let mean = differences.reduce(0, +) / count
        let variance = differences.reduce(0.0) { $0 + ($1 - mean) * ($1 - mean) } / (count - 1)
        let halfWidth = StudentT.quantile(0.975, degreesOfFreedom: count - 1) * (variance / count).squareRoot() / meanB
        self.ratio = ratio
        low = ratio - halfWidth
        high = ratio + halfWidth
    }

    /// "0.69 [0.66, 0.72]".
    public var text: String { String(cFormat: "%.2f [%.2f, %.2f]", ratio, low, high) }
}

/// DIR/summary.md: per size, the best configuration of each distribution, and the paper's
/// conclusions (section 4.1) checked as ratios of mean errors with 95% intervals.
public enum StudySummary {
    public static func markdown(_ rows: [StudyRow], oracles: [OracleJacobian], settings: VarianceStudySettings) -> String {
        var text = "# Variance study: \(settings.problem.rawValue)\n\n"
        text += "Mean L2 (Frobenius) distance of the estimated Jacobian to the oracle over \(settings.repeats) seeds, "
        text += "s = \(settings.samples), γ = \(settings.scaleText). Ratios below 1 favour the first-named configuration; "
        text += "intervals are 95% (paired by seed). The paper's best is rqmc-cartesian where it ran, else rqmc-latin, "
        text += "both with LOO and without antithetic pairs. The relative error divides by ‖J‖, the oracle's Frobenius norm: "
        text += "absolute errors of different distributions are not comparable (γ = 1 is a different spread for each).\n"
        for size in settings.sizes {
            let sized = rows.filter { $0.configuration.size == size }
            text += "\n## \(settings.problem.sizeLabel(size))\n\n"
            text += "| distribution | best configuration | mean L2 error [95% CI] | relative error | oracle error | sobol+LOO ÷ paper's best | "
            text += "rqmc-cartesian ÷ rqmc-latin (LOO) | MC: LOO ÷ none | MC: f(x) ÷ none | antithetic ÷ regular: MC none | MC LOO | paper's best | sobol LOO |\n"
            text += "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
            for distribution in settings.distributions {
                let cells = sized.filter { $0.configuration.distribution == distribution }
                func entry(_ sampler: SamplingStrategy, _ covariate: Covariate, antithetic: Bool = false) -> JournalEntry? {
                    cells.first {
                        $0.configuration.sampler == sampler && $0.configuration.covariate == covariate
                            && $0.configuration.antithetic == antithetic
                    }?.result
                }
                guard let best = cells.compactMap(\.result).min(by: { $0.meanL2Error < $1.meanL2Error }) else { continue }
                let norm = oracles.first { $0.size == size && $0.distribution == distribution }.map {
                    $0.jacobian.reduce(0) { $0 + $1 * $1 }.squareRoot()
                }
                let paperSampler: SamplingStrategy = entry(.rqmcCartesian, .loo) != nil ? .rqmcCartesian : .rqmcLatin
                func ratio(_ a: JournalEntry?, _ b: JournalEntry?) -> String { ErrorRatio(a, over: b)?.text ?? "—" }
                let columns = [
                    distribution.rawValue,
                    best.configuration.label,
                    String(cFormat: "%.4g [%.4g, %.4g]", best.meanL2Error, best.ci95Low, best.ci95High),
                    norm.map { String(cFormat: "%.3f", best.meanL2Error / $0) } ?? "—",
                    String(cFormat: "%.2g", best.oracleError),
                    ratio(entry(.sobol, .loo), entry(paperSampler, .loo)) + (paperSampler == .rqmcLatin ? " (vs latin)" : ""),
                    ratio(entry(.rqmcCartesian, .loo), entry(.rqmcLatin, .loo)),
                    ratio(entry(.mc, .loo), entry(.mc, .none)),
                    ratio(entry(.mc, .fx), entry(.mc, .none)),
                    ratio(entry(.mc, .none, antithetic: true), entry(.mc, .none)),
                    ratio(entry(.mc, .loo, antithetic: true), entry(.mc, .loo)),
                    ratio(entry(paperSampler, .loo, antithetic: true), entry(paperSampler, .loo)),
                    ratio(entry(.sobol, .loo, antithetic: true), entry(.sobol, .loo)),
                ]
                text += "| " + columns.joined(separator: " | ") + " |\n"
            }
        }
        return text
    }
}
