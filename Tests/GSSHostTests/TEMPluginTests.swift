import Foundation
import GSSCore
import GSSHost
import GSSTestSupport
import Testing

/// The `tem` plugin's built-in engine (Plugins/TEM/tem_builtin.c): options and shapes, the
/// detector's Poisson statistics, the specimen shift, and the optics against hand-computed
/// wavelengths and interaction constants (through properties that hold only if they are right).
@Suite("The tem plugin's built-in micrograph")
struct TEMPluginTests {
    /// One instance with these options.
    static func micrograph(_ options: [(String, String)] = []) throws -> PluginBlackBox {
        try PluginBlackBox(library: try PluginLibrary.open(path: Products.bundled("tem")), options: options)
    }

    /// The images of `rows` (one evaluate call), each as an array.
    static func images(_ rows: [[Double]], _ options: [(String, String)] = []) throws -> [[Double]] {
        let box = try micrograph(options)
        let m = box.outputCount
        var y = [Double](repeating: .nan, count: rows.count * m)
        try box.makeEvaluators(count: 1)[0].evaluate(rows.flatMap { $0 }, rows: rows.count, into: &y)
        return (0..<rows.count).map { Array(y[($0 * m)..<(($0 + 1) * m)]) }
    }

    static func image(_ x: [Double], _ options: [(String, String)] = []) throws -> [Double] {
        try images([x], options)[0]
    }

    static func meanSquaredDifference(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(a.count)
    }

    // MARK: hand-computed electron optics (CODATA 2018), independent of the plugin's C

    static let planck = 6.62607015e-34, charge = 1.602176634e-19, mass = 9.1093837015e-31, light = 299792458.0

    /// Relativistic de Broglie wavelength in nm at `kilovolts`.
    static func wavelength(kilovolts: Double) -> Double {
        let energy = charge * kilovolts * 1e3
        return planck / (2 * mass * energy * (1 + energy / (2 * mass * light * light))).squareRoot() * 1e9
    }

    /// Interaction constant σ = 2π m e λ / h² in rad/(V·nm), with the relativistic mass.
    static func interactionConstant(kilovolts: Double) -> Double {
        let relativisticMass = mass * (1 + charge * kilovolts * 1e3 / (mass * light * light))
        return 2 * .pi * relativisticMass * charge * wavelength(kilovolts: kilovolts) * 1e-9 / (planck * planck) * 1e-9
    }

    /// Detector counts of the unscattered beam: dose (e/nm²) × pixel area (nm²).
    static func beamCounts(dose: Double = 5000, pixelNanometres: Double = 0.15) -> Double { dose * pixelNanometres * pixelNanometres }

    /// Noise-free, 64 × 64, with the optics reduced to what a test isolates (no envelopes).
    static let bareOptics: [(String, String)] = [
        ("size", "64"), ("noise", "off"), ("cond_ap_angle", "0"), ("energy_spread", "0"),
    ]

    // MARK: shapes and options

    @Test("400 × 400 by default with inputs (voltage, x) = (300, 0); size and params change the shape and the inputs")
    func shapesAndDefaults() throws {
        let standard = try Self.micrograph()
        #expect(standard.inputCount == 2 && standard.outputCount == 160_000)
        #expect(try standard.primary.outputShape() == [400, 400])
        #expect(standard.primary.defaultInput() == [300, 0])

        let small = try Self.micrograph([("size", "64"), ("params", "voltage,focal_length,x,y")])
        #expect(small.inputCount == 4 && small.outputCount == 64 * 64)
        #expect(try small.primary.outputShape() == [64, 64])
        #expect(small.primary.defaultInput() == [300, 3, 0, 0])

        let fromOptions = try Self.micrograph([("params", "y,voltage"), ("voltage", "200"), ("y", "1.5"), ("size", "16")])
        #expect(fromOptions.primary.defaultInput() == [1.5, 200])
    }

