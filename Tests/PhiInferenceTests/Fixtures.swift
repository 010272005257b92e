import Foundation
import Testing

/// Paths of the repository's fixtures (`Tests/Fixtures/phi`) and of the extended set in `../shared/fixtures/phi`.
enum Fixtures {
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let phi = repositoryRoot.appendingPathComponent("Tests/Fixtures/phi")
    static let sharedPhi = repositoryRoot.appendingPathComponent("../shared/fixtures/phi").standardizedFileURL

    static var isSharedAvailable: Bool {
        FileManager.default.fileExists(atPath: sharedPhi.appendingPathComponent("phi2-k/phi2-k-Q4_K_M.gguf").path)
    }

    static func path(_ relative: String, shared: Bool = false) -> String {
        (shared ? sharedPhi : phi).appendingPathComponent(relative).path
    }
}

/// The parts of `<model>.reference.json` the tests use.
struct ReferenceFile {
    let inputs: [String: [Int]]
    let argmax: [String: [Int]]
    let genIDs: [Int]
    let argmaxMinTop2Gap: [String: Double]
    let genTop2Gaps: [Double]
    let lastTop10: [String: [(Int, Double)]]
    /// `gguf.<TYPE>.dequant_ref` blocks: argmax per position.
    let dequantArgmax: [String: [String: [Int]]]
    let dequantMinGap: [String: [String: Double]]

    static let sequences = ["s8", "s40", "s100"]

    init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let inputs = try #require(json["inputs"] as? [String: [String: Any]])
        self.inputs = inputs.compactMapValues { $0["ids"] as? [Int] }
        let hf = try #require(json["hf_f32"] as? [String: Any])
        argmax = try #require(hf["argmax"] as? [String: [Int]])
        genIDs = try #require(hf["gen_ids"] as? [Int])
        argmaxMinTop2Gap = try #require(hf["argmax_min_top2_gap"] as? [String: Double])
        genTop2Gaps = try #require(hf["gen_top2_gap_per_step"] as? [Double])
        let top10 = try #require(hf["last_top10"] as? [String: [[Double]]])
        lastTop10 = top10.mapValues { $0.map { (Int($0[0]), $0[1]) } }
        var dequantArgmax: [String: [String: [Int]]] = [:]
        var dequantMinGap: [String: [String: Double]] = [:]
        for (type, value) in (json["gguf"] as? [String: [String: Any]]) ?? [:] {
            if let ref = value["dequant_ref"] as? [String: Any] {
                dequantArgmax[type] = ref["argmax"] as? [String: [Int]]
                dequantMinGap[type] = ref["argmax_min_top2_gap"] as? [String: Double]
            }
        }
        self.dequantArgmax = dequantArgmax
        self.dequantMinGap = dequantMinGap
    }
}

/// A minimal reader for the fixtures' `.npy` files (little-endian float32, C order).
struct NPYArray {
    let shape: [Int]
    let values: [Float]

    init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let bytes = [UInt8](data)
        try #require(bytes.count > 10 && bytes[0] == 0x93 && Array(bytes[1...5]) == Array("NUMPY".utf8))
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        try #require(header.contains("'descr': '<f4'"), "unexpected dtype in \(header)")
        try #require(header.contains("'fortran_order': False"))
        let shapeText = try #require(header.split(separator: "(").dropFirst().first?.split(separator: ")").first)
        shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let start = headerStart + headerLength
        try #require(bytes.count - start == 4 * count)
        values = bytes[start...].withUnsafeBytes { raw in
            (0..<count).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian) }
        }
    }

    func row(_ r: Int) -> ArraySlice<Float> {
        let width = shape.dropFirst().reduce(1, *)
        return values[(r * width)..<((r + 1) * width)]
    }
}

/// Largest absolute difference of two equal-length sequences.
func maxAbsDifference(_ a: some Collection<Float>, _ b: some Collection<Float>) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Top-1 minus top-2 value.
func top2Gap(_ row: ArraySlice<Float>) -> Float {
    var first = -Float.infinity
    var second = -Float.infinity
    for v in row {
        if v > first {
            second = first
            first = v
        } else if v > second {
            second = v
        }
    }
    return first - second
}

func argmax(_ row: ArraySlice<Float>) -> Int {
    var best = row.startIndex
    for i in row.indices where row[i] > row[best] { best = i }
    return best - row.startIndex
}
