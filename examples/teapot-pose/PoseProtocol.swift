import Foundation
import GSSCore

/// A camera for the renderer plugin: its four inputs (distance, azimuth°, elevation°, field of view°).
struct CameraPose: Codable, Equatable, Sendable {
    var distance: Double
    var azimuth: Double
    var elevation: Double
    var fieldOfView: Double

    init(distance: Double, azimuth: Double, elevation: Double, fieldOfView: Double) {
        self.distance = distance
        self.azimuth = azimuth
        self.elevation = elevation
        self.fieldOfView = fieldOfView
    }

    init(_ input: [Double]) {
        self.init(distance: input[0], azimuth: input[1], elevation: input[2], fieldOfView: input[3])
    }

    /// The renderer's input row.
    var input: [Double] { [distance, azimuth, elevation, fieldOfView] }

    /// The unit vector from the teapot to the eye (the renderer's eye direction).
    var viewDirection: SIMD3<Double> { Self.direction(azimuth: azimuth, elevation: elevation) }

    static func direction(azimuth: Double, elevation: Double) -> SIMD3<Double> {
        let az = azimuth * .pi / 180, el = elevation * .pi / 180
        return SIMD3(cos(el) * cos(az), cos(el) * sin(az), sin(el))
    }

    /// The angle in degrees between two viewing directions: appendix D's success measure.
    func angle(to other: CameraPose) -> Double {
        let cosine = (viewDirection * other.viewDirection).sum()
        return acos(min(1, max(-1, cosine))) * 180 / .pi
    }
}

/// Appendix D's camera-pose problem for one seed: a ground-truth camera and a perturbed start.
struct PoseProblem: Codable, Equatable, Sendable {
    let seed: Int
    let truth: CameraPose
    let start: CameraPose
    /// The angle between the start's and the truth's viewing directions (drawn from [15°, 75°]).
    let perturbation: Double

    /// Ground truth: a direction uniform on the sphere, field of view 20°, distance uniform in
    /// [2.5, 4]. Start: the direction rotated by an angle uniform in [15°, 75°] towards a uniformly
    /// random tangent direction, distance offset uniformly by [−0.5, 6] (clamped into [2, 10], which
    /// never binds), field of view uniform in [10°, 30°].
    init(seed: Int) {
        let generator = Philox4x32(seed: 0x7EA_90_5E00 &+ UInt64(seed))
        func uniform(_ index: UInt64) -> Double { .openUnit(bits: generator.bits(stream: 1, index: index).0) }
        let azimuth = 360 * uniform(0)
        let elevation = asin(2 * uniform(1) - 1) * 180 / .pi  // uniform on the sphere: sin(el) uniform
        let distance = 2.5 + 1.5 * uniform(2)
        truth = CameraPose(distance: distance, azimuth: azimuth, elevation: elevation, fieldOfView: 20)

        let angle = 15 + 60 * uniform(3)
        let heading = 2 * .pi * uniform(4)
        let az = azimuth * .pi / 180, el = elevation * .pi / 180
        let view = truth.viewDirection
        // An orthonormal tangent basis at the view direction: east (growing azimuth) and north.
        let east = SIMD3(-sin(az), cos(az), 0.0)
        let north = SIMD3(-sin(el) * cos(az), -sin(el) * sin(az), cos(el))
        let tangent = cos(heading) * east + sin(heading) * north
        let theta = angle * .pi / 180
        let moved = cos(theta) * view + sin(theta) * tangent
        var startAzimuth = atan2(moved.y, moved.x) * 180 / .pi
        // The same direction, written as the azimuth nearest the truth's (no detour through ±180°).
        startAzimuth += 360 * ((azimuth - startAzimuth) / 360).rounded()
        let startElevation = asin(min(1, max(-1, moved.z))) * 180 / .pi
        let startDistance = min(10, max(2, distance + (-0.5 + 6.5 * uniform(5))))
        let startFieldOfView = 10 + 20 * uniform(6)
        start = CameraPose(distance: startDistance, azimuth: startAzimuth, elevation: startElevation, fieldOfView: startFieldOfView)
        perturbation = angle
        self.seed = seed
    }

    /// The seed of the smoothing noise in every configuration of this problem (common random
    /// numbers make the comparison between configurations paired).
    var smoothingSeed: UInt64 { Philox4x32(seed: 0x7EA_90_5E00 &+ UInt64(seed)).bits(stream: 2, index: 0).0 }
}

/// A 95% Wilson score interval for k successes in n trials (good coverage also near 0 and 1).
func wilsonInterval(successes k: Int, trials n: Int, z: Double = 1.959963984540054) -> ClosedRange<Double> {
    guard n > 0 else { return 0...1 }
    let p = Double(k) / Double(n)
    let nd = Double(n)
    let centre = (p + z * z / (2 * nd)) / (1 + z * z / nd)
    let half = z / (1 + z * z / nd) * (p * (1 - p) / nd + z * z / (4 * nd * nd)).squareRoot()
    return max(0, centre - half)...min(1, centre + half)
}
