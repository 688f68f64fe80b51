import CGSSLibrary
import GSSCore

/// The caller's output arrays of one gss_estimate (gss_estimate_outputs), checked against what the
/// configuration estimates before any work, and filled only after every point succeeded.
struct EstimateRequest {
    /// One requested array: where it goes and how to read its numbers off an estimate.
    private struct Destination {
        let pointer: UnsafeMutablePointer<Double>
        let numbers: (SmoothedEstimate) -> [Double]?
    }

    private var destinations: [Destination] = []

    init(outputs: UnsafePointer<gss_estimate_outputs>, configuration: SmoothingConfiguration) throws(LibraryError) {
        let o = outputs.pointee
        guard o.struct_size >= MemoryLayout<gss_estimate_outputs>.offset(of: \.covariance_scale_gradient_stderr)! + 8 else {
            throw .invalid("outputs->struct_size is \(o.struct_size); set it to sizeof(gss_estimate_outputs) (API 1.0 needs at least \(MemoryLayout<gss_estimate_outputs>.size))")
        }
        let scale = configuration.differentiatesScale
        let covariance = configuration.estimatesCovariance
        let matrix = configuration.scaleMatrix != nil
        let entries: [(UnsafeMutablePointer<Double>?, String, String?, (SmoothedEstimate) -> [Double]?)] = [
            (o.value, "value", nil, { $0.value }),
            (o.value_stderr, "value_stderr", nil, { $0.valueStderr }),
            (o.jacobian, "jacobian", nil, { $0.jacobian }),
            (o.jacobian_stderr, "jacobian_stderr", nil, { $0.jacobianStderr }),
            (o.scale_gradient, "scale_gradient", scale ? nil : "the scale derivative",
             { matrix ? $0.scaleMatrixGradient : $0.scaleGradient }),
            (o.scale_gradient_stderr, "scale_gradient_stderr", scale ? nil : "the scale derivative",
             { matrix ? $0.scaleMatrixGradientStderr : $0.scaleGradientStderr }),
            (o.covariance, "covariance", covariance ? nil : "the covariance", { $0.covariance?.matrix }),
            (o.covariance_stderr, "covariance_stderr", covariance ? nil : "the covariance", { $0.covariance?.matrixStderr }),
            (o.covariance_gradient, "covariance_gradient", covariance ? nil : "the covariance", { $0.covariance?.gradient }),
            (o.covariance_gradient_stderr, "covariance_gradient_stderr", covariance ? nil : "the covariance",
             { $0.covariance?.gradientStderr }),
            (o.covariance_scale_gradient, "covariance_scale_gradient",
             covariance && scale ? nil : "the covariance and the scale derivative", { $0.covariance?.scaleGradient }),
            (o.covariance_scale_gradient_stderr, "covariance_scale_gradient_stderr",
             covariance && scale ? nil : "the covariance and the scale derivative", { $0.covariance?.scaleGradientStderr }),
        ]
        for (pointer, name, missing, numbers) in entries {
            guard let pointer else { continue }
            if let missing {
                throw .invalid("outputs->\(name) was given, but the configuration does not estimate \(missing); enable it or pass NULL")
            }
            destinations.append(Destination(pointer: pointer, numbers: numbers))
        }
    }

    /// Copies every requested array, point after point.
    func write(_ estimates: [SmoothedEstimate]) {
        for destination in destinations {
            var offset = 0
            for estimate in estimates {
                let numbers = destination.numbers(estimate) ?? []
                (destination.pointer + offset).update(from: numbers, count: numbers.count)
                offset += numbers.count
            }
        }
    }
}
