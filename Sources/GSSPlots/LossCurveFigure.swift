import Glibc

/// A line chart of losses over optimisation steps, as an SVG document: one or more series, a
/// logarithmic loss axis when every value is positive and they span more than a factor of 20
/// (losses usually fall by orders of magnitude), else a linear one.
public struct LossCurveFigure: Sendable {
    /// One curve: a loss per step (step i at x = i); non-finite values leave a gap.
    public struct Series: Sendable {
        public let label: String
        public let losses: [Double]
        /// A CSS colour; nil picks one from the figure's palette by position.
        public let color: String?

        public init(label: String, losses: [Double], color: String? = nil) {
            self.label = label
            self.losses = losses
            self.color = color
        }
    }

    public var title: String
    public var series: [Series]
    public var xLabel = "step"
    public var yLabel = "loss"
    public var width = 640.0
    public var height = 400.0

    /// Colours that stay distinguishable for most readers (Okabe–Ito).
    public static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]

    public init(title: String, series: [Series]) {
        self.title = title
        self.series = series
    }

    /// Whether the loss axis is logarithmic for these values.
    public var usesLogarithmicAxis: Bool {
        let finite = series.flatMap(\.losses).filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max(), low > 0 else { return false }
        return high / low > 20
    }

    /// The SVG document.
    public func svg() -> String {
        let left = 70.0, right = 20.0, top = 36.0, bottom = 46.0
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let finite = series.flatMap(\.losses).filter(\.isFinite)
        let steps = max(2, series.map(\.losses.count).max() ?? 2)
        let logarithmic = usesLogarithmicAxis
        let transform: (Double) -> Double = logarithmic ? { log10($0) } : { $0 }
        var low = finite.min().map(transform) ?? 0
        var high = finite.max().map(transform) ?? 1
        if logarithmic {
            low = floor(low)
            high = ceil(high)
        } else {
            if low > 0 && low < 0.5 * high { low = 0 }  // show a decrease from its true zero
            if high == low { high = low + 1 }
        }
        if high == low { high = low + 1 }
        let axes = ChartAxes(
            left: left, top: top, width: plotWidth, height: plotHeight, low: low, high: high, logarithmic: logarithmic,
            px: { left + $0 / Double(steps - 1) * plotWidth })
        let (px, py) = (axes.px, axes.py)

        var body: [String] = []
        body.append(SVGMarkup.text(title, x: width / 2, y: 22, anchor: "middle", size: 14, weight: "bold"))
        body += axes.elements(xTicks: SVGMarkup.linearTicks(low: 0, high: Double(steps - 1)), xLabel: xLabel, yLabel: yLabel, figureHeight: height)
        // Curves: one polyline per run of finite values.
        for (index, curve) in series.enumerated() {
            let color = curve.color ?? Self.palette[index % Self.palette.count]
            var runs: [[String]] = [[]]
            for (step, loss) in curve.losses.enumerated() {
                if loss.isFinite && (!logarithmic || loss > 0) {
                    runs[runs.count - 1].append("\(SVGMarkup.coordinate(px(Double(step)))),\(SVGMarkup.coordinate(py(loss)))")
                } else if !runs[runs.count - 1].isEmpty {
                    runs.append([])
                }
            }
            for run in runs where !run.isEmpty {
                body.append("<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(run.joined(separator: " "))\"/>")
            }
        }
        // Legend, top right inside the plot.
        let labelled = series.enumerated().filter { !$0.element.label.isEmpty }
        for (row, (index, curve)) in labelled.enumerated() {
            let y = top + 16 + Double(row) * 16
            let x = left + plotWidth - 150
            let color = curve.color ?? Self.palette[index % Self.palette.count]
            body.append("<line x1=\"\(SVGMarkup.coordinate(x))\" x2=\"\(SVGMarkup.coordinate(x + 18))\" y1=\"\(SVGMarkup.coordinate(y - 4))\" y2=\"\(SVGMarkup.coordinate(y - 4))\" stroke=\"\(color)\" stroke-width=\"2\"/>")
            body.append(SVGMarkup.text(curve.label, x: x + 24, y: y, size: 11))
        }
        return SVGMarkup.document(width: width, height: height, body: body)
    }
}
