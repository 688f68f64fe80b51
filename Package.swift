// swift-tools-version: 6.2
import PackageDescription

// Bundled plugins: C sources in Plugins/<Directory>, each built as its own shared object
// lib<product>.so next to the `gss` executable, where the host finds it by id.
struct BundledPlugin {
    let id: String
    let directory: String
    var linkedLibraries: [String] = []
    var productPrefix = "gss-"
    var product: String { productPrefix + id }
    var target: String { "Plugin_\(directory)" }
}

let bundledPlugins: [BundledPlugin] = [
    BundledPlugin(id: "sorter", directory: "Sorter"),
    BundledPlugin(id: "shortest-path", directory: "ShortestPath"),
    BundledPlugin(id: "tem", directory: "TEM", linkedLibraries: ["fftw3", "m"]),
    BundledPlugin(id: "renderer", directory: "Renderer", linkedLibraries: ["m"]),
]

// Deliberately broken plugins the tests load (Tests/Fixtures/<Directory>), built like the real ones.
let fixturePlugins: [BundledPlugin] = [
    "NoEntry", "NullEntry", "SmallStruct", "NullMember", "WrongMajor", "BadID", "Counting", "EvalError",
    // One fault each for `gss conform` and `--isolate` to catch.
    "Segfault", "Abort", "Hang", "NaNOutput", "Nondeterministic", "Overrun", "Underrun", "PartialOutput", "WritesInput",
    "AcceptsAnything", "BatchDependent", "RacyReentrant", "Leaky",
    // The shortest-path plugin's previous solver (binary-heap Dijkstra), the reference its tests compare with.
    "ShortestPathReference",
    // Costs wall time, not CPU: sleeps per row (the MPI checks and their measurements).
    "Sleeper",
    // A plugin built for ABI 1.0 (no typical_scale within its struct_size).
    "MinorZero",
    // Not a plugin: plain C functions with closed forms for the libffi tests.
    "CFunctions",
].map { BundledPlugin(id: $0.lowercased(), directory: $0, productPrefix: "gssfixture-") }

// Plugins see include/ (the ABI) and their parent folder (fixtures share a header there).
func pluginTarget(_ plugin: BundledPlugin, under root: String) -> Target {
    let depth = root.split(separator: "/").count + 1
    let toRoot = Array(repeating: "..", count: depth).joined(separator: "/")
    return .target(
        name: plugin.target,
        path: "\(root)/\(plugin.directory)",
        publicHeadersPath: ".",
        cSettings: [
            .headerSearchPath("\(toRoot)/include"),
            .headerSearchPath(".."),
            .unsafeFlags(["-fvisibility=hidden", "-Wall", "-Wextra"]),
        ],
        // swiftc links every product with the Swift runtime (libswiftCore.so and swiftrt.o); a C
        // plugin uses none of it and must load where no Swift is installed: from the static
        // runtime the linker takes nothing, and without swiftrt.o nothing registers with it.
        linkerSettings: plugin.linkedLibraries.map { .linkedLibrary($0) } + [.unsafeFlags(["-static-stdlib", "-nostartfiles"])]
    )
}

// Every plugin (bundled or fixture) is its own shared object.
let pluginProducts: [Product] = (bundledPlugins + fixturePlugins).map {
    .library(name: $0.product, type: .dynamic, targets: [$0.target])
}
let pluginTargets: [Target] =
    bundledPlugins.map { pluginTarget($0, under: "Plugins") } + fixturePlugins.map { pluginTarget($0, under: "Tests/Fixtures") }

