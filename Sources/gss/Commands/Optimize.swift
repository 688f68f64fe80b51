import ArgumentParser
import Glibc
import GSSCore
import GSSHost
import GSSPlots

extension SmoothingTarget: ExpressibleByArgument {}

struct Optimize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optimize",
        abstract: "Minimise the mean squared error between f(x) and a target by Adam on smoothed gradients.",
        discussion: """
            The target is f(X*) for --target-x X*, or m numbers from --target (e.g. @image.npy). Every step \
            estimates the loss and its gradient at x_t with the smoothing scale γ_t = start·(end/start)^(t/(N−1)) \
            and a seed derived from --seed and t, then takes one Adam step with the learning rate annealed by \
            a cosine from --lr towards 0. --smooth algorithm smooths f and backpropagates the loss through \
            the smoothed Jacobian; --smooth objective smooths the loss of the hard output as one scalar \
            black box. Progress goes to stderr; --out DIR writes pictures only when the run succeeds. \
            Of the shared smoothing options, --x and --scale-matrix belong to grad: here the start is \
            --x0 and the scale is diagonal, constant (--scale) or scheduled (--scale-start, --scale-end).
            """)

    @OptionGroup var box: BlackBoxOptions
    @OptionGroup var smoothing: SmoothingOptions

    @Option(name: .customLong("target-x"), parsing: .unconditional,
            help: ArgumentHelp("The target is f at this point: numbers or @FILE.", valueName: "X*"),
            transform: NumberList.init(parsing:))
    var targetPoint: NumberList?

    @Option(name: .customLong("target"), parsing: .unconditional,
            help: ArgumentHelp("The target output itself: m numbers or @FILE (.json or .npy, flattened row-major).", valueName: "@FILE"),
            transform: NumberList.init(parsing:))
    var targetOutput: NumberList?

    @Option(name: .customLong("x0"), parsing: .unconditional,
            help: ArgumentHelp("The start: numbers or @FILE. Default: the black box's own input.", valueName: "x0"),
            transform: NumberList.init(parsing:))
    var start: NumberList?

    @Option(parsing: .unconditional, help: "The number of Adam steps N. (default: 100)", transform: NumberArgument.wholeNumber)
    var steps = 100

    @Option(name: .customLong("lr"), parsing: .unconditional,
            help: "The first step's learning rate η₀ (cosine-annealed towards 0 over the steps). (default: 0.1)",
            transform: NumberArgument.number)
    var learningRate = 0.1

    @Option(parsing: .unconditional, help: "Adam's β₁ (the paper's rendering experiment: 0.5). (default: 0.9)", transform: NumberArgument.number)
    var beta1 = 0.9

    @Option(parsing: .unconditional, help: "Adam's β₂ (the paper's rendering experiment: 0.99). (default: 0.999)", transform: NumberArgument.number)
    var beta2 = 0.999

    @Option(name: .customLong("scale-start"), parsing: .unconditional,
            help: ArgumentHelp("γ at the first step: one number or one per input. With --scale-end; instead of --scale.", valueName: "γ"),
            transform: NumberList.init(parsing:))
    var scaleStart: NumberList?

    @Option(name: .customLong("scale-end"), parsing: .unconditional,
            help: ArgumentHelp("γ at the last step: one number or one per input.", valueName: "γ"),
            transform: NumberList.init(parsing:))
    var scaleEnd: NumberList?

    @Option(help: "Smooth the black box and backpropagate the loss ('algorithm') or smooth the loss of its hard output ('objective').")
    var smooth: SmoothingTarget = .algorithm

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    @Option(help: ArgumentHelp(
        "A folder for target.png, start.png and result.png (when the output has a 2-D shape), loss.svg and result.json; written only when the run succeeds.",
        valueName: "DIR"))
    var out: String?

    @Flag(help: "No progress on stderr.")
    var quiet = false

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        guard learningRate.isFinite && learningRate > 0 else { throw ValidationError("--lr must be finite and positive, got \(learningRate)") }
        for (name, beta) in [("--beta1", beta1), ("--beta2", beta2)] where !(beta >= 0 && beta < 1) {
            throw ValidationError("\(name) must lie in [0, 1), got \(beta)")
        }
        guard smoothing.point == nil else { throw ValidationError("optimize starts from --x0; --x belongs to eval and grad") }
        guard smoothing.scaleMatrix == nil else {
            throw ValidationError("optimize schedules a diagonal scale (--scale, or --scale-start and --scale-end); --scale-matrix is not supported")
        }
        guard (scaleStart == nil) == (scaleEnd == nil) else {
            throw ValidationError("--scale-start and --scale-end go together (for a constant scale give --scale)")
        }
        guard smoothing.scale == nil || scaleStart == nil else {
            throw ValidationError("give either --scale (constant) or --scale-start and --scale-end (a schedule), not both")
        }
        guard (targetPoint == nil) != (targetOutput == nil) else {
            throw ValidationError("give the target once: --target-x X* (the target is f(X*)) or --target @FILE (m numbers)")
        }
        if let out { try PictureFolder.check(out) }
    }

    func run() throws {
        let opened = try box.open()
        let blackBox = opened.blackBox
        let n = blackBox.inputCount
        let m = blackBox.outputCount
        let x0 = try start?.values ?? opened.point(nil)
        guard x0.count == n else { throw CommandError.usage("--x0 needs \(n) numbers for this black box, got \(x0.count)") }
        var smoothingConfiguration = try smoothing.configuration(for: opened)
        let scaleStart = self.scaleStart?.values ?? smoothingConfiguration.scale
        let scaleEnd = self.scaleEnd?.values ?? scaleStart
        smoothingConfiguration.scale = scaleStart
        let configuration = LossMinimizationConfiguration(
            smoothing: smoothingConfiguration, target: smooth, steps: steps, learningRate: learningRate,
            beta1: beta1, beta2: beta2, scaleStart: scaleStart, scaleEnd: scaleEnd)
        // The scale is checked before the target costs an evaluation, naming the option given.
        if self.scaleStart == nil {
            _ = try ExponentialScaleSchedule(constant: scaleStart, dimension: n, steps: steps)
        } else {
            _ = try ExponentialScaleSchedule(start: scaleStart, end: scaleEnd, dimension: n, steps: steps)
        }
        // Each step smooths f (m outputs) or the scalar loss, and the result keeps every step's x.
        let historyBytes = Double(steps) * Double(8 * n + 64)
        for (scale, option) in [(scaleStart, self.scaleStart == nil ? "--scale" : "--scale-start"), (scaleEnd, "--scale-end")] {
            var stepConfiguration = smoothingConfiguration
            stepConfiguration.scale = scale
            try smoothing.checkRequest(
                stepConfiguration, at: x0, inputCount: n, outputCount: smooth == .objective ? 1 : m, extraBytes: historyBytes,
                scaleOption: option,
                describedAs: "gss optimize over \(groupedDigits(steps)) steps of \(blackBox.displayName) (n = \(groupedDigits(n)) inputs, m = \(groupedDigits(m)) outputs)",
                advice: "use fewer --steps, inputs or outputs")
        }

        let executor = try smoothing.executor()
        if self.scaleStart == nil && !quiet && executor.isCoordinator, let note = smoothing.typicalScaleNote(of: opened) {
            StandardError.write(note + "\n")
        }
        let target: [Double]
        if let targetPoint {
            target = try executor.fromCoordinator(.doubles, recorded: true) { try blackBox.output(at: targetPoint.values, label: "--target-x") }
        } else {
            target = targetOutput!.values
            guard target.count == m else {
                throw CommandError.usage("--target needs \(m) numbers (one per output of the black box), got \(target.count)")
            }
        }
        let progress = quiet || !executor.isCoordinator ? nil : ProgressReporter(command: "optimize", unit: "step", total: steps)
        let result = try SmoothedLossMinimizer(configuration: configuration, threads: smoothing.workerCount, executor: executor)
            .minimize(blackBox, loss: .meanSquaredError(target: target), from: x0) {
                progress?.update(done: $0.step + 1, detail: String(cFormat: "  loss %.6g", $0.loss))
            }
        progress?.finish()
        Ranks.reportJournal()

        let json = Self.json(result, configuration: configuration, n: n, m: m)
        if let out, executor.isCoordinator {
            try PictureFolder.write(
                Self.pictures(result, target: target, shape: opened.outputShape) + [("result.json", Array((json.text + "\n").utf8))], to: out)
        }
        switch format {
        case .json: print(json.text)
        case .text: Self.printText(result, configuration: configuration, blackBox: blackBox.displayName, n: n, m: m)
        }
    }

    /// The JSON result: the final x and its unsmoothed loss, the start, and per step the estimated loss and x_t.
    static func json(_ result: MinimizationResult, configuration: LossMinimizationConfiguration, n: Int, m: Int) -> JSONValue {
        .object([
            ("n", .integer(n)),
            ("m", .integer(m)),
            ("steps", .integer(configuration.steps)),
            ("samples", .integer(configuration.smoothing.samples)),
            ("seed", .unsigned(configuration.smoothing.seed)),
            ("smooth", .string(configuration.target.rawValue)),
            ("x", .numbers(result.x)),
            ("loss", .number(result.finalLoss)),
            ("x0", .numbers(result.history.first?.x ?? result.x)),
            ("initial_loss", .number(result.initialLoss)),
            ("history", .array(result.history.map { step in
                .object([("step", .integer(step.step)), ("loss", .number(step.loss)), ("x", .numbers(step.x))])
            })),
        ])
    }

    /// PNGs of target, start and result for an output with a 2-D shape (rows × columns), on one
    /// shared grey range, and the loss curve.
    static func pictures(_ result: MinimizationResult, target: [Double], shape: [Int]) throws -> [(String, [UInt8])] {
        var files: [(String, [UInt8])] = []
        if shape.count == 2, shape[0] * shape[1] == target.count {
            let images = [("target.png", target), ("start.png", result.initialOutput), ("result.png", result.finalOutput)].map {
                ($0.0, GrayscaleImage(width: shape[1], height: shape[0], values: $0.1))
            }
            let range = GrayscaleImage.displayRange(of: images.map(\.1))
            for (name, image) in images { files.append((name, try image.pngData(range: range))) }
        }
        var curve = LossCurveFigure(title: "gss optimize: estimated loss per step", series: [
            .init(label: "", losses: result.history.map(\.loss)),
        ])
        curve.yLabel = "smoothed loss (mean squared error)"
        files.append(("loss.svg", Array(curve.svg().utf8)))
        return files
    }

    static func printText(_ result: MinimizationResult, configuration: LossMinimizationConfiguration, blackBox: String, n: Int, m: Int) {
        let smoothing = configuration.smoothing
        func row(_ x: [Double]) -> String { x.map { String(cFormat: "%.6g", $0) }.joined(separator: ",") }
        print("\(blackBox): n = \(n), m = \(m); \(configuration.steps) Adam steps (lr \(configuration.learningRate), β \(configuration.beta1), \(configuration.beta2)), smoothing the \(configuration.target.rawValue)")
        print("\(smoothing.distribution.rawValue) noise, γ \(row(configuration.scaleStart)) → \(row(configuration.scaleEnd)), \(smoothing.samples) samples, \(smoothing.sampler.rawValue)\(smoothing.antithetic ? " antithetic" : ""), covariate \(smoothing.covariate.rawValue), seed \(smoothing.seed)")
        print("")
        print("start   x0 = \(row(result.history.first?.x ?? result.x))   loss \(String(cFormat: "%.6g", result.initialLoss))")
        print("result  x  = \(row(result.x))   loss \(String(cFormat: "%.6g", result.finalLoss))")
        print("(loss: the mean squared error of the unsmoothed f(x) against the target)")
        print("")
        print("   step  estimated loss  x_t")
        let every = max(1, result.history.count / 10)
        for step in result.history where step.step % every == 0 || step.step == result.history.count - 1 {
            print(String(cFormat: "%7d  %14.6g  ", step.step, step.loss) + row(step.x))
        }
    }
}
