import Logging
import Testing

@testable import phigate

@Suite("Log handler of phigate serve")
struct DeferredMetadataLogHandlerTests {
    @Test("metadata and level behave as on StreamLogHandler")
    func metadataAndLevel() {
        var handler = DeferredMetadataLogHandler(StreamLogHandler.standardError(label: "test"))
        handler.logLevel = .warning
        #expect(handler.logLevel == .warning)
        handler[metadataKey: "request.id"] = "abc"
        handler.metadata["tenant"] = "acme"
        #expect(handler[metadataKey: "request.id"] == "abc")
        #expect(handler.metadata == ["request.id": "abc", "tenant": "acme"])
        handler[metadataKey: "request.id"] = nil
        #expect(handler.metadata == ["tenant": "acme"])
        var logger = Logger(label: "test") { _ in handler }
        logger[metadataKey: "route"] = "openai"
        #expect(logger[metadataKey: "route"] == "openai" && logger[metadataKey: "tenant"] == "acme")
        #expect(logger.logLevel == .warning)
    }
}
