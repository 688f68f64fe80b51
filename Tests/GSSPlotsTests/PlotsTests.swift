import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import GSSPlots
import GSSTestSupport
import Testing

/// Counts elements by name while checking that a document is well-formed XML.
final class ElementCounter: NSObject, XMLParserDelegate {
    var counts: [String: Int] = [:]
    var attributes: [String: [[String: String]]] = [:]

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        counts[name, default: 0] += 1
        self.attributes[name, default: []].append(attributes)
    }

    static func parse(_ svg: String) throws -> ElementCounter {
        let counter = ElementCounter()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = counter
        guard parser.parse() else { throw DecodedPNG.Failure(description: "not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?")") }
        return counter
    }
}

@Suite("PNG files and SVG figures")
struct PlotsTests {
    @Test("grey PNG: signature, IHDR size, CRCs and a zlib stream that inflates to the pixels")
    func grayRoundTrip() throws {
        let width = 7, height = 5
        let pixels = (0..<(width * height)).map { UInt8(($0 * 37) % 256) }
        let bytes = try PNGEncoder.encode(pixels: pixels, width: width, height: height, colorType: .gray)
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let decoded = try DecodedPNG(bytes: bytes)
        #expect(decoded.width == width && decoded.height == height && decoded.colorType == 0)
        #expect(decoded.chunkTypes == ["IHDR", "IDAT", "IEND"])
        #expect(decoded.pixels == pixels)
    }

    @Test("RGB PNG round trip, and a corrupted byte fails the CRC")
    func rgbRoundTrip() throws {
        let pixels: [UInt8] = (0..<36).map { (index: Int) -> UInt8 in UInt8(255 - 5 * index) }
        var bytes = try PNGEncoder.encode(pixels: pixels, width: 4, height: 3, colorType: .rgb)
        let decoded = try DecodedPNG(bytes: bytes)
        #expect(decoded.colorType == 2 && decoded.pixels == pixels)
        bytes[20] ^= 1  // inside IHDR's data
        #expect(throws: DecodedPNG.Failure.self) { try DecodedPNG(bytes: bytes) }
    }

