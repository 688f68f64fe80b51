import Glibc

/// The learning rate of PyTorch's `CosineAnnealingLR` with `T_max` = the number of steps and
/// `eta_min` = 0 (the appendix D protocol), stepped once after every optimiser step:
///
///     η_t = η₀ · (1 + cos(π t / N)) / 2,   t = 0, …, N − 1,
///
/// so the first step uses η₀ and the rate falls towards 0, which it would reach after step N − 1.
public struct CosineAnnealingSchedule: Sendable, Equatable {
    /// η₀ > 0, the rate of the first step.
    public let initialRate: Double
    /// N ≥ 1, the number of steps (PyTorch's T_max).
    public let steps: Int

    /// - Throws: `SmoothingError.invalidConfiguration` unless η₀ is finite and positive and N ≥ 1.
    public init(initialRate: Double, steps: Int) throws(SmoothingError) {
        guard initialRate.isFinite && initialRate > 0 else {
            throw .invalidConfiguration("--lr must be finite and positive, got \(initialRate)")
        }
        guard steps >= 1 else { throw .invalidConfiguration("--steps must be at least 1, got \(steps)") }
        self.initialRate = initialRate
        self.steps = steps
    }

    /// η_t for step t (0-based).
    public func rate(atStep t: Int) -> Double {
        initialRate * (1 + cos(Double.pi * Double(t) / Double(steps))) / 2
    }
}

/// A diagonal smoothing scale that decays exponentially, coordinate by coordinate, from `start`
/// at the first step to `end` at the last (appendix D: wide noise to find the basin, narrow noise
/// to land precisely):
///
///     γ_t = start · (end / start)^(t / (N − 1)),   t = 0, …, N − 1   (γ₀ = start for N = 1).
///
/// A constant scale is the special case start = end.
public struct ExponentialScaleSchedule: Sendable, Equatable {
    /// γ at the first step, one number per coordinate.
    public let start: [Double]
    /// γ at the last step, one number per coordinate.
    public let end: [Double]
    /// N ≥ 1, the number of steps.
    public let steps: Int

    /// `start` and `end` hold one number (for every coordinate) or one per coordinate each.
    /// - Throws: `SmoothingError.invalidConfiguration` for a count other than 1 or n, a value that is
    ///   not finite and positive, or N < 1.
    public init(start: [Double], end: [Double], dimension n: Int, steps: Int) throws(SmoothingError) {
        try self.init(start: start, end: end, dimension: n, steps: steps, names: ("--scale-start", "--scale-end"))
    }

    /// A constant scale γ (one number, or one per coordinate) for all N steps.
    public init(constant scale: [Double], dimension n: Int, steps: Int) throws(SmoothingError) {
        try self.init(start: scale, end: scale, dimension: n, steps: steps, names: ("--scale", "--scale"))
    }

    /// `names` are the options the messages blame.
    private init(start: [Double], end: [Double], dimension n: Int, steps: Int, names: (start: String, end: String)) throws(SmoothingError) {
        func expanded(_ values: [Double], _ name: String) throws(SmoothingError) -> [Double] {
            guard values.count == 1 || values.count == n else {
                throw .invalidConfiguration("\(name) needs 1 or \(n) values (one per input), got \(values.count)")
            }
            for value in values where !(value.isFinite && value > 0) {
                throw .invalidConfiguration("\(name) values must be finite and positive, got \(value)")
            }
            return values.count == n ? values : Array(repeating: values[0], count: n)
        }
        guard steps >= 1 else { throw .invalidConfiguration("--steps must be at least 1, got \(steps)") }
        self.start = try expanded(start, names.start)
        self.end = try expanded(end, names.end)
        self.steps = steps
    }

    /// γ_t for step t (0-based), one number per coordinate.
    public func scale(atStep t: Int) -> [Double] {
        guard steps > 1 else { return start }
        let fraction = Double(t) / Double(steps - 1)
        return zip(start, end).map { start, end in start * pow(end / start, fraction) }
    }
}
