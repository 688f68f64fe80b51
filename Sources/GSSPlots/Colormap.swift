/// A sequential colour ramp: position 0 is the lightest colour, 1 the darkest.
public struct Colormap: Sendable {
    public let stops: [RGB]

    public init(stops: [RGB]) {
        precondition(stops.count >= 2, "a colour ramp needs two stops")
        self.stops = stops
    }

    /// ColorBrewer's 9-class "Blues" (light to dark): single hue, readable in grey scale.
    public static let blues = Colormap(
        stops: [0xF7FBFF, 0xDEEBF7, 0xC6DBEF, 0x9ECAE1, 0x6BAED6, 0x4292C6, 0x2171B5, 0x08519C, 0x08306B]
            .map { RGB(hex: $0) })

    /// The colour at `position` in [0, 1] (clamped), linearly interpolated between stops.
    public func color(at position: Double) -> RGB {
        let t = position.isFinite ? min(max(position, 0), 1) : 0
        let scaled = t * Double(stops.count - 1)
        let lower = min(Int(scaled), stops.count - 2)
        let fraction = scaled - Double(lower)
        let a = stops[lower]
        let b = stops[lower + 1]
        return RGB(
            red: a.red + (b.red - a.red) * fraction, green: a.green + (b.green - a.green) * fraction,
            blue: a.blue + (b.blue - a.blue) * fraction)
    }
}
