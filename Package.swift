// swift-tools-version: 6.2
import PackageDescription

// Bundled plugins: C sources in Plugins/<Directory>, each built as its own shared object
// lib<product>.so next to the `gss` executable, where the host finds it by id.
struct BundledPlugin {
    let id: String
    let directory: String
    var linkedLibraries: [String] = []
    var product: String { "gss-\(id)" }
    var target: String { "Plugin_\(directory)" }
}

let bundledPlugins: [BundledPlugin] = [
    BundledPlugin(id: "sorter", directory: "Sorter"),
]

// Deliberately broken plugins the tests load (Tests/Fixtures/<Directory>), built like the real ones.
let fixturePlugins: [BundledPlugin] = [
]

let pluginCSettings: [CSetting] = [
    .headerSearchPath("../../include"),
    .unsafeFlags(["-fvisibility=hidden", "-Wall", "-Wextra"]),
]

func pluginTarget(_ plugin: BundledPlugin, under root: String) -> Target {
    .target(
        name: plugin.target,
        path: "\(root)/\(plugin.directory)",
        publicHeadersPath: ".",
        cSettings: pluginCSettings,
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
        // The `gss` command.
        .executableTarget(
            name: "gss",
            dependencies: [
                "GSSCore", "GSSHost",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "GSSCoreTests",
            dependencies: ["GSSCore", .product(name: "Numerics", package: "swift-numerics")]
        ),
        .testTarget(name: "GSSHostTests", dependencies: ["GSSHost", "GSSCore"]),
        .testTarget(name: "GSSCommandTests", dependencies: ["GSSCore"]),
    ]
        + bundledPlugins.map { pluginTarget($0, under: "Plugins") }
        + fixturePlugins.map { pluginTarget($0, under: "Tests/Fixtures") },
    swiftLanguageModes: [.v6]
)
