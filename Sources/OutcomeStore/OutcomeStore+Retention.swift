public import Foundation
import GRDB

/// How much history the outcome log keeps.
public struct OutcomeRetention: Sendable, Hashable {
    /// Requests older than this are deleted (with their feedback).
    public var maxAge: Duration?
    /// The oldest requests are deleted until the file (database + WAL) is at most this many bytes.
    public var maxBytes: Int64?

    public init(maxAge: Duration? = nil, maxBytes: Int64? = nil) {
        self.maxAge = maxAge
        self.maxBytes = maxBytes
    }
}

/// What one pruning pass did.
public struct OutcomePruneResult: Sendable, Hashable {
    public var deletedRequests: Int
    public var bytesBefore: Int64
    public var bytesAfter: Int64
}

extension OutcomeStore {
    /// Deletes requests past the retention limits, returns free pages to the file system and truncates the WAL.
    /// Size pruning deletes the oldest rows in steps, aiming at 90% of `maxBytes`.
    public func prune(_ retention: OutcomeRetention, now: Date) async throws(OutcomeStoreError) -> OutcomePruneResult {
        do {
            let before = try await sizeInBytes()
            var deleted = 0
            if let maxAge = retention.maxAge {
                let seconds = Double(maxAge.components.seconds) + Double(maxAge.components.attoseconds) / 1e18
                let cutoff = now.addingTimeInterval(-seconds)
                deleted += try await writer.write { db in
                    try db.execute(sql: "DELETE FROM request WHERE time < ?", arguments: [cutoff])
                    return db.changesCount
                }
            }
            try await compact()
            if let maxBytes = retention.maxBytes {
                for _ in 0..<20 {
                    let size = try await sizeInBytes()
                    guard size > maxBytes else { break }
                    let (rows, liveBytes) = try await writer.read { db -> (Int, Int64) in
                        let rows = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM request") ?? 0
                        let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
                        let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
                        let free = try Int64.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
                        return (rows, (pages - free) * pageSize)
                    }
                    guard rows > 0 else { break }
                    let target = Double(maxBytes) * 0.9
                    let share = liveBytes > 0 ? max(0, 1 - target / Double(liveBytes)) : 1
                    let count = min(rows, max(1, Int((Double(rows) * share).rounded(.up))))
                    deleted += try await writer.write { db in
                        try db.execute(
                            sql: "DELETE FROM request WHERE id IN (SELECT id FROM request ORDER BY time, id LIMIT ?)",
                            arguments: [count])
                        return db.changesCount
                    }
                    try await compact()
                }
            }
            return OutcomePruneResult(deletedRequests: deleted, bytesBefore: before, bytesAfter: try await sizeInBytes())
        } catch let error as OutcomeStoreError {
            throw error
        } catch {
            throw OutcomeStoreError.write("pruning: \(error)")
        }
    }

    /// Bytes on disk: the database file plus its WAL (for an in-memory store, the page count times the page size).
    public func sizeInBytes() async throws(OutcomeStoreError) -> Int64 {
        let path = writer.path
        let fileManager = FileManager.default
        if !path.isEmpty, !path.hasPrefix(":memory:"), fileManager.fileExists(atPath: path) {
            func size(_ p: String) -> Int64 {
                ((try? fileManager.attributesOfItem(atPath: p))?[.size] as? NSNumber)?.int64Value ?? 0
            }
            return size(path) + size(path + "-wal")
        }
        do {
            return try await writer.read { db in
                (try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0) * (try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 0)
            }
        } catch {
            throw OutcomeStoreError.read(String(describing: error))
        }
    }

    /// Gives free pages back (incremental vacuum) and folds the WAL into the database, truncating it.
    func compact() async throws {
        try await writer.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA incremental_vacuum")
        }
        try await writer.writeWithoutTransaction { db in
            let journalMode = try String.fetchOne(db, sql: "PRAGMA journal_mode")
            if journalMode == "wal" {
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
        }
    }
}
