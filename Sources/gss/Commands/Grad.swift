import ArgumentParser
import Foundation
import GSSCore

/// What `--wrt` may name besides x (whose Jacobian is always estimated).
enum DerivativeTarget: String, ExpressibleByArgument, CaseIterable {
    case x
    case scale
}

struct Grad: ParsableCommand {
    static let configuration = CommandConfiguration(
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

    func run() throws {
        let opened = try box.open()
        let x = try opened.point(smoothing.point?.values)
        var configuration = try smoothing.configuration(inputCount: opened.blackBox.inputCount)
        configuration.differentiatesScale = derivatives.contains(.scale)
        configuration.estimatesCovariance = estimatesCovariance
        configuration.medianSampleCount = medianSampleCount
        let (n, m) = (opened.blackBox.inputCount, opened.blackBox.outputCount)
        try smoothing.checkRequest(
            configuration, at: x, inputCount: n, outputCount: m,
            describedAs: "the estimate for \(opened.blackBox.displayName) (n = \(groupedDigits(n)) inputs, m = \(groupedDigits(m)) outputs)",
            advice: "use fewer inputs or outputs, or fewer --threads")
        let executor = try smoothing.executor()
        var smoother = Smoother(configuration: configuration, threads: smoothing.workerCount, executor: executor)
        if executor.processCount > 1 && executor.isCoordinator {
            let progress = SampleProgress(label: "gss grad")
            smoother.progress = { progress.update(done: $0, total: $1) }
        }
        let estimate = try smoother.estimate(opened.blackBox, at: x)
        Ranks.reportJournal()
        switch format {
        case .json: print(Self.json(estimate).text)
        case .text: Self.printText(estimate, x: x, configuration: configuration, scale: smoothing.scaleDescription)
        }
    }

    /// CLI.md's keys; the extra keys appear only when their estimate was asked for.
    static func json(_ estimate: SmoothedEstimate) -> JSONValue {
        let n = estimate.inputCount
        let m = estimate.outputCount
        var members: [(String, JSONValue)] = [
            ("n", .integer(n)),
            ("m", .integer(m)),
            ("samples", .integer(estimate.samples)),
            ("seed", .unsigned(estimate.seed)),
        ]
        if let k = estimate.medianSampleCount { members.append(("median", .integer(k))) }
        members += [
            ("value", .numbers(estimate.value)),
            ("value_stderr", .numbers(estimate.valueStderr)),
            ("jacobian", .matrix(estimate.jacobian, columns: n)),
            ("jacobian_stderr", .matrix(estimate.jacobianStderr, columns: n)),
        ]
        func add(_ key: String, _ values: [Double]?, _ stderr: [Double]?, shape: [Int]) {
            guard let values, let stderr else { return }
            members.append((key, .tensor(values, shape: shape)))
            members.append((key + "_stderr", .tensor(stderr, shape: shape)))
        }
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
        return .object(members)
    }

    static func printText(_ estimate: SmoothedEstimate, x: [Double], configuration: SmoothingConfiguration, scale: String) {
        let n = estimate.inputCount
        let m = estimate.outputCount
        let smoothing = estimate.medianSampleCount.map { "\($0)-sample median smoothing, " } ?? ""
        print("x = \(x.map { "\($0)" }.joined(separator: ","))")
        print("\(smoothing)\(configuration.distribution.rawValue) noise, \(scale), \(estimate.samples) samples, \(configuration.sampler.rawValue)\(configuration.antithetic ? " antithetic" : ""), covariate \(configuration.covariate.rawValue), seed \(estimate.seed)")
        print("")
        print("   i  " + "value".leftPadded(10) + "  " + (0..<n).map { "∂/∂x\($0)".leftPadded(11) }.joined(separator: " "))
        for i in 0..<m {
            let row = (0..<n).map { j in String(format: "%11.5f", estimate.jacobian[i * n + j]) }.joined(separator: " ")
            print("\(i)".leftPadded(4) + "  " + String(format: "%10.5f", estimate.value[i]) + "  " + row)
        }
        print("")
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

    /// A heading, then the array as blocks of its last two axes when it is small enough to read,
    /// else its size and largest entry; always the largest standard error.
    static func printTensor(_ title: String, _ values: [Double], stderr: [Double], shape: [Int], labels: [String]) {
        print("")
        print("\(title) (\(shape.map(String.init).joined(separator: "×")))")
        if values.count <= 400 {
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
                    let row = (0..<columns).map { String(format: "%11.5f", values[block * blockSize + r * columns + $0]) }
                    print("  " + "\(labels[labels.count - 2])=\(r)".leftPadded(6) + row.joined(separator: " "))
                }
            }
        } else {
            let largest = values.map(abs).max() ?? .nan
            print("  \(values.count) numbers, largest |entry| \(String(format: "%.4g", largest)); use --format json for all of them")
        }
        print("  largest standard error: \(formatError(stderr))")
    }

    static func formatError(_ stderr: [Double]) -> String {
        String(format: "%.2g", stderr.filter(\.isFinite).max() ?? .nan)
    }
}
