import Glibc

/// Small helpers shared by the SVG figures of this module: escaping, number formatting, and
/// the document frame. Internal, so that figures stay free to grow their own drawing code.
enum SVGMarkup {
    /// Text safe inside an element or a quoted attribute.
    static func escaped(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }

    /// A coordinate with two decimals and no trailing zeros ("12.5", "3").
    static func coordinate(_ value: Double) -> String {
        var text = String(cFormat: "%.2f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    /// A tick label: up to three significant digits, powers of ten as 10^k when far from 1.
    static func tickLabel(_ value: Double) -> String {
        if value == 0 { return "0" }
        let exponent = log10(abs(value))
        if abs(exponent - exponent.rounded()) < 1e-9 && abs(exponent) >= 3 {
            return "1e\(Int(exponent.rounded()))"
        }
        return String(cFormat: "%.3g", value)
    }

    /// 10^k written as 1, 10 or 1e-3: one form for every tick of a logarithmic axis.
    static func powerOfTenLabel(_ k: Int) -> String {
        switch k {
        case 0: return "1"
        case 1: return "10"
        default: return "1e\(k)"
        }
    }

    /// The document frame with a white background and a sans-serif default font.
    static func document(width: Double, height: Double, body: [String]) -> String {
        let w = coordinate(width)
        let h = coordinate(height)
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(w)" height="\(h)" viewBox="0 0 \(w) \(h)" \
            font-family="Helvetica, Arial, sans-serif" font-size="12">
            <rect width="\(w)" height="\(h)" fill="white"/>
            \(body.joined(separator: "\n"))
            </svg>

            """
    }

    /// A text element.
    static func text(_ content: String, x: Double, y: Double, anchor: String = "start", size: Double? = nil,
                     weight: String? = nil, rotate: Double? = nil) -> String {
        var attributes = "x=\"\(coordinate(x))\" y=\"\(coordinate(y))\" text-anchor=\"\(anchor)\""
        if let size { attributes += " font-size=\"\(coordinate(size))\"" }
        if let weight { attributes += " font-weight=\"\(weight)\"" }
        if let rotate { attributes += " transform=\"rotate(\(coordinate(rotate)) \(coordinate(x)) \(coordinate(y)))\"" }
        return "<text \(attributes)>\(escaped(content))</text>"
    }

    /// "Nice" tick positions covering [low, high] on a linear axis (steps of 1, 2 or 5 × 10^k).
    static func linearTicks(low: Double, high: Double, approximateCount: Int = 5) -> [Double] {
        guard high > low else { return [low] }
        let rough = (high - low) / Double(max(1, approximateCount))
        let magnitude = pow(10, floor(log10(rough)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        var ticks: [Double] = []
        var tick = (low / step).rounded(.up) * step
        while tick <= high + step * 1e-9 {
            ticks.append(abs(tick) < step * 1e-9 ? 0 : tick)
            tick += step
        }
        return ticks
    }
}

/// The plot area of a line chart: how values map into it, and its frame, grid, ticks and axis
/// titles (shared by `LossCurveFigure` and `LineChart`).
struct ChartAxes {
    let left: Double
    let top: Double
    let width: Double
    let height: Double
    /// The y range, in log10 units when `logarithmic`.
    let low: Double
    let high: Double
    let logarithmic: Bool
    /// Page x of a data x.
    let px: (Double) -> Double

    /// Page y of a data y.
    func py(_ value: Double) -> Double {
        top + (high - (logarithmic ? log10(value) : value)) / (high - low) * height
    }

    /// Frame, y grid lines with labels (powers of ten on a logarithmic axis), x ticks with labels,
    /// and the axis titles (the x title on the figure's bottom line at `figureHeight`).
    func elements(xTicks: [Double], xLabel: String, yLabel: String, figureHeight: Double) -> [String] {
        let c = SVGMarkup.coordinate
        var body = ["<rect x=\"\(c(left))\" y=\"\(c(top))\" width=\"\(c(width))\" height=\"\(c(height))\" fill=\"none\" stroke=\"#444\"/>"]
        let yTicks: [Double] = logarithmic
            ? stride(from: low, through: high, by: max(1, ((high - low) / 6).rounded(.up))).map { pow(10, $0) }
            : SVGMarkup.linearTicks(low: low, high: high)
        for tick in yTicks {
            let y = c(py(tick))
            body.append("<line x1=\"\(c(left))\" x2=\"\(c(left + width))\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"#ddd\"/>")
            let label = logarithmic ? SVGMarkup.powerOfTenLabel(Int(log10(tick).rounded())) : SVGMarkup.tickLabel(tick)
            body.append(SVGMarkup.text(label, x: left - 6, y: py(tick) + 4, anchor: "end", size: 11))
        }
        for tick in xTicks {
            let x = c(px(tick))
            body.append("<line x1=\"\(x)\" x2=\"\(x)\" y1=\"\(c(top + height))\" y2=\"\(c(top + height + 4))\" stroke=\"#444\"/>")
            body.append(SVGMarkup.text(SVGMarkup.tickLabel(tick), x: px(tick), y: top + height + 17, anchor: "middle", size: 11))
        }
        body.append(SVGMarkup.text(xLabel, x: left + width / 2, y: figureHeight - 8, anchor: "middle"))
        body.append(SVGMarkup.text(yLabel + (logarithmic ? " (log scale)" : ""), x: 16, y: top + height / 2, anchor: "middle", rotate: -90))
        return body
    }
}
