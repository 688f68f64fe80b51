import ArgumentParser
import Foundation
import GSSCore

struct Grad: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Estimate the smoothed value f_ε(x) = E[f(x + γε)] and its Jacobian, with standard errors.")

    @OptionGroup var box: BlackBoxOptions
    @OptionGroup var smoothing: SmoothingOptions

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    func run() throws {
        let opened = try box.open()
        let x = try opened.point(smoothing.point?.values)
        let configuration = smoothing.configuration()
        let smoother = Smoother(configuration: configuration, threads: smoothing.workerCount)
        let estimate = try smoother.estimate(opened.blackBox, at: x)
        switch format {
        case .json: print(Self.json(estimate).text)
        case .text: Self.printText(estimate, x: x, configuration: configuration)
        }
    }

    static func json(_ estimate: SmoothedEstimate) -> JSONValue {
        .object([
            ("n", .integer(estimate.inputCount)),
            ("m", .integer(estimate.outputCount)),
            ("samples", .integer(estimate.samples)),
            ("seed", .unsigned(estimate.seed)),
            ("value", .numbers(estimate.value)),
            ("value_stderr", .numbers(estimate.valueStderr)),
            ("jacobian", .matrix(estimate.jacobian, columns: estimate.inputCount)),
            ("jacobian_stderr", .matrix(estimate.jacobianStderr, columns: estimate.inputCount)),
        ])
    }

    static func printText(_ estimate: SmoothedEstimate, x: [Double], configuration: SmoothingConfiguration) {
        let n = estimate.inputCount
        print("x = \(x.map { "\($0)" }.joined(separator: ","))")
        print("\(configuration.distribution.rawValue) noise, γ = \(configuration.scale.map { "\($0)" }.joined(separator: ",")), \(estimate.samples) samples, \(configuration.sampler.rawValue)\(configuration.antithetic ? " antithetic" : ""), covariate \(configuration.covariate.rawValue), seed \(estimate.seed)")
        print("")
        print("   i  " + "value".leftPadded(10) + "  " + (0..<n).map { "∂/∂x\($0)".leftPadded(11) }.joined(separator: " "))
        for i in 0..<estimate.outputCount {
            let row = (0..<n).map { j in String(format: "%11.5f", estimate.jacobian[i * n + j]) }.joined(separator: " ")
            print("\(i)".leftPadded(4) + "  " + String(format: "%10.5f", estimate.value[i]) + "  " + row)
        }
        let largest = estimate.jacobianStderr.filter(\.isFinite).max() ?? .nan
        print("")
        print("largest standard error of a Jacobian entry: \(String(format: "%.2g", largest))")
    }
}
