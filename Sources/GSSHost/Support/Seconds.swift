// Time limits arrive as Double seconds (options, settings); clocks count in Duration.

extension Duration {
    /// The duration in seconds, for rates and time limits computed in Double.
    var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}

extension ContinuousClock.Instant {
    /// This instant plus `seconds` (≥ 0); a limit beyond Duration's range (--timeout 1e300)
    /// is capped at 30 million years, which is no limit either.
    func advanced(bySeconds seconds: Double) -> Self { advanced(by: .seconds(min(seconds, 1e15))) }
}
