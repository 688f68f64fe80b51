import Foundation
import GSSCore
import GSSHost
import GSSTestSupport
import Testing

/// A private folder holding a simulator for `simulator=`: a shell script that logs each run (its
/// process group, its row directory, a copy of the input file, the start time) and then execs
/// FakeTEMSimulator with its misbehaviour variables set in the script — never in the test process,
/// whose environment every other test shares. The folder is removed with the sandbox.
final class SimulatorSandbox {
    let folder: String
    let program: String
    /// A stand-in particle file (the fake only checks that it is readable).
    let particle: String

    init(_ name: String, environment: [String: String] = [:]) throws {
        folder = try temporaryDirectory("fake-simulator-\(name)")
        program = folder + "/simulator.sh"
        particle = folder + "/particle.pdb"
        try "ATOM      1  CA  GLY A   1       0.000   0.000   0.000  1.00  0.00           C\n"
            .write(toFile: particle, atomically: true, encoding: .utf8)
        let exports = environment.sorted { $0.key < $1.key }.map { "export \($0.key)='\($0.value)'" }.joined(separator: "\n")
        let script = """
            #!/bin/sh
            echo "$$ $(dirname "$1")" >> '\(folder)/runs'
            cp "$1" '\(folder)'/input-$$.txt
            date +%s.%N >> '\(folder)/starts'
            \(exports)
            exec '\(Products.fakeTEMSimulator)' "$@"

            """
        try writeExecutable(program, script)
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    /// The plugin with engine=external on this sandbox's simulator, 32 × 32 noise-free images.
    func micrograph(_ options: [(String, String)] = []) throws -> PluginBlackBox {
        let base: [(String, String)] = [
            ("engine", "external"), ("simulator", program), ("particle_pdb", particle), ("size", "32"), ("noise", "off"),
        ]
        let keys = Set(options.map(\.0))
        return try PluginBlackBox(library: try PluginLibrary.open(path: Products.bundled("tem")), options: base.filter { !keys.contains($0.0) } + options)
    }

    private func lines(_ name: String) -> [Substring] {
        ((try? String(contentsOfFile: folder + "/" + name, encoding: .utf8)) ?? "").split(separator: "\n")
    }

    /// (process group, row directory) of every run so far.
    var runs: [(group: pid_t, directory: String)] {
        lines("runs").map { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            return (pid_t(parts[0])!, String(parts[1]))
        }
    }

    var startTimes: [Double] { lines("starts").compactMap { Double($0) } }

    /// The input file of one run (by its process group).
    func inputFile(ofGroup group: pid_t) throws -> String {
        try String(contentsOfFile: folder + "/input-\(group).txt", encoding: .utf8)
    }

    /// Row directories of finished runs that still exist (there should be none).
    var leftoverDirectories: [String] { runs.map(\.directory).filter { FileManager.default.fileExists(atPath: $0) } }
}

/// Evaluates rows in one call; the outputs (NaN rows included) and the error, if any.
func evaluateTEM(_ box: PluginBlackBox, _ rows: [[Double]]) throws -> (outputs: [[Double]], error: PluginError?) {
    let m = box.outputCount
    var y = [Double](repeating: 0, count: rows.count * m)
    var failure: PluginError?
    do {
        try box.makeEvaluators(count: 1)[0].evaluate(rows.flatMap { $0 }, rows: rows.count, into: &y)
    } catch let error as PluginError {
        failure = error
    }
    return ((0..<rows.count).map { Array(y[($0 * m)..<(($0 + 1) * m)]) }, failure)
}

/// The `tem` plugin's engine=external (Plugins/TEM/tem_external.c) against FakeTEMSimulator, which
/// parses TEM-simulator input files strictly and writes a known image: voltage/100 + focal length
/// + a Gaussian spot of width 8 pixels at the specimen position (see its header comment).
@Suite("The tem plugin's external TEM-simulator wrapper")
struct TEMExternalEngineTests {
    /// The fake's image for one row, as float32 values (what the MRC file holds).
    static func expectedImage(voltage: Double, focalLength: Double, x: Double, y: Double, size: Int = 32, pixel: Double = 0.15) -> [Double] {
        let cx = 0.5 * Double(size - 1) + x / pixel, cy = 0.5 * Double(size - 1) + y / pixel
        return (0..<(size * size)).map { k in
            let (row, column) = (Double(k / size), Double(k % size))
            let r2 = (column - cx) * (column - cx) + (row - cy) * (row - cy)
            return Double(Float(voltage / 100 + focalLength + exp(-r2 / (2 * 8 * 8))))
        }
    }

    static func largestDifference(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map { abs($0 - $1) }.max()! }