    @Test("the encoder refuses a pixel count that does not match the size")
    func wrongSize() {
        #expect(throws: PNGEncoder.EncodingError.self) {
            try PNGEncoder.encode(pixels: [1, 2, 3], width: 2, height: 2, colorType: .gray)
        }
        #expect(throws: PNGEncoder.EncodingError.self) {
            try PNGEncoder.encode(pixels: [], width: 0, height: 0, colorType: .gray)
        }
    }

    @Test("grey levels: the range maps onto 0…255, clamped; [0, 1] for unit images, else min…max")
    func grayLevels() throws {
        let image = GrayscaleImage(width: 3, height: 2, values: [0, 0.5, 1, -1, 2, .nan])
        #expect(image.grayLevels(range: 0...1) == [0, 128, 255, 0, 255, 0])
        #expect(GrayscaleImage.displayRange(of: [GrayscaleImage(width: 2, height: 1, values: [0.2, 1])]) == 0...1)
        #expect(GrayscaleImage.displayRange(of: [image]) == -1...2)
        #expect(GrayscaleImage.displayRange(of: [GrayscaleImage(width: 1, height: 1, values: [3])]) == 2.5...3.5)
        let decoded = try DecodedPNG(bytes: image.pngData(range: -1...2))
        #expect(decoded.pixels == [85, 128, 170, 0, 255, 0])
    }

    @Test("upscaling repeats every pixel factor × factor times")
    func upscale() {
        let image = GrayscaleImage(width: 2, height: 1, values: [0, 1]).upscaled(by: 2)
        #expect(image.width == 4 && image.height == 2 && image.values == [0, 0, 1, 1, 0, 0, 1, 1])
    }

    @Test("loss curve: well-formed SVG, one polyline per series, log axis for losses spanning decades")
    func lossCurve() throws {
        let falling = (0..<100).map { pow(10, -Double($0) / 25) }
        let figure = LossCurveFigure(title: "a & b", series: [
            .init(label: "first", losses: falling), .init(label: "second", losses: falling.map { 2 * $0 }),
        ])
        #expect(figure.usesLogarithmicAxis)
        let counter = try ElementCounter.parse(figure.svg())
        #expect(counter.counts["polyline"] == 2 && counter.counts["svg"] == 1)
        // A gap (NaN) splits a series into two polylines; a narrow range stays linear.
        var values = Array(repeating: 1.0, count: 10)
        values[5] = .nan
        let flat = LossCurveFigure(title: "flat", series: [.init(label: "", losses: values.enumerated().map { $1 + Double($0) * 0.01 })])
        #expect(!flat.usesLogarithmicAxis)
        #expect(try ElementCounter.parse(flat.svg()).counts["polyline"] == 2)
    }

    @Test("image grid: every image is embedded as a PNG that decodes to its grey levels")
    func imageGrid() throws {
        let a = GrayscaleImage(width: 3, height: 2, values: [0, 0.25, 0.5, 0.75, 1, 0])
        let b = GrayscaleImage(width: 3, height: 2, values: [1, 1, 1, 0, 0, 0])
        let figure = ImageGridFigure(title: "grid", columnTitles: ["a", "b"], rows: [[.init(image: a, caption: "<a>"), .init(image: b, caption: "b")]])
        let counter = try ElementCounter.parse(try figure.svg())
        let images = try #require(counter.attributes["image"])
        #expect(images.count == 2)
        let href = try #require(images[0]["href"])
        let payload = try #require(Data(base64Encoded: String(href.dropFirst("data:image/png;base64,".count))))
        #expect(try DecodedPNG(bytes: Array(payload)).pixels == a.grayLevels(range: 0...1))
    }

    @Test("bar chart: one bar and one interval per value, well-formed")
    func barChart() throws {
        let chart = IntervalBarChart(title: "rates", seriesLabels: ["x", "y"], groups: [
            .init(label: "g1", bars: [.init(value: 0.5, low: 0.3, high: 0.7), .init(value: 0.9, low: 0.8, high: 1)]),
            .init(label: "g2\nline 2", bars: [.init(value: 0, low: 0, high: 0.1), .init(value: 1, low: 0.9, high: 1)]),
        ], yLabel: "rate", axis: 0...1)
        let counter = try ElementCounter.parse(chart.svg())
        // 4 bars + 2 legend swatches + the background.
        #expect(counter.counts["rect"] == 7)
    }

    @Test("line chart: one polyline per series, an error bar per interval, markers by kind, points where the values say")
    func lineChart() throws {
        let chart = LineChart(title: "rmse & more", series: [
            .init(label: "gaussian", points: [.init(x: 9, y: 1, interval: 0.8...1.2), .init(x: 25, y: 0.5, interval: 0.4...0.6), .init(x: 36, y: 0.25)]),
            .init(label: "laplace", points: [.init(x: 9, y: 2), .init(x: 36, y: 1)], marker: .cross, dashed: true),
            .init(label: "baseline", points: [.init(x: 9, y: 3)], marker: .triangle),
        ], xLabel: "samples", yLabel: "RMSE", xTicks: [9, 25, 36])
        let counter = try ElementCounter.parse(chart.svg())
        // Polylines for the series with two points or more (not the lone baseline point).
        #expect(counter.counts["polyline"] == 2 && counter.counts["polygon"] == 2)  // triangle: point + legend
        #expect(counter.counts["circle"] == 3 + 1)
        #expect(counter.attributes["polyline"]?.filter { $0["stroke-dasharray"] != nil }.count == 1)
        // y is linear from 0: the top of the first error bar lies above (smaller y than) the point.
        let circles = try #require(counter.attributes["circle"])
        let ys = circles.prefix(3).compactMap { Double($0["cy"] ?? "") }
        #expect(ys[0] < ys[1] && ys[1] < ys[2])  // y = 1, 0.5, 0.25 downwards on the page
        let xs = circles.prefix(3).compactMap { Double($0["cx"] ?? "") }
        #expect(xs[0] < xs[1] && xs[1] < xs[2] && abs((xs[1] - xs[0]) / (xs[2] - xs[0]) - 16.0 / 27) < 0.01)
        var logarithmic = chart
        logarithmic.logarithmicY = true
        #expect(logarithmic.usesLogarithmicAxis && logarithmic.svg().contains("(log scale)"))
        // An error bar reaching below 0 keeps the logarithmic axis and runs to its bottom.
        logarithmic.series.append(.init(label: "wide", points: [.init(x: 25, y: 0.5, interval: -1...2)]))
        let wide = try ElementCounter.parse(logarithmic.svg())
        // The plot area's bottom is at 420 − 48 = 372 (height minus the bottom margin).
        let bars = (wide.attributes["line"] ?? []).filter { $0["stroke-opacity"] != nil && $0["x1"] == $0["x2"] }
        #expect(logarithmic.usesLogarithmicAxis && bars.contains { $0["y1"] == "372" })
    }
}
