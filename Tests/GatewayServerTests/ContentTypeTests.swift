import Hummingbird
import Testing

@testable import GatewayServer

@Suite("JSON content types")
struct ContentTypeTests {
    @Test("JSON types are accepted whatever their case, spacing and parameters", arguments: [
        "application/json", "Application/JSON", "application/json; charset=utf-8", "  application/json  ;x=1",
        "text/json", "application/vnd.api+json", "APPLICATION/PROBLEM+JSON; charset=utf-8", "\tapplication/json\t",
    ])
    func accepted(type: String) {
        #expect(Request.isJSON(contentType: type))
    }

    @Test("other types are not", arguments: [
        "", "text/plain", "application/jsonx", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
        "json", "application/", "+json", "text/json5", "application/json-seq", "application/jsön",
    ])
    func rejected(type: String) {
        #expect(!Request.isJSON(contentType: type))
    }
}