    @Test("bad options are refused with a message naming them", arguments: [
        ([("size", "8")], "size='8'"),
        ([("params", "voltage,voltage")], "params='voltage,voltage'"),
        ([("params", "voltage,z")], "params='voltage,z'"),
        ([("params", "")], "params=''"),
        ([("noise", "maybe")], "noise='maybe'"),
        ([("rod_length", "0")], "rod_length='0'"),
        ([("magnification", "100"), ("pixel_size", "5")], "50 nm per pixel"),
        ([("simulator", "/bin/true")], "simulator applies only to engine=external"),
        ([("colour", "red")], "unknown option 'colour'"),
    ])
    func badOptions(options: [(String, String)], phrase: String) throws {
        #expect {
            _ = try Self.micrograph(options)
        } throws: { error in
            guard let error = error as? PluginError else { return false }
            return error.code == .createFailed && error.message.contains(phrase)
        }
    }

    @Test("params picks the row's inputs in its order; the others come from the options")
    func parameterSelection() throws {
        let small: [(String, String)] = [("size", "48"), ("noise", "off")]
        let all = try Self.image([250, 2.5, 0.6, -0.9], small + [("params", "voltage,focal_length,x,y")])
        let reordered = try Self.image([-0.9, 250, 0.6], small + [("params", "y,voltage,x"), ("focal_length", "2.5")])
        #expect(reordered == all)
        let fromOptions = try Self.image([0.6], small + [("params", "x"), ("voltage", "250"), ("focal_length", "2.5"), ("y", "-0.9")])
        #expect(fromOptions == all)
        // And the options' values matter: another focal length gives another image.
        let other = try Self.image([0.6], small + [("params", "x"), ("voltage", "250"), ("focal_length", "4"), ("y", "-0.9")])
        #expect(other != all)
    }

    @Test("voltage is clamped to [1, 10000] kV and the focal length to at least 0.01 mm before use")
    func clampRule() throws {
        let options: [(String, String)] = [("size", "32"), ("noise", "off"), ("params", "voltage,focal_length")]
        let rows = [[-50.0, 3], [0, 3], [1, 3], [2, 3], [20_000, 3], [10_000, 3], [300, -1], [300, 0], [300, 0.01], [300, 0.02]]
        let y = try Self.images(rows, options)
        #expect(y[0] == y[2] && y[1] == y[2] && y[3] != y[2])
        #expect(y[4] == y[5])
        #expect(y[6] == y[8] && y[7] == y[8])
        // Below 0.01 mm the aperture passes everything anyway; the clamp is what keeps it finite.
        #expect(y[8].allSatisfy { $0.isFinite })
    }

    @Test("a non-finite input fails its row with GSS_E_EVALUATION and NaN; the other rows are computed")
    func nonFiniteInput() throws {
        let box = try Self.micrograph([("size", "16")])
        var y = [Double](repeating: 0, count: 3 * 256)
        #expect {
            try box.makeEvaluators(count: 1)[0].evaluate([300, 0, .nan, 0, 300, 1], rows: 3, into: &y)
        } throws: { error in
            (error as? PluginError)?.code == .evaluationFailed && "\(error)".contains("row 1 has a non-finite input")
        }
        #expect(y[256..<512].allSatisfy { $0.isNaN })
        #expect(y[0..<256].allSatisfy { $0.isFinite } && y[512...].allSatisfy { $0.isFinite })
    }

    // MARK: detector

    @Test("the noise is a function of noise_seed and the row: equal seeds and rows give equal images, batching does not matter")
    func noiseDeterminism() throws {
        let options: [(String, String)] = [("size", "64"), ("noise_seed", "7")]
        let rows = [[300.0, 0], [250, 1], [300, 0]]
        let batch = try Self.images(rows, options)
        #expect(batch[0] == batch[2])
        for (row, expected) in zip(rows, batch) { #expect(try Self.image(row, options) == expected) }
        let otherSeed = try Self.image(rows[0], [("size", "64"), ("noise_seed", "8")])
        #expect(otherSeed != batch[0])
        // Two seeds' images differ like independent Poisson draws: most pixels differ.
        let differing = zip(otherSeed, batch[0]).filter { $0 != $1 }.count
        #expect(differing > 64 * 64 * 3 / 4)
    }

    @Test("noise=off is dose × pixel area × intensity: the beam far from the rod, linear in the dose")
    func expectedIntensity() throws {
        let expected = try Self.image([300, 0], [("noise", "off")])
        let beam = Self.beamCounts()
        // The rod (18 nm wide) sits in the middle of the 60 nm field: the outer 40 columns on each
        // side are 6 nm from it, where only the CTF's delocalised ripples reach.
        var border: [Double] = []
        for row in 0..<400 {
            for column in Array(0..<40) + Array(360..<400) { border.append(expected[row * 400 + column]) }
        }
        let borderMean = border.reduce(0, +) / Double(border.count)
        #expect(abs(borderMean - beam) < 0.01 * beam, "border mean \(borderMean), beam \(beam)")
        #expect(expected.allSatisfy { $0 >= 0 })
        // The specimen is visible: the rod's columns vary far more than the border.
        let centre = (0..<400).flatMap { row in (180..<220).map { expected[row * 400 + $0] } }
        func spread(_ v: [Double]) -> Double {
            let mean = v.reduce(0, +) / Double(v.count)
            return (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count)).squareRoot()
        }
        #expect(spread(centre) > 5 * spread(border))
        let doubled = try Self.image([300, 0], [("noise", "off"), ("dose", "10000")])
        let worst = zip(doubled, expected).map { abs($0 - 2 * $1) / (2 * $1) }.max()!
        #expect(worst < 1e-12)
    }

    /// Pooled checks that counts k are Poisson(μ) around the noise-free image μ: integers ≥ 0, the
    /// mean of k − μ is 0 and the mean of (k − μ)² − μ is 0, each within 5 standard errors
    /// (Var(k − μ) = μ, Var((k − μ)²) = μ + 2μ² for a Poisson count).
    func checkPoisson(dose: Double) throws {
        let options: [(String, String)] = [("dose", "\(dose)"), ("size", "200"), ("noise_seed", "11")]
        let mean = try Self.image([300, 0], options + [("noise", "off")])
        let counts = try Self.image([300, 0], options)
        #expect(counts.allSatisfy { $0 >= 0 && $0 == $0.rounded() })
        var first = 0.0, second = 0.0, firstVariance = 0.0, secondVariance = 0.0
        for (k, mu) in zip(counts, mean) {
            first += k - mu
            second += (k - mu) * (k - mu) - mu
            firstVariance += mu
            secondVariance += mu + 2 * mu * mu
        }
        let meanZ = first / firstVariance.squareRoot(), varianceZ = second / secondVariance.squareRoot()
        #expect(abs(meanZ) < 5, "mean of k − μ is \(meanZ) standard errors from 0 at dose \(dose)")
        #expect(abs(varianceZ) < 5, "variance − mean is \(varianceZ) standard errors from 0 at dose \(dose)")
    }

    @Test("shot noise is Poisson: mean ≈ expected counts, variance ≈ mean, at ~110 counts per pixel (transformed rejection)")
    func poissonManyCounts() throws { try checkPoisson(dose: 5000) }

    @Test("shot noise is Poisson at ~2 counts per pixel (inversion), where empty pixels are common")
    func poissonFewCounts() throws {
        try checkPoisson(dose: 100)
        // P(k = 0) = e^−μ per pixel: the number of empty pixels matches Σ e^−μ within 5 standard errors.
        let options: [(String, String)] = [("dose", "100"), ("size", "200"), ("noise_seed", "12")]
        let mean = try Self.image([300, 0], options + [("noise", "off")])
        let counts = try Self.image([300, 0], options)
        let expectedZeros = mean.map { exp(-$0) }.reduce(0, +)
        let variance = mean.map { exp(-$0) * (1 - exp(-$0)) }.reduce(0, +)
        let zeros = Double(counts.filter { $0 == 0 }.count)
        #expect(abs(zeros - expectedZeros) < 5 * variance.squareRoot(), "\(zeros) empty pixels, expected \(expectedZeros)")
    }

    // MARK: specimen position

    @Test("x moves the image right by x / pixel size columns, y down by y / pixel size rows")
    func shiftByWholePixels() throws {
        let options: [(String, String)] = [("noise", "off"), ("params", "x,y")]
        let pixel = 0.15
        let y = try Self.images([[0, 0], [7 * pixel, 0], [0, -4 * pixel]], options)
        var worst = 0.0
        for row in 0..<400 {
            for column in 7..<400 { worst = max(worst, abs(y[1][row * 400 + column] - y[0][row * 400 + column - 7])) }
        }
        for row in 0..<396 {
            for column in 0..<400 { worst = max(worst, abs(y[2][row * 400 + column] - y[0][(row + 4) * 400 + column])) }
        }
        #expect(worst < 1e-9 * Self.beamCounts(), "largest difference from the shifted image: \(worst) counts")
        #expect(y[1] != y[0])
    }

    @Test("a fractional shift puts the cross-correlation peak at x / pixel size")
    func shiftByCrossCorrelation() throws {
        let options: [(String, String)] = [("noise", "off"), ("params", "x"), ("magnification", "25000"), ("size", "200")]
        let pixel = 0.3
        let shift = 1.0  // 3.33 pixels
        let y = try Self.images([[0], [shift]], options)
        func centred(_ v: [Double]) -> [Double] {
            let mean = v.reduce(0, +) / Double(v.count)
            return v.map { $0 - mean }
        }
        let (a, b) = (centred(y[0]), centred(y[1]))
        // Correlation of b with a moved right by d columns, over the columns both cover.
        func correlation(_ d: Int) -> Double {
            var sum = 0.0
            for row in 0..<200 {
                for column in 10..<190 { sum += b[row * 200 + column] * a[row * 200 + column - d] }
            }
            return sum
        }
        let values = (0...8).map(correlation)
        let peak = values.indices.max { values[$0] < values[$1] }!
        #expect(peak == 3)
        // A parabola through the peak and its neighbours locates it to a fraction of a pixel.
        let (left, centre, right) = (values[peak - 1], values[peak], values[peak + 1])
        let refined = Double(peak) + 0.5 * (left - right) / (left - 2 * centre + right)
        #expect(abs(refined - shift / pixel) < 0.2, "peak at \(refined) pixels, shift \(shift / pixel)")
    }

    // MARK: electron optics

    @Test("the hand-computed wavelength is 1.9687 pm at 300 kV and 3.7014 pm at 100 kV (the references for the tests below)")
    func wavelengthReference() {
        #expect(abs(Self.wavelength(kilovolts: 300) - 1.9687e-3) < 1e-7)
        #expect(abs(Self.wavelength(kilovolts: 100) - 3.7014e-3) < 1e-7)
        // σ at 300 kV: 6.526e-4 rad/(V·Å) in Kirkland's table, i.e. 6.526e-3 rad/(V·nm).
        #expect(abs(Self.interactionConstant(kilovolts: 300) - 6.526e-3) < 1e-6)
    }

    /// (counts − beam) / (beam · σ(V)): the image's contrast per unit interaction constant.
    static func contrastPerSigma(kilovolts: Double, focalLength: Double, _ options: [(String, String)]) throws -> [Double] {
        let y = try image([kilovolts, focalLength], bareOptics + [("params", "voltage,focal_length")] + options)
        let beam = beamCounts()
        return y.map { ($0 - beam) / (beam * interactionConstant(kilovolts: kilovolts)) }
    }

    static func largestRelativeDifference(_ a: [Double], _ b: [Double]) -> Double {
        let scale = a.map(abs).max()!
        return zip(a, b).map { abs($0 - $1) }.max()! / scale
    }

    @Test("with the aperture open and no aberrations, contrast is amplitude contrast × σ(V): the ratio at 100 and 300 kV is σ(100)/σ(300)")
    func interactionConstantScaling() throws {
        let flat: [(String, String)] = [("defocus", "0"), ("cs", "0"), ("amplitude_contrast", "0.5")]
        let low = try Self.contrastPerSigma(kilovolts: 100, focalLength: 0.01, flat)
        let high = try Self.contrastPerSigma(kilovolts: 300, focalLength: 0.01, flat)
        #expect(Self.largestRelativeDifference(low, high) < 1e-9)
        #expect(low.map(abs).max()! > 1)  // there is contrast to compare
    }

    @Test("the aperture cut-off is (aperture/2)/(λ·focal length): equal λ·f gives equal images per σ, 5% off does not")
    func apertureCutOff() throws {
        let flat: [(String, String)] = [("defocus", "0"), ("cs", "0"), ("amplitude_contrast", "0.5"), ("aperture", "4")]
        let ratio = Self.wavelength(kilovolts: 300) / Self.wavelength(kilovolts: 100)
        let reference = try Self.contrastPerSigma(kilovolts: 300, focalLength: 3, flat)
        let same = try Self.contrastPerSigma(kilovolts: 100, focalLength: 3 * ratio, flat)
        let off = try Self.contrastPerSigma(kilovolts: 100, focalLength: 3 * ratio * 1.05, flat)
        #expect(Self.largestRelativeDifference(reference, same) < 1e-9)
        #expect(Self.largestRelativeDifference(reference, off) > 1e-3)
    }

    /// The power of a square image (Hann-windowed, mean removed) in the band of spatial
    /// frequencies low..<high (1/nm), from a separable discrete Fourier transform.
    static func bandPower(_ image: [Double], size: Int, pixel: Double, from low: Double, to high: Double) -> Double {
        let mean = image.reduce(0, +) / Double(image.count)
        let window = (0..<size).map { 0.5 - 0.5 * cos(2 * .pi * Double($0) / Double(size)) }
        let windowed = (0..<(size * size)).map { (image[$0] - mean) * window[$0 / size] * window[$0 % size] }
        let cosines = (0..<size).map { k in (0..<size).map { cos(2 * .pi * Double(k * $0 % size) / Double(size)) } }
        let sines = (0..<size).map { k in (0..<size).map { -sin(2 * .pi * Double(k * $0 % size) / Double(size)) } }
        // Transform the rows, then the columns.
        var re = [Double](repeating: 0, count: size * size), im = re
        for row in 0..<size {
            for k in 0..<size {
                var a = 0.0, b = 0.0
                for column in 0..<size {
                    a += windowed[row * size + column] * cosines[k][column]
                    b += windowed[row * size + column] * sines[k][column]
                }
                re[row * size + k] = a
                im[row * size + k] = b
            }
        }
        var power = 0.0
        for kx in 0..<size {
            for ky in 0..<size {
                let fx = Double(kx <= size / 2 ? kx : kx - size), fy = Double(ky <= size / 2 ? ky : ky - size)
                let s = (fx * fx + fy * fy).squareRoot() / (Double(size) * pixel)
                guard s >= low && s < high else { continue }
                var a = 0.0, b = 0.0
                for row in 0..<size {
                    let (c, d) = (cosines[ky][row], sines[ky][row])
                    a += re[row * size + kx] * c - im[row * size + kx] * d
                    b += re[row * size + kx] * d + im[row * size + kx] * c
                }
                power += a * a + b * b
            }
        }
        return power
    }

    @Test("nothing passes beyond the cut-off (aperture/2)/(λ·f): 0.339 nm⁻¹ for a 4 µm aperture at 300 kV and 3 mm")
    func apertureCutOffValue() throws {
        let cutOff = 2e3 / (Self.wavelength(kilovolts: 300) * 3e6)
        #expect(abs(cutOff - 0.3386) < 1e-4)
        func powers(aperture: Double) throws -> (inside: Double, outside: Double) {
            let y = try Self.image([300, 0], [("size", "128"), ("noise", "off"), ("defocus", "2"), ("aperture", "\(aperture)")])
            return (Self.bandPower(y, size: 128, pixel: 0.15, from: 0.5 * cutOff, to: 0.9 * cutOff),
                    Self.bandPower(y, size: 128, pixel: 0.15, from: 1.6 * cutOff, to: 3 * cutOff))
        }
        let narrow = try powers(aperture: 4)
        #expect(narrow.outside < 1e-3 * narrow.inside, "power beyond the cut-off: \(narrow.outside / narrow.inside) of the power below")
        // The measurement sees power there when the aperture lets it through.
        let wide = try powers(aperture: 12)
        #expect(wide.outside > 0.1 * wide.inside)
    }

    @Test("the wave aberration is π λ Δf s² − (π/2) Cs λ³ s⁴: scaling Δf by λ and Cs by λ³ keeps the image per σ")
    func waveAberrationScaling() throws {
        let ratio = Self.wavelength(kilovolts: 300) / Self.wavelength(kilovolts: 100)
        let reference = try Self.contrastPerSigma(kilovolts: 300, focalLength: 3, [("defocus", "1"), ("cs", "2.7")])
        let scaled = try Self.contrastPerSigma(
            kilovolts: 100, focalLength: 3 * ratio, [("defocus", "\(ratio)"), ("cs", "\(2.7 * ratio * ratio * ratio)")])
        let defocusOnly = try Self.contrastPerSigma(kilovolts: 100, focalLength: 3 * ratio, [("defocus", "\(ratio)"), ("cs", "2.7")])
        #expect(Self.largestRelativeDifference(reference, scaled) < 1e-9)
        #expect(Self.largestRelativeDifference(reference, defocusOnly) > 1e-3)
    }

    @Test("a pure phase object in focus without aberrations is invisible; defocus makes it visible")
    func phaseContrastNeedsDefocus() throws {
        let phaseOnly: [(String, String)] = [("amplitude_contrast", "0"), ("cs", "0")]
        let focused = try Self.image([300, 0], Self.bareOptics + phaseOnly + [("defocus", "0")])
        let beam = Self.beamCounts()
        #expect(focused.map { abs($0 - beam) }.max()! < 1e-9 * beam)
        let defocused = try Self.image([300, 0], Self.bareOptics + phaseOnly + [("defocus", "1")])
        #expect(defocused.map { abs($0 - beam) }.max()! > 0.05 * beam)
    }

    @Test("the envelopes damp contrast: more energy spread or a wider illumination angle, less image variance")
    func envelopesDampContrast() throws {
        func variance(_ options: [(String, String)]) throws -> Double {
            let y = try Self.image([300, 0], [("size", "64"), ("noise", "off"), ("aperture", "100")] + options)
            let mean = y.reduce(0, +) / Double(y.count)
            return y.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        }
        let spreads = try [0.0, 0.7, 3].map { try variance([("cond_ap_angle", "0"), ("energy_spread", "\($0)")]) }
        let angles = try [0.0, 0.2, 1].map { try variance([("energy_spread", "0"), ("cond_ap_angle", "\($0)")]) }
        #expect(spreads[0] > spreads[1] && spreads[1] > spreads[2], "\(spreads)")
        #expect(angles[0] > angles[1] && angles[1] > angles[2], "\(angles)")
    }

    @Test("the image changes smoothly but visibly with voltage: the noise-free difference grows with the voltage step")
    func voltageSensitivity() throws {
        let y = try Self.images([[300, 0], [301, 0], [310, 0], [350, 0]], [("noise", "off"), ("size", "200"), ("magnification", "25000")])
        let steps = y.dropFirst().map { Self.meanSquaredDifference($0, y[0]) }
        #expect(steps[0] > 0 && steps[0] < steps[1] && steps[1] < steps[2], "\(steps)")
        // 1 kV changes the image far less than 10 kV: no jump at this scale.
        #expect(steps[0] < steps[1] / 20, "\(steps)")
    }
}
