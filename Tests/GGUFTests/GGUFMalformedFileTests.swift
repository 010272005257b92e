import Foundation
import GGUF
import Testing

/// Writes `bytes` to a temporary `name` and opens it; returns the error it must throw.
private func openError(_ bytes: [UInt8], name: String = "broken.gguf") -> GGUFError? {
    let url = Fixtures.temporaryURL(name)
    defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
    do {
        try Data(bytes).write(to: url)
        _ = try GGUFFile(url: url)
        return nil
    } catch let error as GGUFError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}

/// Raw little-endian bytes, for headers GGUFWriter would not write.
private struct RawGGUF {
    var bytes: [UInt8] = []
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func string(_ s: String) {
        u64(UInt64(s.utf8.count))
        bytes += Array(s.utf8)
    }
    static func header(tensors: UInt64, kvs: UInt64, version: UInt32 = 3) -> RawGGUF {
        var raw = RawGGUF()
        raw.bytes = Array("GGUF".utf8)
        raw.u32(version)
        raw.u64(tensors)
        raw.u64(kvs)
        return raw
    }
}

/// A small valid file: every value type, nested arrays, and two tensors whose data ends the file exactly.
private func validFile() -> GGUFWriter {
    var w = GGUFWriter()
    w.set("general.architecture", .string("phi3"))
    w.set("u8", .uint8(7))
    w.set("i8", .int8(-7))
    w.set("u16", .uint16(65535))
    w.set("i16", .int16(-300))
    w.set("u32", .uint32(4_000_000_000))
    w.set("i32", .int32(-2_000_000_000))
    w.set("u64", .uint64(1 << 40))
    w.set("i64", .int64(-(1 << 40)))
    w.set("f32", .float32(0.5))
    w.set("f64", .float64(-2.25))
    w.set("flag", .bool(true))
    w.set("names", .array(.string, [.string("a"), .string("bé"), .string("")]))
    w.set("nested", .array(.array, [.array(.int32, [.int32(1), .int32(2)]), .array(.int32, [])]))
    w.addTensor(name: "blk.0.attn_qkv.weight", type: .q8_0, shape: [32, 2], data: [UInt8](repeating: 0, count: 68))
    w.addTensor(name: "output_norm.weight", shape: [8], floats: [Float](repeating: 1, count: 8))
    return w
}

@Suite("Malformed GGUF files fail with an error naming the file, the key or tensor, and what was expected")
struct GGUFMalformedFileTests {
    @Test func validFileRoundTrips() throws {
        let url = Fixtures.temporaryURL("valid.gguf")
        try validFile().write(to: url)
        let file = try GGUFFile(url: url)
        #expect(file.version == 3)
        #expect(file.metadata["u8"] == .uint8(7) && file.int("i8") == -7 && file.int("u16") == 65535)
        #expect(file.int("i16") == -300 && file.int("u32") == 4_000_000_000 && file.int("i32") == -2_000_000_000)
        #expect(file.int("u64") == 1 << 40 && file.int("i64") == -(1 << 40))
        #expect(file.float("f32") == 0.5 && file.double("f64") == -2.25 && file.bool("flag") == true)
        #expect(file.stringArray("names") == ["a", "bé", ""])
        #expect(file.value("nested") == .array(.array, [.array(.int32, [.int32(1), .int32(2)]), .array(.int32, [])]))
        #expect(file.metadataKeys == validFile().metadata.map(\.key))
        let norm = try file.requiredTensor(named: "output_norm.weight")
        #expect(norm.shape == [8] && norm.type == .f32 && norm.byteCount == 32 && norm.elementCount == 8)
        let floats = file.bytes(of: norm).withMemoryRebound(to: Float.self) { Array($0) }
        #expect(floats == [Float](repeating: 1, count: 8))
        #expect(file.tensor(named: "blk.0.attn_qkv.weight")?.byteCount == 68)
        #expect(file.fileSize == norm.offset + 32)
    }

    @Test func version2AndCustomAlignmentParse() throws {
        var w = validFile()
        w.version = 2
        w.set("general.alignment", .uint32(64))
        let url = Fixtures.temporaryURL("v2.gguf")
        try w.write(to: url)
        let file = try GGUFFile(url: url)
        #expect(file.version == 2 && file.alignment == 64)
        #expect(file.dataOffset % 64 == 0)
        #expect(file.tensors.allSatisfy { $0.offset % 64 == 0 })
    }

