/// A grey image of real values (row-major, row 0 at the top) — a black box's output seen through
/// its 2-D `output_shape` — and its PNG encoding.
public struct GrayscaleImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// width × height values, row-major.
    public let values: [Double]

    /// `values` must hold width × height numbers.
    public init(width: Int, height: Int, values: [Double]) {
        precondition(width >= 1 && height >= 1 && values.count == width * height,
                     "a \(width)×\(height) image needs \(width * height) values, got \(values.count)")
        self.width = width
        self.height = height
        self.values = values
    }

    /// The display range shared by a set of images, so that equal values look equal in all of
    /// them: [0, 1] when every value lies there (images, probabilities), else [min, max] (a
    /// constant set gets a unit-wide range around its value). Non-finite values are ignored.
    public static func displayRange(of images: [GrayscaleImage]) -> ClosedRange<Double> {
        let finite = images.flatMap(\.values).filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max() else { return 0...1 }
        if low >= 0 && high <= 1 { return 0...1 }
        return low < high ? low...high : (low - 0.5)...(high + 0.5)
    }

    /// 8-bit grey levels: `range` mapped linearly onto 0…255, clamped; non-finite values are black.
    public func grayLevels(range: ClosedRange<Double>) -> [UInt8] {
        let span = range.upperBound - range.lowerBound
        return values.map { value in
            guard value.isFinite, span > 0 else { return 0 }
            let level = ((value - range.lowerBound) / span * 255).rounded()
            return UInt8(min(255, max(0, level)))
        }
    }

    /// Each pixel repeated `factor` × `factor` times (nearest neighbour), for small images.
    public func upscaled(by factor: Int) -> GrayscaleImage {
        precondition(factor >= 1, "the factor must be at least 1")
        guard factor > 1 else { return self }
        var scaled = [Double]()
        scaled.reserveCapacity(values.count * factor * factor)
        for row in 0..<height {
            let line = (0..<width).flatMap { column in repeatElement(values[row * width + column], count: factor) }
            for _ in 0..<factor { scaled += line }
        }
        return GrayscaleImage(width: width * factor, height: height * factor, values: scaled)
    }

    /// A grey PNG file of the image, with `range` mapped onto black…white.
    public func pngData(range: ClosedRange<Double>) throws -> [UInt8] {
        try PNGEncoder.encode(pixels: grayLevels(range: range), width: width, height: height, colorType: .gray)
    }
}
