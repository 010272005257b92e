import Foundation
import Logging
import LocalBackend
import PhigateConfig

/// The tiny seeded models of `Tests/Fixtures/phi` (see its README).
enum LocalFixtures {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// phi3 architecture, 2 layers, context 512, SentencePiece tokenizer with the phi-3 vocabulary.
    static let phi3 = repositoryRoot.appendingPathComponent("Tests/Fixtures/phi/phi3-tiny-gqa/phi3-tiny-gqa-Q4_0.gguf").path
    /// phi2 architecture, GPT-2 byte-level tokenizer.
    static let phi2 = repositoryRoot.appendingPathComponent("Tests/Fixtures/phi/phi2-tiny/phi2-tiny-Q4_0.gguf").path

    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// A loaded host for `path` (loading takes well under a second for these files).
    static func host(
        _ path: String = phi3, name: String = "local", configure: (inout LocalModelConfig) -> Void = { _ in }
    ) async throws -> LocalModelHost {
        var config = LocalModelConfig(modelPath: path, threads: 1)
        configure(&config)
        let host = LocalModelHost(backendName: name, modelName: name, config: config)
        try await host.load(logger: logger)
        return host
    }
}