    @Test func badMagic() {
        var bytes = validFile().serialized()
        bytes.replaceSubrange(0..<4, with: Array("GGML".utf8))
        let error = openError(bytes, name: "model.bin")
        #expect(error?.kind == .badMagic)
        #expect(error?.description == "model.bin: bad magic: expected 'GGUF', found 'GGML' (not a GGUF file)")
    }

    @Test(arguments: [UInt32(0), 1, 4, 0x0300_0000])
    func unsupportedVersion(version: UInt32) {
        var w = validFile()
        w.version = version
        let error = openError(w.serialized())
        #expect(error?.kind == .unsupportedVersion)
        #expect(error?.description.hasPrefix("broken.gguf: unsupported GGUF version: expected 2 or 3, found \(version)") == true)
    }

    @Test func everyTruncationThrows() {
        let bytes = validFile().serialized()
        for length in 0..<bytes.count {
            let error = openError(Array(bytes[0..<length]), name: "cut.gguf")
            #expect(error != nil, "truncated to \(length) bytes parsed")
            if let error {
                #expect(error.description.hasPrefix("cut.gguf: "))
                #expect([.truncated, .badDataRange].contains(error.kind), "\(length): \(error)")
            }
        }
    }

    @Test func randomCorruptionNeverCrashes() {
        let bytes = validFile().serialized()
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var corrupt = bytes
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                corrupt[Int.random(in: 0..<corrupt.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            _ = openError(corrupt)  // either parses or throws GGUFError
        }
    }

    @Test func unknownValueType() {
        var raw = RawGGUF.header(tensors: 0, kvs: 1)
        raw.string("tokenizer.ggml.scores")
        raw.u32(99)
        raw.u32(0)
        let error = openError(raw.bytes)
        #expect(error?.kind == .unknownValueType)
        #expect(error?.description == "broken.gguf: key 'tokenizer.ggml.scores': unknown metadata value type 99: expected 0...12")
    }

    @Test func unknownArrayElementTypeAndBadBool() {
        var raw = RawGGUF.header(tensors: 0, kvs: 1)
        raw.string("a")
        raw.u32(GGUFValueType.array.rawValue)
        raw.u32(13)
        raw.u64(0)
        #expect(openError(raw.bytes)?.kind == .unknownValueType)
        var b = RawGGUF.header(tensors: 0, kvs: 1)
        b.string("flag")
        b.u32(GGUFValueType.bool.rawValue)
        b.bytes.append(2)
        #expect(openError(b.bytes)?.description == "broken.gguf: key 'flag': expected a bool (0 or 1), found 2")
    }

    @Test func absurdCountsAndLengthsAreBounded() {
        let huge = UInt64(1) << 62
        #expect(openError(RawGGUF.header(tensors: huge, kvs: 0).bytes)?.kind == .truncated)
        #expect(openError(RawGGUF.header(tensors: 0, kvs: huge).bytes)?.kind == .truncated)
        var longKey = RawGGUF.header(tensors: 0, kvs: 1)
        longKey.u64(UInt64.max)
        #expect(openError(longKey.bytes)?.kind == .truncated)
        var bigArray = RawGGUF.header(tensors: 0, kvs: 1)
        bigArray.string("tokenizer.ggml.tokens")
        bigArray.u32(GGUFValueType.array.rawValue)
        bigArray.u32(GGUFValueType.string.rawValue)
        bigArray.u64(huge)
        let error = openError(bigArray.bytes)
        #expect(error?.kind == .truncated)
        #expect(error?.description.contains("key 'tokenizer.ggml.tokens'") == true)
        var deep = RawGGUF.header(tensors: 0, kvs: 1)
        deep.string("deep")
        deep.u32(GGUFValueType.array.rawValue)
        for _ in 0..<20 {
            deep.u32(GGUFValueType.array.rawValue)
            deep.u64(1)
        }
        #expect(openError(deep.bytes)?.kind == .invalidValue)
    }

    @Test func duplicateKeysAndTensorNames() {
        var raw = RawGGUF.header(tensors: 0, kvs: 2)
        for _ in 0..<2 {
            raw.string("general.name")
            raw.u32(GGUFValueType.uint8.rawValue)
            raw.bytes.append(1)
        }
        #expect(openError(raw.bytes)?.description == "broken.gguf: key 'general.name': duplicate metadata key")
        var w = GGUFWriter()
        w.addTensor(name: "x", shape: [4], floats: [1, 2, 3, 4])
        w.addTensor(name: "x", shape: [4], floats: [1, 2, 3, 4])
        #expect(openError(w.serialized())?.description == "broken.gguf: tensor 'x': duplicate tensor name")
    }

    @Test func badAlignment() {
        var w = validFile()
        w.set("general.alignment", .uint32(3))
        let error = openError(w.serialized())
        #expect(error?.kind == .invalidValue)
        #expect(error?.description == "broken.gguf: key 'general.alignment': expected a power of two, found 3")
    }

    @Test func unknownTensorType() {
        var w = validFile()
        w.addTensor(name: "blk.1.ffn_up.weight", rawType: 4, shape: [32, 2], data: [UInt8](repeating: 0, count: 64))
        let error = openError(w.serialized(), name: "phi.gguf")
        #expect(error?.kind == .unknownTensorType)
        #expect(error?.description == "phi.gguf: tensor 'blk.1.ffn_up.weight': unknown ggml tensor type 4")
    }

    @Test func shapeNotMultipleOfBlockSize() {
        var w = GGUFWriter()
        w.addTensor(name: "blk.0.ffn_down.weight", type: .q4_K, shape: [64, 4], data: [UInt8](repeating: 0, count: 576))
        let error = openError(w.serialized())
        #expect(error?.kind == .badShape)
        #expect(
            error?.description
                == "broken.gguf: tensor 'blk.0.ffn_down.weight': row length ne0 = 64 is not a multiple of the q4_K block size 256")
    }

