import Glibc

/// A minimal SVG writer: shapes and text in user units (pixels), rendered as one standalone
/// document. Text is escaped; numbers are written with two decimals so files diff cleanly.
public struct SVGCanvas: Sendable {
    public enum Anchor: String, Sendable {
        case start, middle, end
    }

    public let width: Double
    public let height: Double
    public var fontFamily = "Helvetica, Arial, sans-serif"
    private var elements: [String] = []

    public init(width: Double, height: Double, background: RGB? = .white) {
        self.width = width
        self.height = height
        if let background {
            rect(x: 0, y: 0, width: width, height: height, fill: background)
        }
    }

    public mutating func rect(
        x: Double, y: Double, width: Double, height: Double, fill: RGB?, stroke: RGB? = nil,
        strokeWidth: Double = 1, title: String? = nil
    ) {
        var attributes = "x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" width=\"\(Self.number(width))\" height=\"\(Self.number(height))\""
        attributes += " fill=\"\(fill?.hex ?? "none")\""
        if let stroke { attributes += " stroke=\"\(stroke.hex)\" stroke-width=\"\(Self.number(strokeWidth))\"" }
        if let title {
            elements.append("<rect \(attributes)><title>\(Self.escape(title))</title></rect>")
        } else {
            elements.append("<rect \(attributes)/>")
        }
    }

    public mutating func line(
        x1: Double, y1: Double, x2: Double, y2: Double, stroke: RGB, width: Double = 1, dash: [Double]? = nil
    ) {
        var attributes = "x1=\"\(Self.number(x1))\" y1=\"\(Self.number(y1))\" x2=\"\(Self.number(x2))\" y2=\"\(Self.number(y2))\""
        attributes += " stroke=\"\(stroke.hex)\" stroke-width=\"\(Self.number(width))\""
        if let dash { attributes += " stroke-dasharray=\"\(dash.map(Self.number).joined(separator: " "))\"" }
        elements.append("<line \(attributes)/>")
    }

    /// An open polyline through `points` (e.g. one series of a line chart).
    public mutating func polyline(_ points: [(x: Double, y: Double)], stroke: RGB, width: Double = 1.5) {
        let list = points.map { "\(Self.number($0.x)),\(Self.number($0.y))" }.joined(separator: " ")
        elements.append("<polyline points=\"\(list)\" fill=\"none\" stroke=\"\(stroke.hex)\" stroke-width=\"\(Self.number(width))\"/>")
    }

    public mutating func circle(x: Double, y: Double, radius: Double, fill: RGB) {
        elements.append("<circle cx=\"\(Self.number(x))\" cy=\"\(Self.number(y))\" r=\"\(Self.number(radius))\" fill=\"\(fill.hex)\"/>")
    }

    /// Text whose baseline starts (or is centred, or ends) at (x, y); `rotation` in degrees about (x, y).
    public mutating func text(
        _ content: String, x: Double, y: Double, size: Double = 11, anchor: Anchor = .start,
        bold: Bool = false, fill: RGB = .black, rotation: Double = 0
    ) {
        var attributes = "x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" font-size=\"\(Self.number(size))\""
        if anchor != .start { attributes += " text-anchor=\"\(anchor.rawValue)\"" }
        if bold { attributes += " font-weight=\"bold\"" }
        if fill != .black { attributes += " fill=\"\(fill.hex)\"" }
        if rotation != 0 {
            attributes += " transform=\"rotate(\(Self.number(rotation)) \(Self.number(x)) \(Self.number(y)))\""
        }
        elements.append("<text \(attributes)>\(Self.escape(content))</text>")
    }

    /// The whole document.
    public func render() -> String {
        var document = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Self.number(width))" height="\(Self.number(height))" \
            viewBox="0 0 \(Self.number(width)) \(Self.number(height))" font-family="\(Self.escape(fontFamily))">

            """
        for element in elements { document += element + "\n" }
        document += "</svg>\n"
        return document
    }

    static func number(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }
}

/// An sRGB colour.
public struct RGB: Sendable, Equatable {
    public var red: Double
    public var green: Double
    public var blue: Double

    public init(red: Double, green: Double, blue: Double) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// From 0xRRGGBB.
    public init(hex: UInt32) {
        self.init(
            red: Double((hex >> 16) & 0xFF) / 255, green: Double((hex >> 8) & 0xFF) / 255,
            blue: Double(hex & 0xFF) / 255)
    }

    public static let white = RGB(hex: 0xFFFFFF)
    public static let black = RGB(hex: 0x000000)
    public static let gray = RGB(hex: 0x808080)
    public static let lightGray = RGB(hex: 0xE6E6E6)

    public var hex: String {
        func byte(_ value: Double) -> String {
            let clamped = Int((min(max(value, 0), 1) * 255).rounded())
            let digits = String(clamped, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }
        return "#" + byte(red) + byte(green) + byte(blue)
    }

    /// Relative luminance (WCAG), to pick readable text on a fill.
    public var luminance: Double {
        func linear(_ c: Double) -> Double { c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4) }
        return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    }

    /// Black or white, whichever reads better on this colour.
    public var contrastingText: RGB { luminance > 0.25 ? .black : .white }
}

