import Foundation
import TestScratch

/// Locates `Tests/Fixtures` (in the repository) and `../shared/fixtures` (beside the clone, optional).
enum Fixtures {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            let candidate = url.appendingPathComponent("Fixtures")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("README.md").path) {
                return candidate
            }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Fixtures")
    }()

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// `../shared/fixtures/<relative>` beside the clone, or nil when it is not there.
    static func shared(_ relative: String) -> URL? {
        let url = root.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("shared/fixtures").appendingPathComponent(relative)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// A fresh temporary file URL with the given name (its directory is unique per call; removed at exit).
    static func temporaryURL(_ name: String) -> URL { TestScratch.url(name) }
}
