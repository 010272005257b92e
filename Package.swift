// swift-tools-version:6.2
import PackageDescription

// Set PHIGATE_CORE_ONLY=1 to build and test only the targets without package dependencies (the
// inference core, wire types, routing): nothing is resolved or compiled for the server.
let coreOnly = Context.environment["PHIGATE_CORE_ONLY"] != nil

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

// MARK: - Inference core and pure logic (no HTTP, no NIO, no YAML, no SQL; no package dependencies)

let coreTargets: [Target] = [
    .target(name: "OpenAIWire", swiftSettings: swiftSettings),
    // Pure routing: decisions are functions of request features, policy, live statistics and budgets.
    .target(name: "Routing", dependencies: ["OpenAIWire"], swiftSettings: swiftSettings),
    .testTarget(name: "RoutingTests", dependencies: ["Routing", "OpenAIWire"], swiftSettings: swiftSettings),
    .systemLibrary(
        name: "COpenBLAS",
        pkgConfig: "openblas",
        providers: [.apt(["libopenblas-dev"])]
    ),
    .target(
        name: "CPhiKernels",
        cSettings: [.unsafeFlags(["-O3", "-fno-math-errno"])]
    ),
    .target(name: "GGUF", swiftSettings: swiftSettings),
    .target(name: "PhiKernels", dependencies: ["CPhiKernels", "COpenBLAS", "GGUF"], swiftSettings: swiftSettings),
    .target(name: "PhiTokenizer", dependencies: ["GGUF"], swiftSettings: swiftSettings),
    .target(
        name: "PhiInference",
        dependencies: ["GGUF", "PhiKernels", "PhiTokenizer"],
        swiftSettings: swiftSettings
    ),
    // Scratch files of the tests: one folder per test process, removed at exit.
    .target(name: "TestScratch", path: "Tests/TestScratch", swiftSettings: swiftSettings),
    .testTarget(name: "GGUFTests", dependencies: ["GGUF", "TestScratch"], swiftSettings: swiftSettings),
    .testTarget(
        name: "PhiKernelsTests", dependencies: ["PhiKernels", "GGUF", "TestScratch"], swiftSettings: swiftSettings),
    .testTarget(name: "PhiTokenizerTests", dependencies: ["PhiTokenizer", "GGUF"], swiftSettings: swiftSettings),
    .testTarget(
        name: "PhiInferenceTests",
        dependencies: ["PhiInference", "GGUF", "PhiTokenizer", "PhiKernels", "TestScratch"],
        swiftSettings: swiftSettings
    ),
]

// MARK: - Gateway

let gatewayTargets: [Target] = [
    .target(
        name: "PhigateConfig",
        dependencies: ["Routing", .product(name: "Yams", package: "Yams")],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "Backends",
        dependencies: [
            "OpenAIWire", "PhigateConfig", "Routing", "PhiInference",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ],
        swiftSettings: swiftSettings
    ),
    // The embedded Phi model as a chat backend: request translation, continuous-batching engine host, streams.
    .target(
        name: "LocalBackend",
        dependencies: [
            "Backends", "OpenAIWire", "PhigateConfig", "PhiInference", "PhiTokenizer", "PhiKernels",
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "GatewayServer",
        dependencies: [
            "Backends", "LocalBackend", "OpenAIWire", "PhigateConfig", "Routing", "OutcomeStore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ],
        swiftSettings: swiftSettings
    ),
    // Outcome log: every request's route, cost, latency and quality labels, in SQLite (GRDB), with CSV export.
    .target(
        name: "OutcomeStore",
        dependencies: [
            "Routing", "OpenAIWire",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ],
        swiftSettings: swiftSettings
    ),
    // `phigate model pull`: resumable, SHA-256-checked downloads from a Hugging Face style file server.
    .target(
        name: "ModelHub",
        dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ],
        swiftSettings: swiftSettings
    ),
    // Scriptable fake upstream (OpenAI and Anthropic shapes) shared by tests and benchmarks.
    .target(
        name: "FakeUpstream",
        dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ],
        swiftSettings: swiftSettings
    ),
    .executableTarget(
        name: "phigate",
        dependencies: [
            "GatewayServer", "LocalBackend", "PhigateConfig", "PhiInference", "PhiTokenizer", "GGUF", "PhiKernels", "FakeUpstream",
            "OutcomeStore", "Routing", "ModelHub",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "OutcomeStoreTests",
        dependencies: [
            "OutcomeStore", "Routing",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "ModelHubTests",
        dependencies: [
            "ModelHub",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "PhigateConfigTests",
        dependencies: ["PhigateConfig", "Routing"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "BackendsTests",
        dependencies: [
            "Backends", "OpenAIWire", "PhigateConfig", "FakeUpstream",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "LocalBackendTests",
        dependencies: [
            "LocalBackend", "Backends", "OpenAIWire", "PhigateConfig", "PhiInference", "PhiTokenizer", "PhiKernels",
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "GatewayServerTests",
        dependencies: [
            "GatewayServer", "Backends", "LocalBackend", "OpenAIWire", "PhigateConfig", "FakeUpstream", "OutcomeStore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings
    ),
    // Bounded, seeded fuzzing of everything that reads untrusted bytes: request decoder, SSE parser, YAML, GGUF.
    .testTarget(
        name: "FuzzTests",
        dependencies: ["OpenAIWire", "PhigateConfig", "GGUF"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "phigateTests",
        dependencies: [
            "phigate", "PhigateConfig", "Routing", "OutcomeStore", "ModelHub", "PhiKernels",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        swiftSettings: swiftSettings
    ),
]

let package = Package(
    name: "phigate",
    platforms: [.macOS(.v15)],
    products: (coreOnly ? [] : [.executable(name: "phigate", targets: ["phigate"])]) + [
        .library(name: "PhiInference", targets: ["PhiInference"]),
    ],
    dependencies: coreOnly ? [] : [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.25.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.20.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.0"),
    ],
    targets: coreOnly ? coreTargets : coreTargets + gatewayTargets
)
