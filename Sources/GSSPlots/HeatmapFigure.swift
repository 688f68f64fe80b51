import Glibc

/// One heat-map table: rows × columns of values, darker for smaller values, the numbers printed
/// in the cells. Colours are scaled to this panel's own range (log scale when all values are
/// positive), so they are comparable within a panel, not across panels.
public struct HeatmapPanel: Sendable {
    public var title: String
    public var rowLabels: [String]
    /// One label per column; a "\n" splits it over two lines.
    public var columnLabels: [String]
    /// Consecutive column groups drawn with a gap between them and a label above, e.g.
    /// ("regular", 5), ("antithetic", 5). Empty: one group without a label.
    public var columnGroups: [(label: String, count: Int)]
    /// values[row][column]; nil marks a cell without a value (drawn grey with a dash).
    public var values: [[Double?]]

    public init(
        title: String, rowLabels: [String], columnLabels: [String],
        columnGroups: [(label: String, count: Int)] = [], values: [[Double?]]
    ) {
        precondition(values.count == rowLabels.count, "one row of values per row label")
        precondition(values.allSatisfy { $0.count == columnLabels.count }, "one value per column label")
        precondition(
            columnGroups.isEmpty || columnGroups.reduce(0) { $0 + $1.count } == columnLabels.count,
            "column groups must cover every column")
        self.title = title
        self.rowLabels = rowLabels
        self.columnLabels = columnLabels
        self.columnGroups = columnGroups
        self.values = values
    }

    /// Where each value sits on the panel's colour ramp: 1 for the smallest (darkest), 0 for the largest.
    public func darkness(of value: Double) -> Double {
        let present = values.flatMap { $0 }.compactMap { $0 }.filter(\.isFinite)
        guard let low = present.min(), let high = present.max(), high > low else { return 1 }
        if low > 0 {
            return (log(high) - log(value)) / (log(high) - log(low))
        }
        return (high - value) / (high - low)
    }
}

/// Heat-map panels in titled sections (e.g. one section per problem size), wrapped into rows of
/// `panelsPerRow` panels, as one SVG document.
public struct HeatmapFigure: Sendable {
    public var title: String
    /// Lines of small print under the title (what is plotted, how to read the colours).
    public var notes: [String]
    public var sections: [(title: String, panels: [HeatmapPanel])]
    public var panelsPerRow: Int
    public var colormap: Colormap = .blues
    public var cellWidth: Double = 52
    public var cellHeight: Double = 22
    public var fontSize: Double = 10

    public init(title: String, notes: [String] = [], sections: [(title: String, panels: [HeatmapPanel])], panelsPerRow: Int = 2) {
        self.title = title
        self.notes = notes
        self.sections = sections
        self.panelsPerRow = max(1, panelsPerRow)
    }

    private let margin: Double = 16
    private let groupGap: Double = 10
    private let panelGap: Double = 26

    private var rowLabelWidth: Double { fontSize * 4.2 }

    private func panelWidth(_ panel: HeatmapPanel) -> Double {
        let gaps = Double(max(0, panel.columnGroups.count - 1)) * groupGap
        return rowLabelWidth + Double(panel.columnLabels.count) * cellWidth + gaps
    }

    private func panelHeight(_ panel: HeatmapPanel) -> Double {
        // Title, group labels, two lines of column labels, then the cells.
        fontSize * 1.6 + (panel.columnGroups.isEmpty ? 0 : fontSize * 1.4) + fontSize * 2.4
            + Double(panel.rowLabels.count) * cellHeight
    }

    /// The document, sized to fit every section.
    public func renderSVG() -> String {
        let allPanels = sections.flatMap(\.panels)
        let widest = allPanels.map(panelWidth).max() ?? 200
        let tallest = allPanels.map(panelHeight).max() ?? 100
        let columns = min(panelsPerRow, max(1, sections.map(\.panels.count).max() ?? 1))
        // Text widths are estimated (about 0.55 em per character): enough to keep notes inside.
        let textWidth = ([title].map { Double($0.count) * fontSize * 1.5 * 0.6 } + notes.map { Double($0.count) * fontSize * 0.55 }).max() ?? 0
        let width = 2 * margin + max(Double(columns) * widest + Double(columns - 1) * panelGap, textWidth)
        let headerHeight = fontSize * 2.2 + Double(notes.count) * fontSize * 1.4 + fontSize * 0.6
        let sectionTitleHeight = fontSize * 2.2
        var height = margin + headerHeight
        for section in sections {
            let rows = (section.panels.count + columns - 1) / columns
            height += sectionTitleHeight + Double(rows) * (tallest + panelGap)
        }
        height += margin

        var canvas = SVGCanvas(width: width, height: height)
        var y = margin + fontSize * 1.4
        canvas.text(title, x: margin, y: y, size: fontSize * 1.5, bold: true)
        y += fontSize * 0.8
        for note in notes {
            y += fontSize * 1.4
            canvas.text(note, x: margin, y: y, size: fontSize, fill: .gray)
        }
        y = margin + headerHeight
        for section in sections {
            y += sectionTitleHeight
            canvas.text(section.title, x: margin, y: y - fontSize * 0.7, size: fontSize * 1.3, bold: true)
            for (index, panel) in section.panels.enumerated() {
                let column = index % columns
                let row = index / columns
                draw(
                    panel, on: &canvas, x: margin + Double(column) * (widest + panelGap),
                    y: y + Double(row) * (tallest + panelGap))
            }
            y += Double((section.panels.count + columns - 1) / columns) * (tallest + panelGap)
        }
        return canvas.render()
    }

