import Foundation
import GGUF
import Testing

/// Structured mutations of a real fixture's header and metadata (the GGUF tests corrupt a small synthetic file
/// at random; these aim at the real layout: counts, lengths, types and offsets set to edge values).
@Suite("Fuzz: the GGUF reader on a mutated fixture")
struct GGUFFuzzTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/phi/phi2-tiny/phi2-tiny-Q4_0.gguf")

    @Test("400 mutated headers open or throw a GGUFError naming the file", .timeLimit(.minutes(2)))
    func mutatedHeaders() async throws {
        let original = try Data(contentsOf: Self.fixture)
        let dataOffset = try GGUFFile(url: Self.fixture).dataOffset
        // The header and metadata, plus a little tensor data so offsets still land inside the file.
        let head = [UInt8](original.prefix(dataOffset + 4096))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("phigate-gguf-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("mutant.gguf")
        var rng = SeededGenerator(seed: 0x5EED_0006)
        let edges: [UInt64] = [0, 1, 2, 0x7F, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 1 << 32, 1 << 62, .max, .max - 7]
        var parsed = 0
        for number in 0..<400 {
            // Gives the two cooperative threads back now and then: tests that wait on I/O share them.
            if number % 64 == 0 { await Task.yield() }
            var bytes = head
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                // Mostly inside the metadata; 8-byte aligned writes hit counts and lengths.
                let limit = min(bytes.count - 8, dataOffset)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0:
                    let at = Int.random(in: 0..<limit, using: &rng)
                    withUnsafeBytes(of: (edges.randomElement(using: &rng) ?? 0).littleEndian) { bytes.replaceSubrange(at..<at + 8, with: $0) }
                case 1:
                    let at = Int.random(in: 0..<limit, using: &rng)
                    withUnsafeBytes(of: UInt32(truncatingIfNeeded: edges.randomElement(using: &rng) ?? 0).littleEndian) {
                        bytes.replaceSubrange(at..<at + 4, with: $0)
                    }
                case 2:
                    bytes[Int.random(in: 0..<limit, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                default:
                    let at = Int.random(in: 0..<limit, using: &rng)
                    bytes.removeSubrange(at..<min(limit, at + Int.random(in: 1..<32, using: &rng)))
                }
            }
            try Data(bytes).write(to: url)
            do {
                let file = try GGUFFile(url: url)
                _ = file.tensors.count
                parsed += 1
            } catch let error as GGUFError {
                #expect(error.description.hasPrefix("mutant.gguf"), "case \(number): \(error)")
            } catch {
                Issue.record("case \(number): unexpected error type \(error)")
            }
        }
        #expect(parsed < 400)
    }
}
