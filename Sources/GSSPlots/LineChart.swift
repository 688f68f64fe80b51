import Glibc

/// Lines of y against a numeric x, one per series, each point with an optional interval (an error
/// bar), series told apart by colour, marker and dash; the legend sits to the right of the plot.
/// The y axis is linear from 0, or logarithmic when asked and every point's y is positive (an
/// error bar reaching 0 or below then runs to the bottom of the axis).
public struct LineChart: Sendable {
    public enum Marker: String, Sendable, CaseIterable {
        case none, circle, cross, triangle, square
    }

    public struct Point: Sendable, Equatable {
        public let x: Double
        public let y: Double
        /// The interval drawn as an error bar, or nil for none.
        public let interval: ClosedRange<Double>?

        public init(x: Double, y: Double, interval: ClosedRange<Double>? = nil) {
            self.x = x
            self.y = y
            self.interval = interval
        }
    }

    public struct Series: Sendable {
        public let label: String
        public let points: [Point]
        /// A CSS colour; nil picks one from `LossCurveFigure.palette` by position.
        public let color: String?
        public let marker: Marker
        public let dashed: Bool

        public init(label: String, points: [Point], color: String? = nil, marker: Marker = .circle, dashed: Bool = false) {
            self.label = label
            self.points = points
            self.color = color
            self.marker = marker
            self.dashed = dashed
        }
    }

    public var title: String
    public var series: [Series]
    public var xLabel: String
    public var yLabel: String
    /// Where the x ticks go (e.g. the sample counts); nil: evenly spaced "nice" ticks.
    public var xTicks: [Double]?
    public var logarithmicY = false
    public var width = 760.0
    public var height = 420.0
    public var legendWidth = 230.0

    public init(title: String, series: [Series], xLabel: String, yLabel: String, xTicks: [Double]? = nil) {
        self.title = title
        self.series = series
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xTicks = xTicks
    }

    private var pointValues: [Double] { series.flatMap { $0.points.map(\.y) }.filter(\.isFinite) }

    public var usesLogarithmicAxis: Bool { logarithmicY && (pointValues.min() ?? 0) > 0 }

    /// Every y value and interval end the axis must show (on a logarithmic axis the positive ones).
    private var yValues: [Double] {
        let ends = series.flatMap { $0.points.flatMap { $0.interval.map { [$0.lowerBound, $0.upperBound] } ?? [] } }
        return (pointValues + ends).filter { $0.isFinite && (!usesLogarithmicAxis || $0 > 0) }
    }

