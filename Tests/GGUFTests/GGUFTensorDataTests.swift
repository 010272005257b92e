import Testing

@testable import GGUF

@Suite("GGUF tensor data region")
struct GGUFTensorDataTests {
    @Test("tensorData starts at the data offset, ends at the file's end and holds every tensor's bytes")
    func coversEveryTensor() throws {
        let file = try GGUFFile(url: Fixtures.url("phi/phi2-tiny/phi2-tiny-Q4_0.gguf"))
        let data = file.tensorData
        #expect(data.count == file.fileSize - file.dataOffset)
        let start = try #require(data.baseAddress)
        for tensor in file.tensors {
            let bytes = file.bytes(of: tensor)
            let offset = try #require(bytes.baseAddress) - start
            #expect(offset >= 0 && offset + bytes.count <= data.count, "\(tensor.name)")
        }
    }
}
