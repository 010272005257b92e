// Files that tests write go to one folder per test process, removed when the process exits: a test run leaves
// nothing behind in the temporary directory (a killed run excepted).

public import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum TestScratch {
    /// `phigate-tests-<pid>-<uuid>` in the temporary directory, created on first use.
    public static let folder: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "phigate-tests-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: TestScratch.folder) }
        return url
    }()

    /// A fresh path named `name` in a subfolder of its own (so names may repeat between tests).
    public static func url(_ name: String) -> URL {
        let directory = folder.appendingPathComponent(UUID().uuidString)
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent(name)
    }
}