    /// The SVG document.
    public func svg() -> String {
        let left = 64.0, top = 40.0, bottom = 48.0
        let plotWidth = width - left - legendWidth - 16
        let plotHeight = height - top - bottom
        let logarithmic = usesLogarithmicAxis
        let transform: (Double) -> Double = logarithmic ? { log10($0) } : { $0 }
        let values = yValues.map(transform)
        var (low, high) = (values.min() ?? 0, values.max() ?? 1)
        if logarithmic {
            (low, high) = (floor(low), ceil(high))
        } else {
            low = min(0, low)
            high += 0.05 * (high - low)  // headroom above the highest error bar
        }
        if high <= low { high = low + 1 }
        let xs = series.flatMap { $0.points.map(\.x) }
        let ticks = xTicks ?? SVGMarkup.linearTicks(low: xs.min() ?? 0, high: xs.max() ?? 1)
        var (xLow, xHigh) = ((xs + ticks).min() ?? 0, (xs + ticks).max() ?? 1)
        if xHigh <= xLow { (xLow, xHigh) = (xLow - 1, xHigh + 1) }
        let margin = 0.05 * (xHigh - xLow)
        let axes = ChartAxes(
            left: left, top: top, width: plotWidth, height: plotHeight, low: low, high: high, logarithmic: logarithmic,
            px: { left + ($0 - xLow + margin) / (xHigh - xLow + 2 * margin) * plotWidth })
        let (px, py) = (axes.px, axes.py)
        func c(_ value: Double) -> String { SVGMarkup.coordinate(value) }

        var body = [SVGMarkup.text(title, x: (left + plotWidth / 2), y: 22, anchor: "middle", size: 14, weight: "bold")]
        body += axes.elements(xTicks: ticks, xLabel: xLabel, yLabel: yLabel, figureHeight: height)

        for (index, line) in series.enumerated() {
            let color = line.color ?? LossCurveFigure.palette[index % LossCurveFigure.palette.count]
            let dash = line.dashed ? " stroke-dasharray=\"6 4\"" : ""
            let points = line.points.filter { $0.y.isFinite && (!logarithmic || $0.y > 0) }
            if points.count > 1 {
                let list = points.map { "\(c(px($0.x))),\(c(py($0.y)))" }.joined(separator: " ")
                body.append("<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\"\(dash) points=\"\(list)\"/>")
            }
            for point in points {
                if var interval = point.interval, interval.lowerBound.isFinite, interval.upperBound.isFinite {
                    if logarithmic && interval.lowerBound <= 0 { interval = pow(10, low)...max(pow(10, low), interval.upperBound) }
                    let x = px(point.x)
                    body.append("<line x1=\"\(c(x))\" x2=\"\(c(x))\" y1=\"\(c(py(interval.lowerBound)))\" y2=\"\(c(py(interval.upperBound)))\" stroke=\"\(color)\" stroke-opacity=\"0.7\"/>")
                    for end in [interval.lowerBound, interval.upperBound] {
                        body.append("<line x1=\"\(c(x - 3))\" x2=\"\(c(x + 3))\" y1=\"\(c(py(end)))\" y2=\"\(c(py(end)))\" stroke=\"\(color)\" stroke-opacity=\"0.7\"/>")
                    }
                }
                body.append(contentsOf: Self.marker(line.marker, x: px(point.x), y: py(point.y), color: color))
            }
        }
        // Legend, to the right of the plot.
        let legendLeft = left + plotWidth + 16
        for (row, (index, line)) in series.enumerated().filter({ !$0.element.label.isEmpty }).enumerated() {
            let y = top + 10 + Double(row) * 18
            let color = line.color ?? LossCurveFigure.palette[index % LossCurveFigure.palette.count]
            let dash = line.dashed ? " stroke-dasharray=\"6 4\"" : ""
            body.append("<line x1=\"\(c(legendLeft))\" x2=\"\(c(legendLeft + 28))\" y1=\"\(c(y))\" y2=\"\(c(y))\" stroke=\"\(color)\" stroke-width=\"1.5\"\(dash)/>")
            body.append(contentsOf: Self.marker(line.marker, x: legendLeft + 14, y: y, color: color))
            body.append(SVGMarkup.text(line.label, x: legendLeft + 34, y: y + 4, size: 11))
        }
        return SVGMarkup.document(width: width, height: height, body: body)
    }

    /// The marker's elements, centred on (x, y).
    static func marker(_ marker: Marker, x: Double, y: Double, color: String) -> [String] {
        func c(_ value: Double) -> String { SVGMarkup.coordinate(value) }
        switch marker {
        case .none:
            return []
        case .circle:
            return ["<circle cx=\"\(c(x))\" cy=\"\(c(y))\" r=\"3.5\" fill=\"\(color)\"/>"]
        case .square:
            return ["<rect x=\"\(c(x - 3.5))\" y=\"\(c(y - 3.5))\" width=\"7\" height=\"7\" fill=\"\(color)\"/>"]
        case .cross:
            return [
                "<line x1=\"\(c(x - 4))\" x2=\"\(c(x + 4))\" y1=\"\(c(y - 4))\" y2=\"\(c(y + 4))\" stroke=\"\(color)\" stroke-width=\"2\"/>",
                "<line x1=\"\(c(x - 4))\" x2=\"\(c(x + 4))\" y1=\"\(c(y + 4))\" y2=\"\(c(y - 4))\" stroke=\"\(color)\" stroke-width=\"2\"/>",
            ]
        case .triangle:
            return ["<polygon points=\"\(c(x)),\(c(y - 5)) \(c(x - 4.5)),\(c(y + 3.5)) \(c(x + 4.5)),\(c(y + 3.5))\" fill=\"white\" stroke=\"\(color)\" stroke-width=\"1.5\"/>"]
        }
    }
}
