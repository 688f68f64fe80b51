/// Grouped bars with an interval on each (e.g. success rates with confidence intervals), as an
/// SVG document. Values and intervals share one linear axis.
public struct IntervalBarChart: Sendable {
    /// One bar: its height and the interval drawn over it.
    public struct Bar: Sendable {
        public let value: Double
        public let low: Double
        public let high: Double

        public init(value: Double, low: Double, high: Double) {
            self.value = value
            self.low = low
            self.high = high
        }
    }

    /// A group of bars, one per series, under a label.
    public struct Group: Sendable {
        public let label: String
        /// One bar per series, in the order of `seriesLabels`.
        public let bars: [Bar]

        public init(label: String, bars: [Bar]) {
            self.label = label
            self.bars = bars
        }
    }

    public var title: String
    public var seriesLabels: [String]
    public var groups: [Group]
    public var yLabel: String
    /// The value axis (e.g. 0…1 for rates).
    public var axis: ClosedRange<Double>
    public var width = 760.0
    public var height = 380.0

    public init(title: String, seriesLabels: [String], groups: [Group], yLabel: String, axis: ClosedRange<Double>) {
        self.title = title
        self.seriesLabels = seriesLabels
        self.groups = groups
        self.yLabel = yLabel
        self.axis = axis
    }

    /// The SVG document.
    public func svg() -> String {
        let left = 60.0, right = 16.0, top = 40.0, bottom = 64.0
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let span = axis.upperBound - axis.lowerBound
        func py(_ value: Double) -> Double {
            top + (axis.upperBound - min(axis.upperBound, max(axis.lowerBound, value))) / span * plotHeight
        }
        var body: [String] = [SVGMarkup.text(title, x: width / 2, y: 22, anchor: "middle", size: 14, weight: "bold")]
        for tick in SVGMarkup.linearTicks(low: axis.lowerBound, high: axis.upperBound) {
            let y = SVGMarkup.coordinate(py(tick))
            body.append("<line x1=\"\(SVGMarkup.coordinate(left))\" x2=\"\(SVGMarkup.coordinate(left + plotWidth))\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"#ddd\"/>")
            body.append(SVGMarkup.text(SVGMarkup.tickLabel(tick), x: left - 6, y: py(tick) + 4, anchor: "end", size: 11))
        }
        body.append(SVGMarkup.text(yLabel, x: 16, y: top + plotHeight / 2, anchor: "middle", rotate: -90))
        let groupWidth = plotWidth / Double(max(1, groups.count))
        let barWidth = groupWidth * 0.8 / Double(max(1, seriesLabels.count))
        for (groupIndex, group) in groups.enumerated() {
            let groupLeft = left + Double(groupIndex) * groupWidth + groupWidth * 0.1
            for (series, bar) in group.bars.enumerated() {
                let color = LossCurveFigure.palette[series % LossCurveFigure.palette.count]
                let x = groupLeft + Double(series) * barWidth
                let barTop = py(bar.value)
                body.append("<rect x=\"\(SVGMarkup.coordinate(x + 1))\" y=\"\(SVGMarkup.coordinate(barTop))\" width=\"\(SVGMarkup.coordinate(barWidth - 2))\" height=\"\(SVGMarkup.coordinate(py(axis.lowerBound) - barTop))\" fill=\"\(color)\" fill-opacity=\"0.8\"/>")
                let centre = SVGMarkup.coordinate(x + barWidth / 2)
                body.append("<line x1=\"\(centre)\" x2=\"\(centre)\" y1=\"\(SVGMarkup.coordinate(py(bar.low)))\" y2=\"\(SVGMarkup.coordinate(py(bar.high)))\" stroke=\"black\"/>")
                for end in [bar.low, bar.high] {
                    body.append("<line x1=\"\(SVGMarkup.coordinate(x + barWidth / 2 - 3))\" x2=\"\(SVGMarkup.coordinate(x + barWidth / 2 + 3))\" y1=\"\(SVGMarkup.coordinate(py(end)))\" y2=\"\(SVGMarkup.coordinate(py(end)))\" stroke=\"black\"/>")
                }
            }
            let lines = group.label.split(separator: "\n").map(String.init)
            for (line, text) in lines.enumerated() {
                body.append(SVGMarkup.text(text, x: groupLeft + groupWidth * 0.4, y: top + plotHeight + 16 + Double(line) * 13, anchor: "middle", size: 10))
            }
        }
        body.append("<line x1=\"\(SVGMarkup.coordinate(left))\" x2=\"\(SVGMarkup.coordinate(left + plotWidth))\" y1=\"\(SVGMarkup.coordinate(py(axis.lowerBound)))\" y2=\"\(SVGMarkup.coordinate(py(axis.lowerBound)))\" stroke=\"#444\"/>")
        var legendX = left
        for (series, label) in seriesLabels.enumerated() {
            let color = LossCurveFigure.palette[series % LossCurveFigure.palette.count]
            body.append("<rect x=\"\(SVGMarkup.coordinate(legendX))\" y=\"\(SVGMarkup.coordinate(height - 16))\" width=\"10\" height=\"10\" fill=\"\(color)\" fill-opacity=\"0.8\"/>")
            body.append(SVGMarkup.text(label, x: legendX + 14, y: height - 7, size: 11))
            legendX += 14 + Double(label.count) * 6.5 + 16
        }
        return SVGMarkup.document(width: width, height: height, body: body)
    }
}
