import Foundation
import PhiInference
import TestScratch
import Testing

@Suite("safetensors reader")
struct SafetensorsFileTests {
    /// Writes `header` (JSON text) and `data` as a safetensors file in a fresh temporary folder.
    func write(header: String, data: [UInt8], headerLength: UInt64? = nil, name: String = "model.safetensors") throws -> String {
        var bytes: [UInt8] = []
        let json = Array(header.utf8)
        var length = (headerLength ?? UInt64(json.count)).littleEndian
        withUnsafeBytes(of: &length) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: json)
        bytes.append(contentsOf: data)
        let path = TestScratch.url(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test("reads F16, BF16 and F32 tensors with their shapes")
    func readsTensors() throws {
        // F16 1.0, -2.0; BF16 0.5; F32 3.25
        let data: [UInt8] = [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x3F, 0x00, 0x00, 0x50, 0x40]
        let header = """
        {"__metadata__":{"format":"pt"},"a":{"dtype":"F16","shape":[1,2],"data_offsets":[0,4]},\
        "b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},"c":{"dtype":"F32","shape":[],"data_offsets":[6,10]}}
        """
        let file = try SafetensorsFile(path: try write(header: header, data: data))
        #expect(file.metadata["format"] == "pt")
        #expect(try #require(file.tensors["a"]).shape == [1, 2])
        #expect(try #require(file.tensors["a"]).floats() == [1, -2])
        #expect(try #require(file.tensors["b"]).floats() == [0.5])
        #expect(try #require(file.tensors["c"]).floats() == [3.25])
    }

    @Test("the fixture checkpoint has every phi3 tensor in float16")
    func fixture() throws {
        let checkpoint = try SafetensorsCheckpoint(folder: Fixtures.path("phi3-tiny-gqa/hf"))
        let embedding = try #require(checkpoint.tensors["model.embed_tokens.weight"])
        #expect(embedding.shape == [32064, 64])
        #expect(embedding.dtype == .f16)
        #expect(checkpoint.tensors["lm_head.weight"] == nil)
    }

    @Test("malformed files fail with the file, tensor and what was expected")
    func malformed() throws {
        let tooShort = try write(header: "", data: [], headerLength: 0, name: "short.safetensors")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: tooShort))
        #expect(message { _ = try SafetensorsFile(path: tooShort) }.contains("too short"))

        let huge = try write(header: "{}", data: [], headerLength: 1 << 40)
        #expect(message { _ = try SafetensorsFile(path: huge) }.contains("does not fit the file size"))

        let badJSON = try write(header: "{not json", data: [])
        #expect(message { _ = try SafetensorsFile(path: badJSON) }.contains("not valid JSON"))

        let dtype = try write(header: #"{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8))
        let dtypeMessage = message { _ = try SafetensorsFile(path: dtype) }
        #expect(dtypeMessage.contains("tensor 'w'") && dtypeMessage.contains("unsupported dtype I64"))

        let range = try write(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: Array(repeating: 0, count: 8))
        let rangeMessage = message { _ = try SafetensorsFile(path: range) }
        #expect(rangeMessage.contains("tensor 'w'") && rangeMessage.contains("outside the data section"))

        let shape = try write(header: #"{"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8))
        let shapeMessage = message { _ = try SafetensorsFile(path: shape) }
        #expect(shapeMessage.contains("needs 6 bytes, data_offsets give 8"))
        #expect(shapeMessage.hasPrefix(shape))

        let negative = try write(header: #"{"w":{"dtype":"F16","shape":[-1],"data_offsets":[0,2]}}"#, data: [0, 0])
        #expect(message { _ = try SafetensorsFile(path: negative) }.contains("shape is not a list"))
    }

    @Test("a sharded index whose shard lacks a listed tensor is rejected")
    func shardedIndex() throws {
        let path = try write(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 128, 63],
                             name: "model-00001-of-00001.safetensors")
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        let index = #"{"weight_map":{"a":"model-00001-of-00001.safetensors","b":"model-00001-of-00001.safetensors"}}"#
        try Data(index.utf8).write(to: folder.appendingPathComponent("model.safetensors.index.json"))
        let text = message { _ = try SafetensorsCheckpoint(folder: folder.path) }
        #expect(text.contains("tensor 'b'") && text.contains("not in the shard"))
        let good = #"{"weight_map":{"a":"model-00001-of-00001.safetensors"}}"#
        try Data(good.utf8).write(to: folder.appendingPathComponent("model.safetensors.index.json"))
        let checkpoint = try SafetensorsCheckpoint(folder: folder.path)
        #expect(try #require(checkpoint.tensors["a"]).floats() == [1])
    }
}
