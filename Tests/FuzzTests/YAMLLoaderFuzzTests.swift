import Foundation
import PhigateConfig
import Testing

/// Mutated configuration and policy files through `ConfigLoader` and `PolicyLoader`: each loads or throws a
/// `ConfigError` naming the file; nothing traps or hangs.
@Suite("Fuzz: the YAML loaders")
struct YAMLLoaderFuzzTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func files(in directory: String) -> [[UInt8]] {
        let url = root.appendingPathComponent(directory)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().compactMap { name in
            (try? Data(contentsOf: url.appendingPathComponent(name))).map { Array($0) }
        }
    }

    static let environment = ["PHIGATE_LOCAL_MODEL": "", "OPENAI_API_KEY": "k"]

    /// Line-level mutations on top of the byte-level ones: YAML is about lines and indentation.
    static func mutate(_ bytes: [UInt8], other: [UInt8], mutator: inout Mutator) -> [UInt8] {
        var lines = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\n")
        switch mutator.int(0..<6) {
        case 0 where lines.count > 1: lines.remove(at: mutator.int(0..<lines.count))
        case 1 where !lines.isEmpty:
            let index = mutator.int(0..<lines.count)
            lines.insert(lines[index], at: mutator.int(0..<lines.count))
        case 2 where !lines.isEmpty:
            let index = mutator.int(0..<lines.count)
            lines[index] = String(repeating: " ", count: mutator.int(0..<7)) + lines[index].trimmingCharacters(in: .whitespaces)
        case 3 where !lines.isEmpty:
            let index = mutator.int(0..<lines.count)
            if let colon = lines[index].firstIndex(of: ":") {
                let values = ["", " [", " {a: 1", " *a", " &a [1]", " !!binary AAAA", " ${UNSET}", " -5", " 1e999", " 0", " 'x", " |", " ~"]
                lines[index] = String(lines[index][...colon]) + values[mutator.int(0..<values.count)]
            }
        default: return mutator.mutate(bytes, other: other)
        }
        return Array(lines.joined(separator: "\n").utf8)
    }

    @Test("2,000 mutated configuration files load or fail with a ConfigError naming the file", .timeLimit(.minutes(2)))
    func configFiles() async {
        let corpus = Self.files(in: "config")
        #expect(corpus.count >= 2)
        var mutator = Mutator(seed: 0x5EED_0004, dictionary: Mutator.yamlDictionary)
        for number in 0..<2000 {
            // Gives the two cooperative threads back now and then: tests that wait on I/O share them.
            if number % 64 == 0 { await Task.yield() }
            let seed = corpus[mutator.int(0..<corpus.count)]
            let bytes = Self.mutate(seed, other: corpus[mutator.int(0..<corpus.count)], mutator: &mutator)
            do {
                _ = try ConfigLoader.load(yaml: String(decoding: bytes, as: UTF8.self), file: "fuzz.yaml", environment: Self.environment)
            } catch {
                #expect(error.description.hasPrefix("fuzz.yaml"), "case \(number): \(error.description.prefix(200))")
            }
        }
    }

    @Test("1,500 mutated policy files load or fail with a ConfigError naming the file", .timeLimit(.minutes(2)))
    func policyFiles() async {
        let corpus = Self.files(in: "policies")
        #expect(corpus.count >= 4)
        var mutator = Mutator(seed: 0x5EED_0005, dictionary: Mutator.yamlDictionary)
        for number in 0..<1500 {
            // Gives the two cooperative threads back now and then: tests that wait on I/O share them.
            if number % 64 == 0 { await Task.yield() }
            let seed = corpus[mutator.int(0..<corpus.count)]
            let bytes = Self.mutate(seed, other: corpus[mutator.int(0..<corpus.count)], mutator: &mutator)
            do {
                _ = try PolicyLoader.load(yaml: String(decoding: bytes, as: UTF8.self), file: "fuzz-policy.yaml")
            } catch {
                #expect(error.description.hasPrefix("fuzz-policy.yaml"), "case \(number): \(error.description.prefix(200))")
            }
        }
    }

    /// A billion-laughs alias bomb: ten levels of nine references.
    static let aliasBomb: String = {
        var text = "l0: &l0 [lol]\n"
        for level in 1..<10 {
            let references = Array(repeating: "*l\(level - 1)", count: 9).joined(separator: ",")
            text += "l\(level): &l\(level) [\(references)]\n"
        }
        return text + "aliases: *l9\nbackends: *l9\n"
    }()

    static let pathologicalFiles: [String] = [
        aliasBomb,
        String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000),
        "backends:\n" + String(repeating: "  - ", count: 2000) + "x\n",
        "backends: [" + String(repeating: "{a: ", count: 3000) + "1" + String(repeating: "}", count: 3000) + "]\n",
    ]

    @Test("alias bombs and deep nesting are errors, not hangs", .timeLimit(.minutes(1)), arguments: Self.pathologicalFiles)
    func pathological(yaml: String) {
        do {
            _ = try ConfigLoader.load(yaml: yaml, file: "bomb.yaml", environment: [:])
            Issue.record("a pathological file loaded")
        } catch {
            #expect(error.description.hasPrefix("bomb.yaml"))
        }
        do {
            _ = try PolicyLoader.load(yaml: yaml, file: "bomb.yaml")
        } catch {
            #expect(error.description.hasPrefix("bomb.yaml"))
        }
    }
}
