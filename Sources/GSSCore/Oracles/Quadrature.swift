/// Adaptive Gauss–Kronrod (7-point Gauss, 15-point Kronrod) integration on a finite interval,
/// bisecting until each piece's |K15 − G7| is below its share of the tolerance.
public enum Quadrature {
    private static let kronrodNodes: [Double] = [
        0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
        0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
        0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
        0.207784955007898467600689403773245, 0.000000000000000000000000000000000,
    ]
    private static let kronrodWeights: [Double] = [
        0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
        0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
        0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
        0.204432940075298892414161999234649, 0.209482141084727828012999174891714,
    ]
    // Gauss weights for the odd-indexed Kronrod nodes (1, 3, 5) and the centre.
    private static let gaussWeights: [Double] = [
        0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
        0.381830050505118944950369775488975, 0.417959183673469387755102040816327,
    ]

    /// ∫_a^b f, to an absolute error of about `tolerance`.
    public static func integrate(
        from a: Double, to b: Double, tolerance: Double = 1e-13, maxDepth: Int = 40,
        _ f: (Double) -> Double
    ) -> Double {
        func rule(_ a: Double, _ b: Double) -> (value: Double, error: Double) {
            let centre = 0.5 * (a + b)
            let half = 0.5 * (b - a)
            let fc = f(centre)
            var kronrod = fc * kronrodWeights[7]
            var gauss = fc * gaussWeights[3]
            for k in 0..<7 {
                let dx = half * kronrodNodes[k]
                let sum = f(centre - dx) + f(centre + dx)
                kronrod += kronrodWeights[k] * sum
                if k % 2 == 1 { gauss += gaussWeights[k / 2] * sum }
            }
            return (kronrod * half, abs((kronrod - gauss) * half))
        }
        func adapt(_ a: Double, _ b: Double, _ tolerance: Double, _ depth: Int) -> Double {
            let (value, error) = rule(a, b)
            if error <= tolerance || depth >= maxDepth { return value }
            let middle = 0.5 * (a + b)
            return adapt(a, middle, 0.5 * tolerance, depth + 1) + adapt(middle, b, 0.5 * tolerance, depth + 1)
        }
        return adapt(a, b, tolerance, 0)
    }
}
