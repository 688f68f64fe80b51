/// k-sample median smoothing (Lemma 13) on the chunk driver, in three passes:
/// 1. evaluate f at every sample, keeping only the s scalars g_i (the one place where memory
///    grows with s: the values, their rank order and four per-rank weights, about 7 numbers per
///    sample);
/// 2. rank the values and compute the closed-form weights (`KSampleMedian`);
/// 3. sweep the ranks twice in blocks — regenerating each sample's noise from the point set by
///    index rather than storing it — for the gradient and its standard errors.
/// Blocks are merged in rank order, so results are bit-identical for every thread count.
extension Smoother {
    func estimateMedian(k: Int, lanes: [ChunkLane], plan: ChunkPlan, fx: Double?) throws -> SmoothedEstimate {
        let s = plan.samples
        let n = lanes[0].n
        let features = lanes[0].features
        let p = features.featureCount
        let workerCount = lanes.count

        // Pass 1: the values, each chunk writing its own range (on the coordinator, which then
        // shares them: the other passes only regenerate noise, so every process runs them alike).
        let values = ValueBuffer(count: s)
        let reportProgress = progress
        try executor.run(
            calls: plan.chunkCount, layout: 1, workers: workerCount, window: 4 * workerCount, codec: .doubles,
            compute: { worker, chunk in try lanes[worker].evaluateScalars(chunk: chunk, plan: plan) },
            merge: { chunk, chunkValues in
                let start = plan.range(chunk: chunk).lowerBound
                for (offset, value) in chunkValues.enumerated() { values.pointer[start + offset] = value }
                reportProgress?(plan.range(chunk: chunk).upperBound, s)
            })
        let allValues = try executor.fromCoordinator(.doubles, recorded: false) {
            Array(UnsafeBufferPointer(start: values.pointer, count: s))
        }
        values.release()
        guard allValues.count == s else { throw ExchangeReader.malformed("\(allValues.count) values for \(s) samples") }
        // Shift by the first sample, as the mean estimator does, to keep sums well conditioned.
        let shift = allValues[0]
        let shifted = allValues.map { $0 - shift }

        let median = try KSampleMedian(values: shifted, k: k)
        let baseline: KSampleMedian.Baseline
        switch configuration.covariate {
        case .none: baseline = .constant(-shift)
        case .fx: baseline = .constant(fx! - shift)
        case .loo: baseline = .leaveOneOut
        }
        let (baselines, centre) = try median.baselines(baseline)

        // Pass 2: per block of ranks, the sums whose prefixes the structural components need.
        let blocks = plan.chunkCount
        var blockTotals = [MedianRankTotals](repeating: MedianRankTotals(featureCount: p), count: blocks)
        let collected = TotalsBox(blockTotals)
        try OrderedParallelReduction.run(
            chunks: blocks, workers: workerCount, window: 4 * workerCount,
            compute: { worker, block in
                let ranks = plan.range(chunk: block)
                return lanes[worker].regeneratedFeatures(of: median.order[ranks]) { phi in
                    var totals = MedianRankTotals(featureCount: p)
                    totals.add(ranks: ranks, features: phi, median: median, baselines: baselines)
                    return totals
                }
            },
            merge: { block, totals in collected.values[block] = totals })
        blockTotals = collected.values
        var exclusivePrefixes: [MedianRankTotals] = []
        var running = MedianRankTotals(featureCount: p)
        for totals in blockTotals {
            exclusivePrefixes.append(running)
            running.merge(totals)
        }
        let prefixes = exclusivePrefixes
        let grandTotals = running

        // Pass 3: the structural components V_r, block by block from the exclusive prefixes.
        let components = ComponentsBox(MedianComponentSums(featureCount: p))
        try OrderedParallelReduction.run(
            chunks: blocks, workers: workerCount, window: 4 * workerCount,
            compute: { worker, block in
                let ranks = plan.range(chunk: block)
                return lanes[worker].regeneratedFeatures(of: median.order[ranks]) { phi in
                    var sums = MedianComponentSums(featureCount: p)
                    sums.add(
                        ranks: ranks, features: phi, median: median, prefix: prefixes[block], totals: grandTotals,
                        centre: centre)
                    return sums
                }
            },
            merge: { _, sums in components.value.merge(sums) })

        var gradient = median.gradient(from: grandTotals)
        var stderr = median.standardErrors(from: components.value)
        features.applyDivisors(&gradient, rows: 1)
        features.applyDivisors(&stderr, rows: 1)
        let (jacobian, scaleGradient) = features.split(gradient, rows: 1)
        let (jacobianStderr, scaleGradientStderr) = features.split(stderr, rows: 1)
        var result = SmoothedEstimate(
            inputCount: n, outputCount: 1, samples: s, seed: configuration.seed, medianSampleCount: k,
            value: [median.value + shift], valueStderr: [median.valueStderr],
            jacobian: jacobian, jacobianStderr: jacobianStderr)
        result.attachScaleGradient(scaleGradient, stderr: scaleGradientStderr, isMatrix: configuration.scaleMatrix != nil)
        return result
    }
}

/// s doubles written by the workers, each chunk to its own disjoint range.
private final class ValueBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Double>
    private var released = false

    init(count: Int) {
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: .nan, count: count)
    }

    func release() {
        guard !released else { return }
        released = true
        pointer.deallocate()
    }

    deinit { release() }
}

/// Block results stored by the merge callback, which the reduction calls under its lock.
private final class TotalsBox: @unchecked Sendable {
    var values: [MedianRankTotals]
    init(_ values: [MedianRankTotals]) { self.values = values }
}

private final class ComponentsBox: @unchecked Sendable {
    var value: MedianComponentSums
    init(_ value: MedianComponentSums) { self.value = value }
}