let swiftTargets: [Target] = [
    // The plugin ABI header (include/gss_plugin.h) as a Clang module for the Swift host.
    .systemLibrary(name: "CGSSPlugin", path: "include"),
    // libffi, for calling any C function by its signature (gss --symbol).
    .systemLibrary(name: "CFFI", path: "Sources/CFFI", pkgConfig: "libffi", providers: [.apt(["libffi-dev"])]),
    // OpenBLAS, for the estimators' per-chunk sums as matrix products (dgemm) when there are more
    // than 8 score features; opened on first use (dlopen), so start-up does not pay for it.
    .target(name: "CBLAS", linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("pthread")]),
    // Array logarithms through glibc's vector math library (libmvec, opened on first use), for the
    // inverse CDFs.
    .target(name: "CGSSVectorMath", linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("m")]),
    // Estimators, distributions, samplers: pure computation on batches of numbers, no I/O.
    .target(
        name: "GSSCore",
        dependencies: ["CBLAS", "CGSSVectorMath", .product(name: "Numerics", package: "swift-numerics")]
    ),
    // Linux calls Swift's Glibc module does not import (prctl, memfd_create, mallinfo2, dladdr1).
    .target(name: "CGSSSystem", linkerSettings: [.linkedLibrary("dl")]),
    // Open MPI's C API (pkg-config ompi-c), and a shim of plain C functions over it (MPI's handles
    // and constants are macros); both only with the MPI trait, so that the default build neither
    // needs nor links libmpi.
    .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
    .target(
        name: "CGSSMPI",
        dependencies: [.target(name: "CMPI", condition: .when(traits: ["MPI"]))],
        cSettings: [.define("GSS_WITH_MPI", .when(traits: ["MPI"]))]),
    // Black boxes: the plugin loader and worker lanes, isolated workers, external programs,
    // C functions via libffi; calls spread over MPI ranks (Distributed/, MPI with the trait).
    .target(
        name: "GSSHost",
        dependencies: [
            "GSSCore", "CGSSPlugin", "CGSSSystem", "CFFI",
            .target(name: "CGSSMPI", condition: .when(traits: ["MPI"])),
            .product(name: "Subprocess", package: "swift-subprocess"),
            .product(name: "SystemPackage", package: "swift-system"),
        ]
    ),
    // The library's C API (include/gss.h) for other languages: libGSS.so, with the Swift runtime
    // linked in statically so that it loads where no Swift toolchain is installed (GSSCore and
    // GSSHost stay free of Foundation, which would bring ~60 MB of ICU).
    .target(name: "CGSSLibrary"),
    .target(
        name: "GSSLibrary",
        dependencies: ["GSSCore", "GSSHost", "CGSSLibrary"],
        exclude: ["exports.map"],
        linkerSettings: [
            .unsafeFlags([
                "-static-stdlib", "-Xlinker", "--version-script=\(Context.packageDirectory)/Sources/GSSLibrary/exports.map",
            ])
        ]),
    // zlib from the system (Debian zlib1g-dev), for the tests' PNG reader; GSSPlots opens the
    // library itself (dlopen) when it first writes a PNG file.
    .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
    // Pictures: SVG documents, colour ramps, heat maps, PNG images, loss curves, image grids, bar charts.
    .target(name: "GSSPlots"),
    // Studies over estimator settings (orchestration, journals, result files; not in Core).
    .target(name: "GSSStudy", dependencies: ["GSSCore", "GSSHost", "GSSPlots"]),
    // The `gss` command.
    .executableTarget(
        name: "gss",
        dependencies: [
            "GSSCore", "GSSHost", "CGSSPlugin", "GSSStudy", "GSSPlots",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]
    ),
    // A stand-in for the external TEM-simulator program: parses its input file, writes an MRC image.
    .executableTarget(
        name: "FakeTEMSimulator", path: "Tests/Support/FakeTEMSimulator",
        linkerSettings: [.linkedLibrary("m")]
    ),
    // Helpers shared by the test targets: where the products are, running programs.
    .target(name: "GSSTestSupport", dependencies: ["CZlib"], path: "Tests/GSSTestSupport"),
    .testTarget(
        name: "GSSCoreTests",
        dependencies: ["GSSCore", .product(name: "Numerics", package: "swift-numerics")]
    ),
    .testTarget(name: "GSSHostTests", dependencies: ["GSSHost", "GSSCore", "GSSTestSupport"]),
    .testTarget(name: "GSSStudyTests", dependencies: ["GSSStudy", "GSSPlots", "GSSCore", "GSSTestSupport"]),
    .testTarget(name: "GSSPlotsTests", dependencies: ["GSSPlots", "GSSTestSupport"]),
    // The C API through libGSS.so, by a C program (C/capi_check.c) built and run by the tests.
    .testTarget(name: "GSSLibraryTests", dependencies: ["GSSTestSupport"], exclude: ["C"]),
    .testTarget(
        name: "GSSCommandTests",
        dependencies: ["GSSCore", "GSSTestSupport", .product(name: "Numerics", package: "swift-numerics")]
    ),
    // A runnable example of the library API (examples/library-usage/README.md): `swift run library-usage`.
    .executableTarget(name: "library-usage", dependencies: ["GSSCore"], path: "examples/library-usage", exclude: ["README.md"]),
    // In-process timings for the side-by-side benchmark (bench/run.sh): `gss-bench api|f-only|overhead`.
    .executableTarget(
        name: "gss-bench",
        dependencies: ["GSSCore", "GSSHost", "CGSSVectorMath", .product(name: "ArgumentParser", package: "swift-argument-parser")],
        path: "bench/gss-bench"),
    // What the experiments share: a resumable journal of runs, jobs on worker threads, CPU time.
    .target(name: "ExperimentSupport", path: "examples/ExperimentSupport"),
    // The camera-pose experiment of the paper's appendix D (examples/teapot-pose/README.md):
    // `swift run -c release teapot-pose`.
    .executableTarget(
        name: "teapot-pose",
        dependencies: [
            "GSSCore", "GSSHost", "GSSPlots", "ExperimentSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        path: "examples/teapot-pose", exclude: ["README.md", "run.sh"]),
    // The TEM microscope-parameter experiment of the paper's appendix D (examples/tem-parameters/README.md):
    // `swift run -c release tem-parameters`.
    .executableTarget(
        name: "tem-parameters",
        dependencies: [
            "GSSCore", "GSSHost", "GSSPlots", "ExperimentSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        path: "examples/tem-parameters", exclude: ["README.md", "run.sh"]),
]

let package = Package(
    name: "gss",
    products: [
        .executable(name: "gss", targets: ["gss"]),
        .library(name: "GSSCore", targets: ["GSSCore"]),
        .library(name: "GSSHost", targets: ["GSSHost"]),
        // SwiftPM refuses a library product named like the `gss` executable: the file is libGSS.so,
        // installed as libgss.so.
        .library(name: "GSS", type: .dynamic, targets: ["GSSLibrary"]),
    ] + pluginProducts,
    // `swift build -c release --traits MPI`: gss spreads black-box evaluations over MPI ranks
    // (README, "Across machines with MPI"). Off by default.
    traits: [
        .trait(name: "MPI", description: "Spread black-box evaluations over MPI ranks (Open MPI: mpirun or srun)."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        // Without its default trait (SubprocessFoundation), so GSSHost links no Foundation.
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2", traits: []),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: swiftTargets + pluginTargets,
    swiftLanguageModes: [.v6]
)
