import CGSSVectorMath
import RealModule

/// A univariate smoothing distribution μ (the paper's Table 1), standardised (location 0, scale 1).
///
/// Multivariate noise is n independent draws. Every distribution provides what the estimators
/// need: the inverse CDF (so (quasi-)random uniforms become noise), the score ∇ −log μ(ε), and
/// the density and CDF for exact references. Non-differentiable densities (Laplace, triangular,
/// Wigner) are valid by Lemma 3: the score is used wherever it exists, a null set aside.
public enum Distribution: String, CaseIterable, Sendable, Codable {
    case gaussian
    case logistic
    case gumbel
    case cauchy
    case laplace
    case triangular
    case wigner

    /// Symmetric about 0, so that mirrored uniforms 1 − u give the antithetic ε' = −ε.
    public var isSymmetric: Bool { self != .gumbel }

    /// Support is the whole line (false for triangular and Wigner, which live on (−1, 1)).
    public var hasFullSupport: Bool { self != .triangular && self != .wigner }

    /// The density μ(ε).
    public func density(_ e: Double) -> Double {
        switch self {
        case .gaussian:
            return Double.exp(-0.5 * e * e) / (2 * Double.pi).squareRoot()
        case .logistic:
            let t = Double.exp(-abs(e))
            return t / ((1 + t) * (1 + t))
        case .gumbel:
            return Double.exp(-e - Double.exp(-e))
        case .cauchy:
            return 1 / (Double.pi * (1 + e * e))
        case .laplace:
            return 0.5 * Double.exp(-abs(e))
        case .triangular:
            return Swift.max(0, 1 - abs(e))
        case .wigner:
            return abs(e) < 1 ? 2 / Double.pi * ((1 - e) * (1 + e)).squareRoot() : 0
        }
    }

    /// The cumulative distribution function P(ε ≤ e), accurate in both tails.
    public func cdf(_ e: Double) -> Double {
        switch self {
        case .gaussian:
            return 0.5 * Double.erfc(-e / 2.0.squareRoot())
        case .logistic:
            return e >= 0 ? 1 / (1 + Double.exp(-e)) : Double.exp(e) / (1 + Double.exp(e))
        case .gumbel:
            return Double.exp(-Double.exp(-e))
        case .cauchy:
            return e < 0 ? Double.atan(-1 / e) / Double.pi : 1 - Double.atan(1 / e) / Double.pi
        case .laplace:
            return e < 0 ? 0.5 * Double.exp(e) : 1 - 0.5 * Double.exp(-e)
        case .triangular:
            if e <= -1 { return 0 }
            if e >= 1 { return 1 }
            return e < 0 ? 0.5 * (1 + e) * (1 + e) : 1 - 0.5 * (1 - e) * (1 - e)
        case .wigner:
            if e <= -1 { return 0 }
            if e >= 1 { return 1 }
            // ε = −cos(ψ/2) maps (−1, 1) onto ψ ∈ (0, 2π); F = (ψ − sin ψ) / 2π.
            let psi = 2 * Double.acos(-e)
            return e <= 0
                ? WignerSemicircle.psiMinusSin(psi) / (2 * Double.pi)
                : 1 - WignerSemicircle.psiMinusSin(2 * Double.pi - psi) / (2 * Double.pi)
        }
    }

    /// The score ∇_ε −log μ(ε) (Table 1); 0 where the density has no derivative or vanishes.
    public func score(_ e: Double) -> Double {
        switch self {
        case .gaussian: return e
        case .logistic: return Double.tanh(0.5 * e)
        case .gumbel: return 1 - Double.exp(-e)
        case .cauchy: return 2 * e / (1 + e * e)
        case .laplace: return e > 0 ? 1 : (e < 0 ? -1 : 0)
        case .triangular:
            return abs(e) < 1 && e != 0 ? (e > 0 ? 1 : -1) / (1 - abs(e)) : 0
        case .wigner:
            return abs(e) < 1 ? e / ((1 - e) * (1 + e)) : 0
        }
    }

    /// The inverse CDF: the ε with P(ε' ≤ ε) = u, for u in (0, 1), accurate to double precision
    /// in both tails (each branch avoids forming 1 − u where it would round).
    public func quantile(_ u: Double) -> Double {
        precondition(u > 0 && u < 1, "quantile needs u in the open interval (0, 1)")
        switch self {
        case .gaussian, .logistic, .laplace:
            return quantileThroughTransform(u)
        case .gumbel:
            // log u = log1p(u − 1) is exact-argument for u ≥ 1/2, where −log u is small.
            let logU = u < 0.5 ? Double.log(u) : Double.log(onePlus: u - 1)
            return -Double.log(-logU)
        case .cauchy:
            return u < 0.5 ? -1 / Double.tan(Double.pi * u) : 1 / Double.tan(Double.pi * (1 - u))
        case .triangular:
            return u < 0.5 ? -1 + (2 * u).squareRoot() : 1 - (2 * (1 - u)).squareRoot()
        case .wigner:
            return WignerSemicircle.quantile(u).noise
        }
    }