    @Test("each row writes a TEM-simulator input file, runs the program, and returns its MRC image unnormalised")
    func endToEnd() throws {
        let sandbox = try SimulatorSandbox("end-to-end")
        let box = try sandbox.micrograph([("params", "voltage,focal_length,x,y"), ("dose", "2000"), ("defocus", "1.5")])
        #expect(box.inputCount == 4 && box.outputCount == 32 * 32)
        let rows = [[250.0, 2.5, 0.9, -0.6], [300, 3, 0, 0]]
        let (images, error) = try evaluateTEM(box, rows)
        #expect(error == nil)
        for (row, image) in zip(rows, images) {
            let expected = Self.expectedImage(voltage: row[0], focalLength: row[1], x: row[2], y: row[3])
            #expect(Self.largestDifference(image, expected) < 1e-6 * 6, "row \(row)")
        }
        // Unnormalised: every pixel keeps the fake's offset voltage/100 + focal length (5 and 6).
        #expect(images[0].allSatisfy { $0 > 5 && $0 <= 6 + 1e-6 } && images[1].allSatisfy { $0 > 6 && $0 <= 7 + 1e-6 })

        let runs = sandbox.runs
        #expect(runs.count == 2)
        #expect(Set(runs.map(\.directory)).count == 2, "each row has a private directory")
        #expect(sandbox.leftoverDirectories.isEmpty, "left behind: \(sandbox.leftoverDirectories)")
        let inputs = try runs.map { try sandbox.inputFile(ofGroup: $0.group) }
        let first = try #require(inputs.first { $0.contains("acc_voltage = 250\n") })
        let directory = try #require(runs.first { first.contains($0.directory + "/") }?.directory)
        let sections = first.split(separator: "\n").filter { $0.hasPrefix("===") }.map(String.init)
        #expect(sections == [
            "=== simulation ===", "=== sample ===", "=== particle TMV ===", "=== particleset ===", "=== geometry ===",
            "=== electronbeam ===", "=== optics ===", "=== detector ===",
        ])
        for line in [
            "acc_voltage = 250", "focal_length = 2.5", "dose_per_im = 2000", "defocus_nominal = 1.5", "magnification = 50000",
            "pixel_size = 7.5", "det_pix_x = 32", "det_pix_y = 32", "use_quantization = no", "source = pdb",
            "pdb_file_in = \"\(sandbox.particle)\"", "image_file_out = \"\(directory)/micrograph.mrc\"",
            "coord_file_in = \"\(directory)/coordinates.txt\"", "generate_micrographs = yes",
        ] {
            #expect(first.contains(line + "\n"), "input file lacks '\(line)':\n\(first)")
        }
    }

    @Test("noise=on hands the simulator a seed from noise_seed and the row: same row, same image; another seed, another image")
    func noiseSeed() throws {
        let sandbox = try SimulatorSandbox("noise")
        let row = [[280.0, 0.3]]
        func image(seed: Int) throws -> [Double] {
            let (images, error) = try evaluateTEM(try sandbox.micrograph([("noise", "on"), ("noise_seed", "\(seed)")]), row)
            #expect(error == nil, "\(String(describing: error))")
            return images[0]
        }
        let (first, again, other) = (try image(seed: 5), try image(seed: 5), try image(seed: 6))
        #expect(first == again && first != other)
        let clean = Self.expectedImage(voltage: 280, focalLength: 3, x: 0.3, y: 0)
        #expect(Self.largestDifference(first, clean) <= 0.0011)  // the fake's noise: 0.001 × uniform
        let inputs = try sandbox.runs.map { try sandbox.inputFile(ofGroup: $0.group) }
        #expect(inputs.allSatisfy { $0.contains("use_quantization = yes\n") && $0.contains("rand_seed = ") })
    }

    @Test("rows run as parallel processes, at most jobs at once")
    func parallelRuns() throws {
        let pause = 0.5
        let parallel = try SimulatorSandbox("parallel", environment: ["FAKE_TEM_SIMULATOR_SLEEP": "\(pause)"])
        let rows = [[300.0, 0], [301, 0], [302, 0], [303, 0]]
        #expect(try evaluateTEM(try parallel.micrograph([("jobs", "4")]), rows).error == nil)
        // Every run lasts at least `pause` from its start: starts closer than that overlap.
        let starts = parallel.startTimes
        #expect(starts.count == 4 && starts.max()! - starts.min()! < pause, "start times \(starts)")

        let serial = try SimulatorSandbox("serial", environment: ["FAKE_TEM_SIMULATOR_SLEEP": "\(pause)"])
        #expect(try evaluateTEM(try serial.micrograph([("jobs", "1")]), rows).error == nil)
        let sorted = serial.startTimes.sorted()
        #expect(sorted.count == 4 && zip(sorted, sorted.dropFirst()).allSatisfy { $1 - $0 >= pause }, "start times \(sorted)")
    }

    @Test("a misbehaving simulator fails its row with GSS_E_EVALUATION, NaN and a message naming the problem; its directory is removed",
          arguments: [
              ("fail", "exited with status 3; its output ends: fake_tem_simulator: failing on purpose"),
              ("crash", "was killed by signal 6"),
              ("badmode", "wrote an MRC image of mode 1; expected mode 2 (32-bit float)"),
              ("baddims", "wrote an MRC image of 33x32x1 pixels; expected 32x32x1"),
              ("truncate", "wrote an MRC file of 3074 bytes; expected 5122"),
              ("nooutput", "exited normally but left no image file micrograph.mrc"),
              ("nan", "wrote a non-finite pixel value at row 1, column 1"),
          ])
    func misbehaviour(mode: String, phrase: String) throws {
        let sandbox = try SimulatorSandbox(mode, environment: ["FAKE_TEM_SIMULATOR_MODE": mode])
        let (images, error) = try evaluateTEM(try sandbox.micrograph(), [[300, 0]])
        let failure = try #require(error)
        #expect(failure.code == .evaluationFailed)
        #expect(failure.message.contains("GSS_E_EVALUATION: row 0: TEM simulator '\(sandbox.program)' \(phrase)"), "\(failure.message)")
        #expect(images[0].allSatisfy { $0.isNaN })
        #expect(sandbox.runs.count == 1 && sandbox.leftoverDirectories.isEmpty)
    }

    @Test("a simulator that runs past timeout is killed with everything it started, and the row fails")
    func timeout() throws {
        let sandbox = try SimulatorSandbox("hang", environment: ["FAKE_TEM_SIMULATOR_MODE": "hang"])
        let started = Date()
        let (images, error) = try evaluateTEM(try sandbox.micrograph([("timeout", "1")]), [[300, 0]])
        let elapsed = Date().timeIntervalSince(started)
        let failure = try #require(error)
        #expect(failure.code == .evaluationFailed)
        #expect(failure.message.contains("timed out after 1 s and was killed; its output ends: fake_tem_simulator: hanging on purpose"), "\(failure.message)")
        #expect(elapsed >= 1 && elapsed < 10)
        #expect(images[0].allSatisfy { $0.isNaN })
        // The fake forks a child into its process group before hanging: both are gone.
        #expect(survivors(ofGroups: sandbox.runs.map(\.group)).isEmpty)
        #expect(sandbox.leftoverDirectories.isEmpty)
    }

    @Test("one failing row among good ones: the error names that row, the others keep their images")
    func oneBadRow() throws {
        let sandbox = try SimulatorSandbox("one-bad", environment: ["FAKE_TEM_SIMULATOR_MODE": "fail", "FAKE_TEM_SIMULATOR_ONLY_VOLTAGE": "310"])
        let (images, error) = try evaluateTEM(try sandbox.micrograph(), [[300, 0], [310, 0], [320, 0]])
        let failure = try #require(error)
        #expect(failure.message.contains("row 1: TEM simulator") && !failure.message.contains("more failed rows"), "\(failure.message)")
        #expect(images[1].allSatisfy { $0.isNaN })
        #expect(Self.largestDifference(images[0], Self.expectedImage(voltage: 300, focalLength: 3, x: 0, y: 0)) < 1e-5)
        #expect(Self.largestDifference(images[2], Self.expectedImage(voltage: 320, focalLength: 3, x: 0, y: 0)) < 1e-5)
        #expect(sandbox.runs.count == 3 && sandbox.leftoverDirectories.isEmpty)
    }

    @Test("incomplete or contradictory external configurations are refused at create")
    func configurationErrors() throws {
        let sandbox = try SimulatorSandbox("config")
        let cases: [([(String, String)], String)] = [
            ([("engine", "external"), ("particle_pdb", sandbox.particle)], "engine=external needs option simulator=PATH"),
            ([("engine", "external"), ("simulator", sandbox.particle), ("particle_pdb", sandbox.particle)], "is not an executable file"),
            ([("engine", "external"), ("simulator", sandbox.program)], "needs exactly one of particle_pdb=PATH, particle_map=PATH"),
            ([("engine", "external"), ("simulator", sandbox.program), ("particle_pdb", sandbox.particle), ("particle_map", sandbox.particle)],
             "needs exactly one of particle_pdb=PATH, particle_map=PATH"),
            ([("engine", "external"), ("simulator", sandbox.program), ("particle_pdb", sandbox.folder + "/missing.pdb")], "is not a readable file"),
            ([("engine", "external"), ("simulator", sandbox.program), ("particle_pdb", sandbox.particle), ("rod_length", "30")],
             "option rod_length applies only to engine=builtin"),
            ([("engine", "external"), ("simulator", sandbox.program), ("particle_map", sandbox.particle), ("pdb_transf", sandbox.particle)],
             "option pdb_transf needs particle_pdb"),
        ]
        for (options, phrase) in cases {
            #expect {
                _ = try PluginBlackBox(library: try PluginLibrary.open(path: Products.bundled("tem")), options: options)
            } throws: { error in
                (error as? PluginError)?.code == .createFailed && "\(error)".contains(phrase)
            }
        }
        #expect(sandbox.runs.isEmpty)
    }
}