    private func draw(_ panel: HeatmapPanel, on canvas: inout SVGCanvas, x: Double, y: Double) {
        var top = y + fontSize * 1.2
        canvas.text(panel.title, x: x + rowLabelWidth, y: top, size: fontSize * 1.15, bold: true)
        top += fontSize * 0.4
        // Column x positions, with a gap after every group.
        var columnX: [Double] = []
        var groupStarts: [(label: String, x: Double, width: Double)] = []
        var cursor = x + rowLabelWidth
        let groups = panel.columnGroups.isEmpty ? [(label: "", count: panel.columnLabels.count)] : panel.columnGroups
        for group in groups {
            groupStarts.append((group.label, cursor, Double(group.count) * cellWidth))
            for _ in 0..<group.count {
                columnX.append(cursor)
                cursor += cellWidth
            }
            cursor += groupGap
        }
        if !panel.columnGroups.isEmpty {
            top += fontSize * 1.3
            for group in groupStarts {
                canvas.text(group.label, x: group.x + group.width / 2, y: top, size: fontSize, anchor: .middle, bold: true)
                canvas.line(
                    x1: group.x + 2, y1: top + fontSize * 0.35, x2: group.x + group.width - 2, y2: top + fontSize * 0.35,
                    stroke: .gray, width: 0.8)
            }
        }
        top += fontSize * 0.3
        for (column, label) in panel.columnLabels.enumerated() {
            let lines = label.split(separator: "\n", omittingEmptySubsequences: false)
            for (k, line) in lines.enumerated() {
                canvas.text(
                    String(line), x: columnX[column] + cellWidth / 2, y: top + fontSize * (1.1 + Double(k) * 1.1),
                    size: fontSize * 0.9, anchor: .middle)
            }
        }
        top += fontSize * 2.4
        for (row, label) in panel.rowLabels.enumerated() {
            let cellY = top + Double(row) * cellHeight
            canvas.text(
                label, x: x + rowLabelWidth - 5, y: cellY + cellHeight / 2 + fontSize * 0.35, size: fontSize, anchor: .end)
            for column in panel.columnLabels.indices {
                let cellX = columnX[column]
                let centreX = cellX + cellWidth / 2
                let baseline = cellY + cellHeight / 2 + fontSize * 0.35
                if let value = panel.values[row][column], value.isFinite {
                    let fill = colormap.color(at: panel.darkness(of: value))
                    canvas.rect(
                        x: cellX, y: cellY, width: cellWidth, height: cellHeight, fill: fill, stroke: .white,
                        strokeWidth: 1, title: "\(label), \(panel.columnLabels[column].split(separator: "\n", omittingEmptySubsequences: false).joined(separator: " ")): \(value)")
                    canvas.text(
                        formatSignificant(value), x: centreX, y: baseline, size: fontSize * 0.95, anchor: .middle,
                        fill: fill.contrastingText)
                } else {
                    canvas.rect(x: cellX, y: cellY, width: cellWidth, height: cellHeight, fill: .lightGray, stroke: .white)
                    canvas.text("—", x: centreX, y: baseline, size: fontSize, anchor: .middle, fill: .gray)
                }
            }
        }
    }
}

/// A number with `digits` significant digits, fixed-point between 1e-3 and 1e5, else scientific.
public func formatSignificant(_ value: Double, digits: Int = 3) -> String {
    guard value.isFinite else { return "\(value)" }
    if value == 0 { return "0" }
    let magnitude = abs(value)
    if magnitude >= 1e-3 && magnitude < 1e5 {
        let exponent = Int(floor(log10(magnitude)))
        let decimals = max(0, digits - 1 - exponent)
        return String(cFormat: "%.\(decimals)f", value)
    }
    return String(cFormat: "%.\(digits - 1)e", value)
}
