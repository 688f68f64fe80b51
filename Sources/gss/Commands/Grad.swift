import ArgumentParser
import Glibc
import GSSCore
import GSSPlots

/// What `--wrt` may name besides x (whose Jacobian is always estimated).
enum DerivativeTarget: String, ExpressibleByArgument, CaseIterable {
    case x
    case scale
}

struct Grad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grad",
        abstract: "Estimate the smoothed value f_ε(x) = E[f(x + γε)] and its Jacobian, with standard errors.",
        discussion: """
            Extras: --wrt scale adds the derivative in γ (or in L with --scale-matrix); --covariance \
            adds the output covariance and its derivatives; --median K smooths a scalar black box by \
            the k-sample median instead of the mean.
            """)

    @OptionGroup var box: BlackBoxOptions
    @OptionGroup var smoothing: SmoothingOptions

    @Option(name: .customLong("wrt"),
            help: ArgumentHelp("Also differentiate with respect to 'scale' (γ, or L with --scale-matrix); 'x' is always included. Repeatable.", valueName: "x|scale"))
    var derivatives: [DerivativeTarget] = []

    @Flag(name: .customLong("covariance"), help: "Also estimate the output covariance G and ∂G/∂x (and ∂G/∂scale with --wrt scale).")
    var estimatesCovariance = false

    @Option(name: .customLong("median"), parsing: .unconditional,
            help: ArgumentHelp("k-sample median smoothing of a scalar black box instead of the mean (2 ≤ K ≤ --samples).", valueName: "K"),
            transform: NumberArgument.wholeNumber)
    var medianSampleCount: Int?

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    @Option(help: ArgumentHelp(
        "A folder for every estimated array as .npy (value.npy, jacobian.npy, their *_stderr.npy and the extras), and value.png and jacobian_x<j>.png when the output has a 2-D shape; written only when the run succeeds.",
        valueName: "DIR"))
    var out: String?

    @Flag(help: "No progress or notes on stderr.")
    var quiet = false

    func validate() throws {
        if let out { try PictureFolder.check(out) }
    }

    func run() throws {
        let opened = try box.open()
        let x = try opened.point(smoothing.point?.values)
        var configuration = try smoothing.configuration(for: opened)
        configuration.differentiatesScale = derivatives.contains(.scale)
        configuration.estimatesCovariance = estimatesCovariance
        configuration.medianSampleCount = medianSampleCount
        let (n, m) = (opened.blackBox.inputCount, opened.blackBox.outputCount)
        try smoothing.checkRequest(
            configuration, at: x, inputCount: n, outputCount: m,
            describedAs: "the estimate for \(opened.blackBox.displayName) (n = \(groupedDigits(n)) inputs, m = \(groupedDigits(m)) outputs)",
            advice: "use fewer inputs or outputs, or fewer --threads")
        let executor = try smoothing.executor()
        // The note comes with the first finished chunk: once the smoother has accepted the request.
        let progress = quiet || !executor.isCoordinator ? nil : ProgressReporter(
            command: "grad", unit: "samples", total: configuration.samples, silentFor: .seconds(1),
            preamble: smoothing.typicalScaleNote(of: opened))
        let smoother = Smoother(
            configuration: configuration, threads: smoothing.workerCount, progress: { done, _ in progress?.update(done: done) },
            executor: executor)
        let estimate: SmoothedEstimate
        do {
            defer { progress?.finish() }  // a failure's message starts on a line of its own
            estimate = try smoother.estimate(opened.blackBox, at: x)
        }
        Ranks.reportJournal()
        if let out, executor.isCoordinator {
            try PictureFolder.write(try Self.files(estimate, outputShape: opened.outputShape), to: out)
        }
        switch format {
        case .json: print(Self.json(estimate).text)
        case .text: Self.printText(estimate, x: x, configuration: configuration, scale: smoothing.scaleDescription(configuration))
        }
    }

    /// Every estimated array by CLI.md's key, each followed by its standard error: the value and
    /// the Jacobian always, the extras when they were asked for. The first axis is the output's.
    static func arrays(_ estimate: SmoothedEstimate) -> [(key: String, values: [Double], shape: [Int])] {
        let n = estimate.inputCount
        let m = estimate.outputCount
        var arrays: [(key: String, values: [Double], shape: [Int])] = []
        func add(_ key: String, _ values: [Double]?, _ stderr: [Double]?, shape: [Int]) {
            guard let values, let stderr else { return }
            arrays.append((key, values, shape))
            arrays.append((key + "_stderr", stderr, shape))
        }
        add("value", estimate.value, estimate.valueStderr, shape: [m])
        add("jacobian", estimate.jacobian, estimate.jacobianStderr, shape: [m, n])
        add("scale_gradient", estimate.scaleGradient, estimate.scaleGradientStderr, shape: [m, n])
        add("scale_matrix_gradient", estimate.scaleMatrixGradient, estimate.scaleMatrixGradientStderr, shape: [m, n, n])
        if let covariance = estimate.covariance {
            add("covariance", covariance.matrix, covariance.matrixStderr, shape: [m, m])
            add("covariance_gradient", covariance.gradient, covariance.gradientStderr, shape: [m, m, n])
            if estimate.scaleMatrixGradient != nil {
                add("covariance_scale_matrix_gradient", covariance.scaleGradient, covariance.scaleGradientStderr, shape: [m, m, n, n])
            } else {
                add("covariance_scale_gradient", covariance.scaleGradient, covariance.scaleGradientStderr, shape: [m, m, n])
            }
        }
        return arrays
    }

    /// The --out files: each array as KEY.npy with its output axis unfolded into the output's
    /// shape; for a 2-D output also value.png and one PNG per Jacobian column (mid grey is 0).
    static func files(_ estimate: SmoothedEstimate, outputShape: [Int]) throws -> [(name: String, bytes: [UInt8])] {
        let n = estimate.inputCount
        let m = estimate.outputCount
        let outputAxes = outputShape.reduce(1, *) == m ? outputShape : [m]
        var files = arrays(estimate).map { array in
            (name: array.key + ".npy", bytes: NumPyArray.bytes(array.values, shape: outputAxes + array.shape.dropFirst()))
        }
        guard outputAxes.count == 2 else { return files }
        let (height, width) = (outputAxes[0], outputAxes[1])
        let value = GrayscaleImage(width: width, height: height, values: estimate.value)
        files.append(("value.png", try value.pngData(range: GrayscaleImage.displayRange(of: [value]))))
        for j in 0..<n {
            let column = (0..<m).map { estimate.jacobian[$0 * n + j] }
            let largest = column.filter(\.isFinite).map(abs).max() ?? 0
            let range = largest > 0 ? -largest...largest : -1...1
            files.append(("jacobian_x\(j).png", try GrayscaleImage(width: width, height: height, values: column).pngData(range: range)))
        }
        return files
    }

    /// CLI.md's keys; the extra keys appear only when their estimate was asked for.
    static func json(_ estimate: SmoothedEstimate) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("n", .integer(estimate.inputCount)),
            ("m", .integer(estimate.outputCount)),
            ("samples", .integer(estimate.samples)),
            ("seed", .unsigned(estimate.seed)),
        ]
        if let k = estimate.medianSampleCount { members.append(("median", .integer(k))) }
        return .object(members + arrays(estimate).map { ($0.key, .tensor($0.values, shape: $0.shape)) })
    }

    static func printText(_ estimate: SmoothedEstimate, x: [Double], configuration: SmoothingConfiguration, scale: String) {
        let n = estimate.inputCount
        let m = estimate.outputCount
        let smoothing = estimate.medianSampleCount.map { "\($0)-sample median smoothing, " } ?? ""
        print("x = \(x.map { "\($0)" }.joined(separator: ","))")
        print("\(smoothing)\(configuration.distribution.rawValue) noise, \(scale), \(estimate.samples) samples, \(configuration.sampler.rawValue)\(configuration.antithetic ? " antithetic" : ""), covariate \(configuration.covariate.rawValue), seed \(estimate.seed)")
        print("")
        if m * (n + 1) <= tableLimit {
            print("   i  " + "value".leftPadded(10) + "  " + (0..<n).map { "∂/∂x\($0)".leftPadded(11) }.joined(separator: " "))
            for i in 0..<m {
                let row = (0..<n).map { j in String(cFormat: "%11.5f", estimate.jacobian[i * n + j]) }.joined(separator: " ")
                print("\(i)".leftPadded(4) + "  " + String(cFormat: "%10.5f", estimate.value[i]) + "  " + row)
            }
            print("")
        } else {
            printSummary(estimate)
        }
        print("largest standard error of a Jacobian entry: \(formatError(estimate.jacobianStderr))")
        if let gradient = estimate.scaleGradient, let stderr = estimate.scaleGradientStderr {
            printTensor("∂ value_i / ∂γ_j", gradient, stderr: stderr, shape: [m, n], labels: ["i", "j"])
        }
        if let gradient = estimate.scaleMatrixGradient, let stderr = estimate.scaleMatrixGradientStderr {
            printTensor("∂ value_i / ∂L_jk", gradient, stderr: stderr, shape: [m, n, n], labels: ["i", "j", "k"])
        }
        if let covariance = estimate.covariance {
            printTensor("output covariance G_ij", covariance.matrix, stderr: covariance.matrixStderr, shape: [m, m], labels: ["i", "j"])
            printTensor("∂G_ij / ∂x_k", covariance.gradient, stderr: covariance.gradientStderr, shape: [m, m, n], labels: ["i", "j", "k"])
            if let gradient = covariance.scaleGradient, let stderr = covariance.scaleGradientStderr {
                if estimate.scaleMatrixGradient != nil {
                    printTensor("∂G_ij / ∂L_kl", gradient, stderr: stderr, shape: [m, m, n, n], labels: ["i", "j", "k", "l"])
                } else {
                    printTensor("∂G_ij / ∂γ_k", gradient, stderr: stderr, shape: [m, m, n], labels: ["i", "j", "k"])
                }
            }
        }
    }

    /// Arrays of more numbers than this are summarised in the text format, not listed.
    static let tableLimit = 400

    /// The value and Jacobian of a large output: their ranges (per input for a few inputs).
    static func printSummary(_ estimate: SmoothedEstimate) {
        let n = estimate.inputCount
        let m = estimate.outputCount
        let finite = estimate.value.filter(\.isFinite)
        print(String(cFormat: "value (%d outputs): from %.5g to %.5g, mean %.5g; largest standard error ",
                     m, finite.min() ?? .nan, finite.max() ?? .nan, finite.reduce(0, +) / Double(max(1, finite.count)))
              + formatError(estimate.valueStderr))
        print(String(cFormat: "Jacobian (%d×%d): largest |entry| %.4g", m, n, estimate.jacobian.map(abs).max() ?? .nan))
        if n <= 16 {
            for j in 0..<n {
                print(String(cFormat: "  ∂/∂x%d: largest |entry| %.4g", j, (0..<m).map { abs(estimate.jacobian[$0 * n + j]) }.max() ?? .nan))
            }
        }
        print("(\(groupedDigits(m * (n + 1))) numbers: --format json or --out DIR gives every one)")
        print("")
    }

    /// A heading, then the array as blocks of its last two axes when it is small enough to read,
    /// else its size and largest entry; always the largest standard error.
    static func printTensor(_ title: String, _ values: [Double], stderr: [Double], shape: [Int], labels: [String]) {
        print("")
        print("\(title) (\(shape.map(String.init).joined(separator: "×")))")
        if values.count <= tableLimit {
            let columns = shape[shape.count - 1]
            let rows = shape[shape.count - 2]
            let blockSize = rows * columns
            let leading = labels.dropLast(2)
            let header = "  " + "".leftPadded(6) + (0..<columns).map { "\(labels.last!)=\($0)".leftPadded(11) }.joined(separator: " ")
            for block in 0..<(values.count / blockSize) {
                if !leading.isEmpty {
                    var remainder = block
                    var indices: [Int] = []
                    for extent in shape.dropLast(2).reversed() {
                        indices.insert(remainder % extent, at: 0)
                        remainder /= extent
                    }
                    print("  " + zip(leading, indices).map { "\($0)=\($1)" }.joined(separator: ", ") + ":")
                }
                print(header)
                for r in 0..<rows {
                    let row = (0..<columns).map { String(cFormat: "%11.5f", values[block * blockSize + r * columns + $0]) }
                    print("  " + "\(labels[labels.count - 2])=\(r)".leftPadded(6) + row.joined(separator: " "))
                }
            }
        } else {
            let largest = values.map(abs).max() ?? .nan
            print("  \(values.count) numbers, largest |entry| \(String(cFormat: "%.4g", largest)); use --format json or --out DIR for all of them")
        }
        print("  largest standard error: \(formatError(stderr))")
    }

    static func formatError(_ stderr: [Double]) -> String {
        String(cFormat: "%.2g", stderr.filter(\.isFinite).max() ?? .nan)
    }
}
