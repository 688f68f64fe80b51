import FoundationEssentials
import GSSCore
import GSSPlots

/// The study's result files: variance.csv (one row per configuration), variance.svg (the paper's
/// Figure 3/4 layout) and summary.md (best configurations, the paper's conclusions as ratios),
/// all written atomically.
public enum StudyOutputs {
    public static let csvColumns = [
        "problem", "size", "distribution", "sampler", "covariate", "antithetic", "samples", "repeats",
        "mean_l2_error", "ci95_low", "ci95_high", "oracle", "oracle_samples", "oracle_error", "skipped_reason",
    ]

    /// One line per row; skipped rows leave the numbers empty and give the reason.
    public static func csv(_ rows: [StudyRow]) -> String {
        var text = csvColumns.joined(separator: ",") + "\n"
        for row in rows {
            let c = row.configuration
            var fields = [
                c.problem.rawValue, "\(c.size)", c.distribution.rawValue, c.sampler.rawValue, c.covariate.rawValue,
                "\(c.antithetic)", "\(c.samples)",
            ]
            if let result = row.result {
                fields += [
                    "\(result.repeats)", "\(result.meanL2Error)", "\(result.ci95Low)", "\(result.ci95High)",
                    result.oracleMethod.rawValue, "\(result.oracleSamples)", "\(result.oracleError)", "",
                ]
            } else {
                fields += ["", "", "", "", "", "", "", row.skippedReason ?? ""]
            }
            text += fields.map(csvField).joined(separator: ",") + "\n"
        }
        return text
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return text }
        return "\"" + text.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }

    static let samplerLabels: [SamplingStrategy: String] = [
        .mc: "MC", .qmcLatin: "QMC\nlatin", .rqmcLatin: "RQMC\nlatin", .rqmcCartesian: "RQMC\ncart.", .sobol: "Sobol'\n(scr.)",
    ]
    static let covariateLabels: [Covariate: String] = [.none: "none", .fx: "f(x)", .loo: "LOO"]

    /// Figure 3's layout: a section per size, a panel per distribution; in a panel, rows are
    /// covariates and columns samplers, regular on the left and antithetic on the right.
    public static func figure(_ rows: [StudyRow], settings: VarianceStudySettings) -> HeatmapFigure {
        var sections: [(title: String, panels: [HeatmapPanel])] = []
        for size in settings.sizes {
            var panels: [HeatmapPanel] = []
            for distribution in settings.distributions {
                let cells = rows.filter { $0.configuration.size == size && $0.configuration.distribution == distribution }
                var values: [[Double?]] = []
                for covariate in StudyPlan.covariates {
                    var line: [Double?] = []
                    for antithetic in [false, true] {
                        for sampler in StudyPlan.samplers {
                            let row = cells.first {
                                $0.configuration.covariate == covariate && $0.configuration.antithetic == antithetic
                                    && $0.configuration.sampler == sampler
                            }
                            line.append(row?.result?.meanL2Error)
                        }
                    }
                    values.append(line)
                }
                panels.append(
                    HeatmapPanel(
                        title: distribution.rawValue, rowLabels: StudyPlan.covariates.map { covariateLabels[$0]! },
                        columnLabels: (StudyPlan.samplers + StudyPlan.samplers).map { samplerLabels[$0]! },
                        columnGroups: [("regular", StudyPlan.samplers.count), ("antithetic", StudyPlan.samplers.count)],
                        values: values))
            }
            let cartesian = rows.first { $0.configuration.size == size && $0.configuration.sampler == .rqmcCartesian && $0.skippedReason == nil }
            let samplesNote =
                "s = \(settings.samples)"
                + (cartesian.map { $0.configuration.samples != settings.samples ? " (cartesian \($0.configuration.samples))" : "" } ?? "")
            sections.append(
                (title: "\(settings.problem.rawValue), \(settings.problem.sizeLabel(size)) — \(samplesNote)", panels: panels))
        }
        return HeatmapFigure(
            title: "Mean L2 distance between estimated and oracle Jacobian (\(settings.problem.rawValue))",
            notes: [
                "\(settings.repeats) independent estimates per cell, γ = \(settings.scaleText), base seed \(settings.seed); 95% intervals in variance.csv.",
                "Darker is better. Colours are comparable only within a panel (log scale from the panel's smallest to largest value). — : skipped (reason in variance.csv).",
            ],
            sections: sections, panelsPerRow: 2)
    }

    /// Writes variance.csv, variance.svg and summary.md into `directory`, each atomically.
    public static func write(
        _ rows: [StudyRow], oracles: [OracleJacobian], settings: VarianceStudySettings, to directory: URL
    ) throws {
        try writeAtomically(Data(csv(rows).utf8), to: directory.appendingPathComponent("variance.csv").path)
        try writeAtomically(
            Data(figure(rows, settings: settings).renderSVG().utf8), to: directory.appendingPathComponent("variance.svg").path)
        try writeAtomically(
            Data(StudySummary.markdown(rows, oracles: oracles, settings: settings).utf8), to: directory.appendingPathComponent("summary.md").path)
    }
}
