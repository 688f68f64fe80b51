import Foundation
import GSSCore
import GSSHost
import GSSTestSupport
import Testing

/// The counting fixture exports its live-instance counter; read it through dlsym.
private func liveInstances() -> Int32 {
    let handle = dlopen(Products.fixture("counting"), RTLD_NOW | RTLD_NOLOAD)
    let symbol = dlsym(handle, "fixture_live_instances")
    return unsafeBitCast(symbol, to: (@convention(c) () -> Int32).self)()
}

@Suite("Plugin instances and workers", .serialized)
struct PluginInstanceTests {
    @Test("a non-reentrant plugin gets one instance per worker, all destroyed afterwards")
    func instancePerWorker() throws {
        let library = try PluginLibrary.open(path: Products.fixture("counting"))
        #expect(!library.isReentrant)
        let before = liveInstances()
        do {
            let box = try PluginBlackBox(library: library, options: [("n", "3")])
            #expect(liveInstances() == before + 1)
            let evaluators = try box.makeEvaluators(count: 4)
            #expect(evaluators.count == 4)
            #expect(liveInstances() == before + 4)
            // The fixture fails if evaluate ever overlaps on one instance: run 4 threads hard.
            let configuration = SmoothingConfiguration(distribution: .gaussian, samples: 20_000, sampler: .mc, seed: 4)
            let estimate = try Smoother(configuration: configuration, threads: 4).estimate(box, at: [0.5, -1, 2])
            #expect(estimate.value.count == 3)
        }
        #expect(liveInstances() == before, "instances leaked")
    }

    @Test("options reach create; dims follow them")
    func optionsReachCreate() throws {
        let library = try PluginLibrary.open(path: Products.bundled("sorter"))
        let box = try PluginBlackBox(library: library, options: [("n", "7"), ("mode", "ranks")])
        #expect(box.inputCount == 7 && box.outputCount == 7)
        #expect(try box.primary.outputShape() == [7])
        let permutation = try PluginBlackBox(library: library, options: [("n", "4")])
        #expect(permutation.outputCount == 16)
        #expect(try permutation.primary.outputShape() == [4, 4])
    }

    @Test("an evaluation error names the sample and the input row")
    func evaluationErrorNamesRow() throws {
        let library = try PluginLibrary.open(path: Products.fixture("evalerror"))
        let box = try PluginBlackBox(library: library, options: [])
        let configuration = SmoothingConfiguration(distribution: .logistic, samples: 4000, sampler: .mc, seed: 8)
        let error = #expect(throws: SmoothingError.self) { try Smoother(configuration: configuration, threads: 2).estimate(box, at: [1]) }
        #expect(error?.code == .evaluationFailed)
        #expect(error?.message.contains("plugin 'eval-error'") == true)
        #expect(error?.message.contains("GSS_E_EVALUATION") == true)
        let input = try #require(error?.input)
        #expect(input[0] > 5, "the blamed row must be one the plugin could not compute")
    }

    @Test("a plugin returning NaN with GSS_OK is caught, not averaged")
    func silentNaNIsCaught() throws {
        let library = try PluginLibrary.open(path: Products.fixture("evalerror"))
        let box = try PluginBlackBox(library: library, options: [("silent", "1")])
        let configuration = SmoothingConfiguration(distribution: .logistic, samples: 4000, sampler: .mc, seed: 8)
        let error = #expect(throws: SmoothingError.self) { try Smoother(configuration: configuration).estimate(box, at: [1]) }
        #expect(error?.message.contains("non-finite output") == true)
    }
}
