// swift-tools-version:6.0
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "tulga",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tulga", targets: ["TulgaCLI"]),
        .library(name: "TulgaFace", targets: ["TulgaFace"]),
        .executable(name: "tulga-bench", targets: ["TulgaBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // pkg-config opencv4: include and link flags for the vision shim.
        .systemLibrary(
            name: "COpenCV",
            pkgConfig: "opencv4",
            providers: [.apt(["libopencv-dev"])]
        ),
        // The C++ vision shim behind a plain C header (CTulgaVision.h).
        .target(
            name: "CTulgaVision",
            dependencies: ["COpenCV"],
            cxxSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("stdc++")]
        ),
        // Typed Swift face pipeline: images, frame sources, detector, embedder, quality, comparison.
        .target(
            name: "TulgaFace",
            dependencies: ["CTulgaVision"],
            swiftSettings: swiftSettings
        ),
        // Liveness: the pure challenge state machine, its runner over frame sources, kiosk texts.
        .target(
            name: "TulgaLiveness",
            dependencies: ["TulgaFace", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // Settings: defaults, overridden by a JSON file.
        .target(name: "TulgaConfig", dependencies: ["TulgaFace", "TulgaLiveness"], swiftSettings: swiftSettings),
        // The `tulga` command.
        .executableTarget(
            name: "TulgaCLI",
            dependencies: [
                "TulgaFace",
                "TulgaLiveness",
                "TulgaConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // Benchmarks: stage timings and liveness frame rate (release builds only).
        .executableTarget(
            name: "TulgaBench",
            dependencies: ["TulgaFace", "TulgaLiveness"],
            path: "Benchmarks/TulgaBench",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TulgaFaceTests",
            dependencies: ["TulgaFace"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TulgaLivenessTests",
            dependencies: ["TulgaLiveness", "TulgaFace"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TulgaCLITests",
            dependencies: ["TulgaCLI", "TulgaConfig"],
            swiftSettings: swiftSettings
        ),
    ],
    cxxLanguageStandard: .cxx17
)
