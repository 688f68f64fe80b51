import FoundationEssentials

/// Grey images laid out in a labelled grid, as one self-contained SVG document (each image an
/// embedded PNG, drawn with crisp pixels) — e.g. target, start and result of several runs.
public struct ImageGridFigure: Sendable {
    /// One cell: an image and the caption under it.
    public struct Cell: Sendable {
        public let image: GrayscaleImage
        public let caption: String

        public init(image: GrayscaleImage, caption: String) {
            self.image = image
            self.caption = caption
        }
    }

    public var title: String
    /// Column headings above the first row (may be empty).
    public var columnTitles: [String]
    /// Rows of cells; rows may differ in length.
    public var rows: [[Cell]]
    /// Screen pixels per image pixel.
    public var pixelSize: Double
    /// The grey range shared by every image (see `GrayscaleImage.displayRange`).
    public var range: ClosedRange<Double>

    public init(title: String, columnTitles: [String] = [], rows: [[Cell]], pixelSize: Double = 2, range: ClosedRange<Double>? = nil) {
        self.title = title
        self.columnTitles = columnTitles
        self.rows = rows
        self.pixelSize = pixelSize
        self.range = range ?? GrayscaleImage.displayRange(of: rows.flatMap { $0.map(\.image) })
    }

    /// The SVG document.
    /// - Throws: `PNGEncoder.EncodingError` when an image cannot be encoded.
    public func svg() throws -> String {
        let gap = 10.0, captionHeight = 16.0, titleHeight = 30.0
        let headingHeight = columnTitles.isEmpty ? 0.0 : 18.0
        let columns = max(columnTitles.count, rows.map(\.count).max() ?? 0)
        // Wide enough for a caption of about 20 characters under small images.
        let cellWidth = max(120, Double(rows.flatMap { $0.map(\.image.width) }.max() ?? 1) * pixelSize)
        let cellHeight = Double(rows.flatMap { $0.map(\.image.height) }.max() ?? 1) * pixelSize
        let width = max(gap + Double(columns) * (cellWidth + gap), Double(title.count) * 8 + 20)
        let height = titleHeight + headingHeight + Double(rows.count) * (cellHeight + captionHeight + gap) + gap
        var body: [String] = [SVGMarkup.text(title, x: width / 2, y: 20, anchor: "middle", size: 14, weight: "bold")]
        for (column, heading) in columnTitles.enumerated() {
            body.append(SVGMarkup.text(heading, x: gap + Double(column) * (cellWidth + gap) + cellWidth / 2,
                                       y: titleHeight + 12, anchor: "middle", weight: "bold"))
        }
        for (rowIndex, row) in rows.enumerated() {
            let y = titleHeight + headingHeight + Double(rowIndex) * (cellHeight + captionHeight + gap)
            for (column, cell) in row.enumerated() {
                let x = gap + Double(column) * (cellWidth + gap)
                let png = try cell.image.pngData(range: range)
                let w = Double(cell.image.width) * pixelSize
                let h = Double(cell.image.height) * pixelSize
                body.append("<image x=\"\(SVGMarkup.coordinate(x + (cellWidth - w) / 2))\" y=\"\(SVGMarkup.coordinate(y))\" width=\"\(SVGMarkup.coordinate(w))\" height=\"\(SVGMarkup.coordinate(h))\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,\(Data(png).base64EncodedString())\"/>")
                body.append(SVGMarkup.text(cell.caption, x: x + cellWidth / 2, y: y + cellHeight + 12, anchor: "middle", size: 10))
            }
        }
        return SVGMarkup.document(width: width, height: height, body: body)
    }
}
