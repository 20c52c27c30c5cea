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
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // pkg-config tulga-opencv (written by scripts/setup from opencv4): include flags, and the
        // six OpenCV modules the vision shim links.
        .systemLibrary(
            name: "COpenCV",
            pkgConfig: "tulga-opencv",
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
        // Kazakh identity numbers (IIN, BIN) and their check digits.
        .target(name: "TulgaIdentity", swiftSettings: swiftSettings),
        // Pure rules: attempts, decision bands, moderation leases, roles, result SMS texts.
        .target(name: "TulgaPolicy", swiftSettings: swiftSettings),
        // The Digital ID record, PIN rules, consents.
        .target(name: "TulgaDigitalID", swiftSettings: swiftSettings),
        // OpenSSL (pkg-config openssl): scrypt, CSPRNG; swift-crypto: AES-GCM for evidence.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(
            name: "TulgaCrypto",
            dependencies: ["COpenSSL", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // Storage: SQLite (GRDB) and PostgreSQL (postgres-nio) behind one SQL session; the Store.
        .target(
            name: "TulgaStorage",
            dependencies: [
                "TulgaCrypto", "TulgaPolicy", "TulgaDigitalID",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The OpenSSL operations issuance needs (keys, CSR, certificates, CRL, PKCS#12) behind a C header.
        .target(name: "CTulgaPKI", dependencies: ["COpenSSL"]),
        // Issuance: SMS codes, applications, local CA, two certificates, PKCS#12 install.
        .target(
            name: "TulgaIssuance",
            dependencies: ["CTulgaPKI", "TulgaStorage", "TulgaCrypto", "TulgaDigitalID", "TulgaIdentity"],
            swiftSettings: swiftSettings
        ),
        // One verification attempt: liveness + comparison -> policy decision -> store.
        .target(
            name: "TulgaVerification",
            dependencies: ["TulgaFace", "TulgaLiveness", "TulgaPolicy", "TulgaStorage", "TulgaIdentity"],
            swiftSettings: swiftSettings
        ),
        // The HTTP service: Hummingbird 2, API keys, rate limits, problem+json, metrics, OpenAPI.
        .target(
            name: "TulgaServer",
            dependencies: [
                "TulgaFace", "TulgaLiveness", "TulgaPolicy", "TulgaStorage", "TulgaIssuance", "TulgaVerification",
                "TulgaIdentity", "TulgaDigitalID", "TulgaCrypto",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Resources/openapi.yaml")],
            swiftSettings: swiftSettings
        ),
        // Settings: defaults, overridden by a JSON file.
        .target(name: "TulgaConfig", dependencies: ["TulgaFace", "TulgaLiveness", "TulgaPolicy", "TulgaStorage", "TulgaIssuance", "TulgaServer"], swiftSettings: swiftSettings),
        // The `tulga` command.
        .executableTarget(
            name: "TulgaCLI",
            dependencies: [
                "TulgaFace",
                "TulgaLiveness",
                "TulgaConfig",
                "TulgaIdentity",
                "TulgaPolicy",
                "TulgaDigitalID",
                "TulgaCrypto",
                "TulgaStorage",
                "TulgaVerification",
                "TulgaIssuance",
                "TulgaServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
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
        // Where the repository and ../shared are, for every test target.
        .target(name: "TulgaTestSupport", path: "Tests/TulgaTestSupport", swiftSettings: swiftSettings),
        .testTarget(
            name: "TulgaFaceTests",
            dependencies: ["TulgaTestSupport", "TulgaFace"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TulgaLivenessTests",
            dependencies: ["TulgaTestSupport", "TulgaLiveness", "TulgaFace"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TulgaStorageTests",
            dependencies: ["TulgaStorage", "TulgaPolicy", "TulgaDigitalID", "TulgaIdentity", "TulgaCrypto"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TulgaIssuanceTests",
            dependencies: ["TulgaTestSupport", "TulgaIssuance", "TulgaStorage", "TulgaIdentity", "TulgaCrypto", "TulgaDigitalID", "TulgaPolicy",
                           "TulgaVerification", "TulgaFace", "TulgaLiveness"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TulgaServerTests",
            dependencies: [
                "TulgaTestSupport",
                "TulgaServer", "TulgaStorage", "TulgaCrypto", "TulgaFace", "TulgaLiveness", "TulgaPolicy", "TulgaIssuance",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TulgaCLITests",
            dependencies: ["TulgaTestSupport", "TulgaCLI", "TulgaConfig", "TulgaStorage", "TulgaCrypto", "TulgaPolicy", "TulgaIdentity"],
            swiftSettings: swiftSettings
        ),
    ],
    cxxLanguageStandard: .cxx17
)
