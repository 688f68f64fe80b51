import RealModule

/// The standard normal quantile Φ⁻¹(u) by Wichura's algorithm AS 241 (PPND16), "The Percentage
/// Points of the Normal Distribution", Applied Statistics 37(3), 477–484, 1988: rational
/// approximations accurate to about 1 part in 10¹⁶ over the whole open interval, tails included.
enum NormalQuantile {
    // Central region |u − 1/2| ≤ 0.425.
    private static let a: (Double, Double, Double, Double, Double, Double, Double, Double) = (
        3.3871328727963666080e0, 1.3314166789178437745e+2, 1.9715909503065514427e+3,
        1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
        3.3430575583588128105e+4, 2.5090809287301226727e+3
    )
    private static let b: (Double, Double, Double, Double, Double, Double, Double) = (
        4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3,
        2.1213794301586595867e+4, 3.9307895800092710610e+4, 2.8729085735721942674e+4,
        5.2264952788528545610e+3
    )
    // Intermediate tail, r = √(−log min(u, 1 − u)) ≤ 5.
    private static let c: (Double, Double, Double, Double, Double, Double, Double, Double) = (
        1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
        3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
        2.27238449892691845833e-2, 7.74545014278341407640e-4
    )
    private static let d: (Double, Double, Double, Double, Double, Double, Double) = (
        2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
        1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
        1.05075007164441684324e-9
    )
    // Far tail, r > 5.
    private static let e: (Double, Double, Double, Double, Double, Double, Double, Double) = (
        6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
        2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
        2.71155556874348757815e-5, 2.01033439929228813265e-7
    )
    private static let f: (Double, Double, Double, Double, Double, Double, Double) = (
        5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
        7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
        2.04426310338993978564e-15
    )

    @inline(__always)
    static func value(_ u: Double) -> Double {
        let q = u - 0.5
        if abs(q) <= 0.425 {
            let r = 0.180625 - q * q
            let num = (((((((a.7 * r + a.6) * r + a.5) * r + a.4) * r + a.3) * r + a.2) * r + a.1) * r + a.0)
            let den = (((((((b.6 * r + b.5) * r + b.4) * r + b.3) * r + b.2) * r + b.1) * r + b.0) * r + 1)
            return q * num / den
        }
        // u < 1/2 uses u itself; u > 1/2 uses 1 − u, which is exact there (Sterbenz).
        var r = q < 0 ? u : 1 - u
        r = (-Double.log(r)).squareRoot()
        let z: Double
        if r <= 5 {
            r -= 1.6
            let num = (((((((c.7 * r + c.6) * r + c.5) * r + c.4) * r + c.3) * r + c.2) * r + c.1) * r + c.0)
            let den = (((((((d.6 * r + d.5) * r + d.4) * r + d.3) * r + d.2) * r + d.1) * r + d.0) * r + 1)
            z = num / den
        } else {
            r -= 5
            let num = (((((((e.7 * r + e.6) * r + e.5) * r + e.4) * r + e.3) * r + e.2) * r + e.1) * r + e.0)
            let den = (((((((f.6 * r + f.5) * r + f.4) * r + f.3) * r + f.2) * r + f.1) * r + f.0) * r + 1)
            z = num / den
        }
        return q < 0 ? -z : z
    }
}