    @Test func badDimensionCounts() {
        var w = GGUFWriter()
        w.addTensor(name: "t", type: .f32, shape: [1, 1, 1, 1, 1], data: [0, 0, 0, 0])
        #expect(openError(w.serialized())?.description == "broken.gguf: tensor 't': expected 1...4 dimensions, found 5")
        var z = GGUFWriter()
        z.addTensor(name: "t", type: .f32, shape: [], data: [])
        #expect(openError(z.serialized())?.kind == .badShape)
    }

    @Test func byteRangeBeyondFile() {
        var w = GGUFWriter()
        w.addTensor(name: "token_embd.weight", type: .f32, shape: [8, 4], data: [UInt8](repeating: 0, count: 32))
        let bytes = w.serialized()
        let error = openError(bytes, name: "model.gguf")
        #expect(error?.kind == .badDataRange)
        let start = bytes.count - 32
        #expect(
            error?.description
                == "model.gguf: tensor 'token_embd.weight': data range \(start)..<\(start + 128) (f32 [8, 4]) exceeds file size \(bytes.count)")
        var far = GGUFWriter()
        far.tensors.append(.init(name: "x", rawType: 0, shape: [8], data: [UInt8](repeating: 0, count: 32), offsetOverride: 1 << 62))
        #expect(openError(far.serialized())?.kind == .badDataRange)
    }

    @Test func misalignedAndOverlappingData() {
        var w = GGUFWriter()
        w.tensors.append(.init(name: "a", rawType: 0, shape: [8], data: [UInt8](repeating: 0, count: 64), offsetOverride: 4))
        let misaligned = openError(w.serialized())
        #expect(misaligned?.description == "broken.gguf: tensor 'a': data offset 4 is not a multiple of the alignment 32")
        var o = GGUFWriter()
        o.addTensor(name: "a", shape: [16], floats: [Float](repeating: 0, count: 16))
        o.tensors.append(.init(name: "b", rawType: 0, shape: [16], data: [UInt8](repeating: 0, count: 64), offsetOverride: 32))
        let overlap = openError(o.serialized())
        #expect(overlap?.kind == .badDataRange)
        #expect(overlap?.description.contains("tensor 'b': data range") == true)
        #expect(overlap?.description.contains("overlaps tensor 'a'") == true)
    }

    @Test func missingFileAndDirectory() {
        let missing = #expect(throws: GGUFError.self) { try GGUFFile(url: URL(fileURLWithPath: "/nonexistent/m.gguf")) }
        #expect(missing?.kind == .io)
        #expect(missing?.description.hasPrefix("m.gguf: cannot open /nonexistent/m.gguf") == true)
        let dir = #expect(throws: GGUFError.self) { try GGUFFile(url: URL(fileURLWithPath: "/tmp")) }
        #expect(dir?.kind == .io)
    }

    @Test func emptyFile() {
        #expect(openError([])?.kind == .truncated)
    }
}