    /// The Laplace quantile for a whole array: log(2u) below 1/2, −log(2(1 − u)) above (1 − u is
    /// exact there); one vectorised log per element. Scores are sign ε.
    static func laplaceTransform(
        uniforms: UnsafePointer<Double>, count: Int, noise: UnsafeMutablePointer<Double>, score: UnsafeMutablePointer<Double>
    ) {
        for i in 0..<count {
            let u = uniforms[i]
            noise[i] = 2 * Swift.min(u, 1 - u)
        }
        gss_log_array(noise, noise, count)
        for i in 0..<count {
            let u = uniforms[i]
            noise[i] = u < 0.5 ? noise[i] : -noise[i]
            score[i] = noise[i] > 0 ? 1 : (noise[i] < 0 ? -1 : 0)
        }
    }

    /// The quantile of one uniform through the same code as `transform`, so both agree bit for bit.
    private func quantileThroughTransform(_ u: Double) -> Double {
        var input = u
        var noise = 0.0
        var score = 0.0
        transform(uniforms: &input, count: 1, noise: &noise, score: &score)
        return noise
    }

    /// Fills `noise[i] = quantile(u[i])` and `score[i] = score(noise[i])` for `count` uniforms.
    /// Where the score blows up at a support edge it is computed from the uniform directly, so
    /// it keeps full relative precision even when ε rounds to ±1.
    public func transform(
        uniforms: UnsafePointer<Double>, count: Int,
        noise: UnsafeMutablePointer<Double>, score: UnsafeMutablePointer<Double>
    ) {
        switch self {
        case .gaussian:
            // Wichura's AS 241 in C (the central region vectorised); the score is ε itself.
            gss_normal_quantile_array(uniforms, noise, count)
            score.update(from: noise, count: count)
        case .logistic:
            // log(u / (1 − u)) = ±log1p(|2u − 1| / min(u, 1 − u)): for u ≥ 1/2 both 2u − 1 and 1 − u
            // are exact (and for u < 1/2, u is), so ε keeps full relative precision near 0 and in
            // both tails; in C for the widest vectors. Scores are 2u − 1 = tanh(ε/2), exactly.
            gss_logistic_quantile_array(uniforms, noise, score, count)
        case .laplace:
            Self.laplaceTransform(uniforms: uniforms, count: count, noise: noise, score: score)
        case .triangular:
            for i in 0..<count {
                let u = uniforms[i]
                if u < 0.5 {
                    let r = (2 * u).squareRoot()  // 1 − |ε|
                    noise[i] = -1 + r
                    score[i] = -1 / r
                } else {
                    let r = (2 * (1 - u)).squareRoot()
                    noise[i] = 1 - r
                    score[i] = u == 0.5 ? 0 : 1 / r  // the kink at 0 scores 0, keeping mirrored pairs exact
                }
            }
        case .wigner:
            for i in 0..<count {
                let point = WignerSemicircle.quantile(uniforms[i])
                noise[i] = point.noise
                score[i] = point.score
            }
        case .gumbel, .cauchy:
            for i in 0..<count {
                let e = quantile(uniforms[i])
                noise[i] = e
                score[i] = self.score(e)
            }
        }
    }
}

/// The Wigner semicircle law on (−1, 1), parametrised by ψ ∈ (0, 2π) with ε = −cos(ψ/2), where
/// the CDF is (ψ − sin ψ)/2π and 1 − ε² = sin²(ψ/2) needs no cancellation-prone subtraction.
enum WignerSemicircle {
    /// ψ − sin ψ without cancellation for small ψ (series below 0.5, direct above).
    static func psiMinusSin(_ psi: Double) -> Double {
        if psi < 0.5 {
            // ψ³/3! − ψ⁵/5! + …; 9 terms reach 1 ulp at ψ = 0.5.
            let p2 = psi * psi
            var term = psi * p2 / 6
            var sum = term
            var k = 2.0  // each step multiplies by −ψ²/((2k)(2k+1)), k = 2, 3, …
            for _ in 0..<9 {
                term *= -p2 / ((2 * k) * (2 * k + 1))
                sum += term
                k += 1
            }
            return sum
        }
        return psi - Double.sin(psi)
    }

    /// Solves (ψ − sin ψ)/2π = u for u ≤ 1/2 on (0, π] by Newton's method kept inside a shrinking
    /// bracket (bisecting when a step leaves it), starting from (12πu)^(1/3), exact for small ψ
    /// where ψ − sin ψ ≈ ψ³/6; then mirrors for u > 1/2.
    static func quantile(_ u: Double) -> (noise: Double, score: Double) {
        let lower = u <= 0.5
        let tail = lower ? u : 1 - u
        let target = 2 * Double.pi * tail
        var low = 0.0
        var high = Double.pi
        var psi = Swift.min(Double.root(12 * Double.pi * tail, 3), Double.pi)
        for _ in 0..<100 {
            let residual = psiMinusSin(psi) - target
            if residual == 0 { break }
            if residual > 0 { high = psi } else { low = psi }
            var next = psi - residual / (1 - Double.cos(psi))
            if !(next > low && next < high) { next = 0.5 * (low + high) }
            if abs(next - psi) <= 2 * psi.ulp {
                psi = next
                break
            }
            psi = next
        }
        let half = 0.5 * psi
        let sinHalf = Double.sin(half)
        // −cos(ψ/2), via sin((π − ψ)/2) near the centre so that u = 1/2 gives exactly 0.
        let e = psi > 0.5 * Double.pi ? -Double.sin(0.5 * (Double.pi - psi)) : -Double.cos(half)
        let score = e / (sinHalf * sinHalf)  // ε / (1 − ε²)
        return lower ? (e, score) : (-e, -score)
    }
}
