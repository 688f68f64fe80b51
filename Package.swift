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
        linkerSettings: plugin.linkedLibraries.map { .linkedLibrary($0) }
    )
}

let package = Package(
    name: "gss",
    products: [
        .executable(name: "gss", targets: ["gss"]),
        .library(name: "GSSCore", targets: ["GSSCore"]),
        .library(name: "GSSHost", targets: ["GSSHost"]),
    ]
        + bundledPlugins.map { .library(name: $0.product, type: .dynamic, targets: [$0.target]) }
        + fixturePlugins.map { .library(name: $0.product, type: .dynamic, targets: [$0.target]) },
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
    ],
    targets: [
        // The plugin ABI header (include/gss_plugin.h) as a Clang module for the Swift host.
        .systemLibrary(name: "CGSSPlugin", path: "include"),
        // Estimators, distributions, samplers: pure computation on batches of numbers, no I/O.
        .target(
            name: "GSSCore",
            dependencies: [.product(name: "Numerics", package: "swift-numerics")]
        ),
        // Black boxes: the plugin loader and worker lanes.
        .target(name: "GSSHost", dependencies: ["GSSCore", "CGSSPlugin"]),
        // zlib from the system (Debian zlib1g-dev), for PNG files.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Pictures: PNG images, loss curves, image grids, bar charts.
        .target(name: "GSSPlots", dependencies: ["CZlib"]),
        // The `gss` command.
        .executableTarget(
            name: "gss",
            dependencies: [
                "GSSCore", "GSSHost", "GSSPlots",
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
        .testTarget(name: "GSSPlotsTests", dependencies: ["GSSPlots", "GSSTestSupport"]),
        .testTarget(
            name: "GSSCommandTests",
            dependencies: ["GSSCore", "GSSTestSupport", .product(name: "Numerics", package: "swift-numerics")]
        ),
        // A runnable example of the library API (examples/library-usage/README.md): `swift run library-usage`.
        .executableTarget(name: "library-usage", dependencies: ["GSSCore"], path: "examples/library-usage", exclude: ["README.md"]),
        // The camera-pose experiment of the paper's appendix D (examples/teapot-pose/README.md):
        // `swift run -c release teapot-pose`.
        .executableTarget(
            name: "teapot-pose",
            dependencies: ["GSSCore", "GSSHost", "GSSPlots", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "examples/teapot-pose", exclude: ["README.md", "run.sh"]),
    ]
        + bundledPlugins.map { pluginTarget($0, under: "Plugins") }
        + fixturePlugins.map { pluginTarget($0, under: "Tests/Fixtures") },
    swiftLanguageModes: [.v6]
)
