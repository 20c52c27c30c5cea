// swift-tools-version:6.0
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "tulga",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tulga", targets: ["TulgaCLI"]),
        .library(name: "TulgaFace", targets: ["TulgaFace"]),
        .executable(name: "tulga-bench", targets: ["TulgaBench"]),
        // Clips (FFmpeg) and cameras (videoio), each loaded by CTulgaVision with dlopen only when used (next to `tulga`).
        .library(name: "TulgaVideo", type: .dynamic, targets: ["TulgaVideo"]),
        .library(name: "TulgaCamera", type: .dynamic, targets: ["TulgaCamera"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Already resolved through postgres-nio; named here for TulgaStorage's TLS settings.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
    ],
    targets: [
        // MARK: Pure core: links nothing but Foundation.
        // The clock, the error model and the ru/kk/en message catalogue.
        .target(name: "TulgaCore", swiftSettings: swiftSettings),
        // Face value types (Rect, Point, DetectedFace, HeadPose, FaceQuality, Embedding), without C.
        .target(name: "TulgaFaceModel", swiftSettings: swiftSettings),
        // Kazakh identity numbers (IIN, BIN) and their check digits.
        .target(name: "TulgaIdentity", dependencies: ["TulgaCore"], swiftSettings: swiftSettings),
        // ICAO 9303 machine-readable zones (TD1, TD3): fields, check digits, OCR corrections, the IIN.
        .target(name: "TulgaMRZ", dependencies: ["TulgaCore", "TulgaIdentity"], swiftSettings: swiftSettings),
        // Pure rules: attempt limit and lifecycle, score bands, the moderation case lifecycle, roles.
        .target(name: "TulgaPolicy", dependencies: ["TulgaCore"], swiftSettings: swiftSettings),
        // Liveness: the pure challenge state machine, guidance, replay rule, prompt messages.
        .target(name: "TulgaLiveness", dependencies: ["TulgaCore", "TulgaFaceModel"], swiftSettings: swiftSettings),

        // MARK: Native shells.
        // pkg-config tulga-vision (written by scripts/setup from opencv4): include flags, and the
        // four OpenCV modules the vision shim links (dnn, objdetect, imgproc, core).
        .systemLibrary(
            name: "COpenCV",
            pkgConfig: "tulga-vision",
            providers: [.apt(["libopencv-dev"])]
        ),
        // pkg-config tulga-ffmpeg: FFmpeg's libraries (and OpenCV's core, for its exception type), for libTulgaVideo.so only.
        .systemLibrary(
            name: "COpenCVVideo",
            pkgConfig: "tulga-ffmpeg",
            providers: [.apt(["libopencv-dev", "libavformat-dev", "libavcodec-dev", "libswscale-dev"])]
        ),
        // pkg-config tulga-camera: OpenCV's videoio, for libTulgaCamera.so only.
        .systemLibrary(name: "COpenCVCamera", pkgConfig: "tulga-camera", providers: [.apt(["libopencv-dev"])]),
        // The tables libTulgaVideo.so and libTulgaCamera.so export (header only), shared by both sides of the dlopen.
        .target(name: "CTulgaVideoABI"),
        // The C++ vision shim behind a plain C header (CTulgaVision.h); JPEG and PNG through
        // libjpeg-turbo and libpng directly (codec.c); clips through libTulgaVideo.so, cameras through
        // libTulgaCamera.so; the recognizer's packed model (pack.cpp, SHA-256 through libcrypto).
        .target(
            name: "CTulgaVision",
            dependencies: ["COpenCV", "CTulgaVideoABI"],
            linkerSettings: [.linkedLibrary("stdc++"), .linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("dl"), .linkedLibrary("crypto")]
        ),
        // libTulgaVideo.so: video files through FFmpeg's own libraries (bounded).
        .target(name: "TulgaVideo", dependencies: ["COpenCVVideo", "CTulgaVideoABI"], linkerSettings: [.linkedLibrary("stdc++")]),
        // libTulgaCamera.so: V4L2 cameras through videoio.
        .target(name: "TulgaCamera", dependencies: ["COpenCVCamera", "CTulgaVideoABI"], linkerSettings: [.linkedLibrary("stdc++")]),
        // pkg-config tulga-tesseract: Tesseract's C API headers (tesseract/capi.h) for CTulgaDocument, which
        // loads libtesseract with dlopen when a document is read (nothing links it).
        .systemLibrary(name: "CTesseract", pkgConfig: "tulga-tesseract", providers: [.apt(["libtesseract-dev", "tesseract-ocr-eng"])]),
        // The document reader's C++ shim behind a plain C header: the page and the MRZ band with
        // OpenCV, the characters with Tesseract.
        .target(name: "CTulgaDocument", dependencies: ["COpenCV", "CTesseract"], linkerSettings: [.linkedLibrary("stdc++"), .linkedLibrary("dl")]),
        // Typed Swift face pipeline: images, frame sources, detector, embedder, quality, comparison.
        .target(name: "TulgaFace", dependencies: ["CTulgaVision", "TulgaCore", "TulgaFaceModel"], swiftSettings: swiftSettings),
        // The liveness runner: frames → observations for the pure machine, and the guidance loop.
        .target(
            name: "TulgaLivenessRunner",
            dependencies: ["TulgaFace", "TulgaFaceModel", "TulgaLiveness"],
            swiftSettings: swiftSettings
        ),
        // Reading a document photo: page → MRZ → check digits → portrait, each refusal named.
        .target(
            name: "TulgaDocument",
            dependencies: ["CTulgaDocument", "TulgaMRZ", "TulgaFace", "TulgaFaceModel", "TulgaCore"],
            swiftSettings: swiftSettings
        ),
        // OpenSSL (pkg-config openssl): scrypt, CSPRNG; swift-crypto: AES-GCM for evidence.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(
            name: "TulgaCrypto",
            dependencies: ["COpenSSL", "TulgaCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The OpenSSL operations swift-certificates does not cover (keys, PKCS#12, CRL, OCSP, signing),
        // and PKCS#11 tokens through dlopen, behind a C header.
        .target(name: "CTulgaPKI", dependencies: ["COpenSSL"], linkerSettings: [.linkedLibrary("dl")]),
        // Both sides' PKI: key algorithms and purposes, request checks (swift-certificates), the shim in Swift.
        .target(
            name: "TulgaPKI",
            dependencies: ["CTulgaPKI", "TulgaCore", .product(name: "X509", package: "swift-certificates"),
                           .product(name: "SwiftASN1", package: "swift-asn1"), .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "_CryptoExtras", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The applicant's key store (the NCALayer role): keys born in a folder or on a PKCS#11 token,
        // requests out, certificates in. Links no database and no server code.
        .target(name: "TulgaKeyStore", dependencies: ["TulgaPKI", "TulgaCore", "CTulgaPKI"], swiftSettings: swiftSettings),
        // The local key agent (`tulga keys agent`): the page's WebSocket on 127.0.0.1 over the key store.
        // The protocol is pure (Protocol/); the server a thin shell on SwiftNIO's own NIOWebSocket.
        .target(
            name: "TulgaKeyAgent",
            dependencies: ["TulgaKeyStore", "TulgaPKI", "TulgaCore", "TulgaIdentity",
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio"),
                           .product(name: "NIOWebSocket", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),

        // MARK: Storage and each module's records.
        // The SQL session over SQLite (GRDB) and PostgreSQL (postgres-nio), the ordered migrator,
        // the audit chain and the outbox. Depends on no domain module.
        .target(
            name: "TulgaStorage",
            dependencies: [
                "TulgaCore", "TulgaCrypto",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The registry: people and their sealed photos.
        .target(name: "TulgaRegistry", dependencies: ["TulgaCore", "TulgaCrypto", "TulgaStorage"], swiftSettings: swiftSettings),
        // Attempts, the per-IIN counter, in-person acceptance, the replay ledger.
        .target(name: "TulgaAttempts", dependencies: ["TulgaCore", "TulgaCrypto", "TulgaPolicy", "TulgaStorage"], swiftSettings: swiftSettings),
        // Moderation cases and moderators.
        .target(name: "TulgaModeration", dependencies: ["TulgaCore", "TulgaCrypto", "TulgaPolicy", "TulgaStorage"], swiftSettings: swiftSettings),
        // The Digital ID: pure rules (lifecycle, PIN counter, consent limits) and its records.
        .target(name: "TulgaDigitalID", dependencies: ["TulgaCore", "TulgaCrypto", "TulgaStorage"], swiftSettings: swiftSettings),
        // The legal-entity register: organisations, their first heads and employees' roles.
        .target(name: "TulgaLegalEntities", dependencies: ["TulgaCore", "TulgaIdentity", "TulgaStorage"], swiftSettings: swiftSettings),
        // API keys of calling systems.
        .target(name: "TulgaAPIKeys", dependencies: ["TulgaCore", "TulgaCrypto", "TulgaStorage"], swiftSettings: swiftSettings),
        // The browser portal's sessions: pure rules (lifetime, IIN binding, the CSRF token) and their records.
        .target(name: "TulgaPortal", dependencies: ["TulgaCore", "TulgaCrypto", "TulgaStorage"], swiftSettings: swiftSettings),
        // Issuance: pure rules (application lifecycle, SMS codes, templates), phones and codes,
        // applications issued from the applicant's requests, the local CA, CRL and OCSP.
        .target(
            name: "TulgaIssuance",
            dependencies: ["TulgaPKI", "TulgaCore", "TulgaStorage", "TulgaCrypto", "TulgaDigitalID", "TulgaIdentity", "TulgaLegalEntities",
                           "TulgaAttempts", "TulgaPolicy"],
            swiftSettings: swiftSettings
        ),

        // E-mail: the SMTP client (SwiftNIO, NIOSSL for STARTTLS), MIME rendering, the `mail`
        // settings and delivery of the outbox's e-mails.
        .target(
            name: "TulgaMail",
            dependencies: [
                "TulgaCore", "TulgaCrypto", "TulgaStorage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Orchestration and shells.
        // One orchestration layer: the records together, the attempt runner, the moderation desk,
        // background services.
        .target(
            name: "TulgaFlow",
            dependencies: [
                "TulgaCore", "TulgaFace", "TulgaFaceModel", "TulgaLiveness", "TulgaLivenessRunner", "TulgaPolicy", "TulgaIdentity",
                "TulgaCrypto", "TulgaStorage", "TulgaRegistry", "TulgaAttempts", "TulgaModeration", "TulgaDigitalID", "TulgaAPIKeys",
                "TulgaIssuance", "TulgaLegalEntities", "TulgaPKI", "TulgaMail", "TulgaDocument", "TulgaMRZ", "TulgaPortal",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The accuracy and attack report: face comparison, the continuity threshold, liveness trials.
        .target(
            name: "TulgaEvaluation",
            dependencies: ["TulgaCore", "TulgaFace", "TulgaFaceModel", "TulgaLiveness", "TulgaLivenessRunner"],
            exclude: ["report.schema.json"],
            swiftSettings: swiftSettings
        ),
        // Settings: defaults, overridden by a JSON file. Depends on no server code.
        .target(
            name: "TulgaConfig",
            dependencies: ["TulgaFace", "TulgaLiveness", "TulgaPolicy", "TulgaModeration", "TulgaIssuance", "TulgaFlow", "TulgaEvaluation", "TulgaMail",
                           "TulgaPortal"],
            swiftSettings: swiftSettings
        ),
        // The HTTP service: Hummingbird 2, a route collection per area, API keys, rate limits,
        // problem+json, metrics, OpenAPI.
        .target(
            name: "TulgaServer",
            dependencies: [
                "TulgaCore", "TulgaConfig", "TulgaFlow", "TulgaFace", "TulgaLiveness", "TulgaLivenessRunner", "TulgaPolicy",
                "TulgaModeration", "TulgaIssuance", "TulgaAPIKeys", "TulgaIdentity", "TulgaCrypto", "TulgaPKI", "TulgaLegalEntities",
                "TulgaDocument", "TulgaDigitalID", "TulgaPortal",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The browser portal's page (`/app/`): plain HTML, CSS and JavaScript, no build step.
            resources: [.copy("Resources/openapi.yaml"), .copy("Resources/app")],
            swiftSettings: swiftSettings
        ),
        // The `tulga` command: parses and prints.
        .executableTarget(
            name: "TulgaCLI",
            dependencies: [
                "TulgaCore", "TulgaFace", "TulgaFaceModel", "TulgaLiveness", "TulgaLivenessRunner", "TulgaConfig", "TulgaIdentity",
                "TulgaPolicy", "TulgaDigitalID", "TulgaCrypto", "TulgaStorage", "TulgaRegistry", "TulgaAttempts", "TulgaModeration",
                "TulgaAPIKeys", "TulgaIssuance", "TulgaFlow", "TulgaServer", "TulgaPKI", "TulgaKeyStore", "TulgaLegalEntities",
                "TulgaEvaluation", "TulgaMail", "TulgaDocument", "TulgaMRZ", "TulgaKeyAgent",
                .product(name: "Hummingbird", package: "hummingbird"),
                // `keys --server`'s HTTP client (ServiceClient.swift), in place of FoundationNetworking's libcurl.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // Benchmarks: stage timings and liveness frame rate (release builds only).
        .executableTarget(
            name: "TulgaBench",
            dependencies: ["TulgaFace", "TulgaFaceModel", "TulgaLiveness", "TulgaLivenessRunner", "TulgaDocument", "TulgaMRZ", "TulgaCore"],
            path: "Benchmarks/TulgaBench",
            swiftSettings: swiftSettings
        ),

        // MARK: Tests.
        // Repository paths, the manual clock, the two database backends, for every test target.
        .target(
            name: "TulgaTestSupport",
            dependencies: ["TulgaCore", "TulgaStorage", "TulgaCrypto", "TulgaFlow", "TulgaPolicy", "TulgaLiveness", "TulgaIssuance",
                           "TulgaPKI", "TulgaKeyStore",
                           // The WebSocket client the key agent's tests talk through.
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOWebSocket", package: "swift-nio")],
            path: "Tests/TulgaTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TulgaCoreTests", dependencies: ["TulgaCore"], swiftSettings: swiftSettings),
        .testTarget(name: "TulgaPolicyTests", dependencies: ["TulgaPolicy", "TulgaCore"], swiftSettings: swiftSettings),
        .testTarget(name: "TulgaIdentityTests", dependencies: ["TulgaIdentity", "TulgaCore"], swiftSettings: swiftSettings),
        .testTarget(name: "TulgaMRZTests", dependencies: ["TulgaMRZ", "TulgaIdentity", "TulgaCore"], swiftSettings: swiftSettings),
        // Documents generated by scripts/render-document into a temporary folder, read end to end.
        .testTarget(
            name: "TulgaDocumentTests",
            dependencies: ["TulgaTestSupport", "TulgaDocument", "TulgaMRZ", "TulgaFace", "TulgaCore"],
            swiftSettings: swiftSettings
        ),
        // The key agent's pure protocol: requests, params, answers, codes, origins.
        .testTarget(
            name: "TulgaKeyAgentTests",
            dependencies: ["TulgaTestSupport", "TulgaKeyAgent", "TulgaKeyStore", "TulgaPKI", "TulgaCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TulgaCryptoTests", dependencies: ["TulgaTestSupport", "TulgaCrypto", "TulgaCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TulgaDigitalIDTests",
            dependencies: ["TulgaTestSupport", "TulgaDigitalID", "TulgaCore", "TulgaStorage", "TulgaCrypto"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TulgaFaceTests",
            // CTulgaVision for tv_model_set_test_hook (PackedModelTests), Crypto for an independent SHA-256.
            dependencies: ["TulgaTestSupport", "TulgaFace", "TulgaFaceModel", "TulgaCore", "CTulgaVision",
                           .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The pure liveness machine: no OpenCV, no models.
        .testTarget(name: "TulgaLivenessTests", dependencies: ["TulgaLiveness", "TulgaFaceModel", "TulgaCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TulgaLivenessRunnerTests",
            dependencies: ["TulgaTestSupport", "TulgaLiveness", "TulgaLivenessRunner", "TulgaFace", "TulgaFaceModel", "TulgaCore",
                           "TulgaEvaluation"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TulgaEvaluationTests",
            dependencies: ["TulgaTestSupport", "TulgaEvaluation", "TulgaConfig", "TulgaFace", "TulgaLiveness", "TulgaCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TulgaStorageTests",
            dependencies: ["TulgaTestSupport", "TulgaStorage", "TulgaFlow", "TulgaPolicy", "TulgaDigitalID", "TulgaIdentity", "TulgaCrypto",
                           "TulgaRegistry", "TulgaAttempts", "TulgaModeration", "TulgaCore", "TulgaIssuance", "TulgaAPIKeys", "TulgaFaceModel", "TulgaPortal",
                           .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
                           .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TulgaIssuanceTests",
            dependencies: ["TulgaTestSupport", "TulgaIssuance", "TulgaStorage", "TulgaIdentity", "TulgaCrypto", "TulgaDigitalID", "TulgaPolicy",
                           "TulgaFlow", "TulgaFace", "TulgaFaceModel", "TulgaLiveness", "TulgaRegistry", "TulgaCore", "TulgaModeration",
                           "TulgaPKI", "TulgaKeyStore", "TulgaLegalEntities", "TulgaAttempts", "TulgaMail", "TulgaKeyAgent", "TulgaMRZ", "TulgaDocument",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // The SMTP client and delivery against a real aiosmtpd on loopback (scripts/smtp-test-server).
        .testTarget(
            name: "TulgaMailTests",
            dependencies: ["TulgaTestSupport", "TulgaMail", "TulgaCore", "TulgaStorage", "TulgaCrypto", "TulgaFlow",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TulgaServerTests",
            dependencies: [
                "TulgaTestSupport",
                "TulgaServer", "TulgaConfig", "TulgaFlow", "TulgaStorage", "TulgaCrypto", "TulgaFace", "TulgaLiveness", "TulgaPolicy",
                "TulgaIssuance", "TulgaRegistry", "TulgaModeration", "TulgaAttempts", "TulgaCore", "TulgaPKI", "TulgaKeyStore",
                "TulgaLegalEntities", "TulgaMail", "TulgaDigitalID", "TulgaPortal",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                // The live server's service group (LiveServer.swift).
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TulgaCLITests",
            dependencies: ["TulgaTestSupport", "TulgaCLI", "TulgaConfig", "TulgaEvaluation", "TulgaStorage", "TulgaCrypto", "TulgaPolicy", "TulgaIdentity", "TulgaFace",
                           "TulgaFlow", "TulgaRegistry", "TulgaModeration", "TulgaAttempts", "TulgaCore", "TulgaDigitalID", "TulgaPKI",
                           "TulgaKeyStore", "TulgaAPIKeys", "TulgaMail", "TulgaKeyAgent"],
            swiftSettings: swiftSettings
        ),
    ],
    cxxLanguageStandard: .cxx17
)
