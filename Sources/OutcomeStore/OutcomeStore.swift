import Foundation
import GRDB

/// The outcome log: one `request` row per gateway request and its `feedback` quality labels, in SQLite.
///
/// Shaped like GRDB's `AppDatabase`: a value over a database writer, whose initializer runs the migrations.
/// Files are opened as a WAL `DatabasePool` with incremental auto-vacuum, so readers (exports, dashboards) never
/// block the recorder and pruning can give pages back to the file system.
public struct OutcomeStore: Sendable {
    /// What the store keeps.
    public struct Options: Sendable, Hashable {
        /// Keep prompt and answer text (never for private requests, whatever this says).
        public var storesText: Bool

        public init(storesText: Bool = false) {
            self.storesText = storesText
        }
    }

    let writer: any DatabaseWriter
    public let options: Options

    /// Opens (creating if needed) the database file at `path` and migrates it to the current schema.
    public init(path: String, options: Options = Options()) throws(OutcomeStoreError) {
        do {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let pool = try DatabasePool(path: path, configuration: Self.makeConfiguration())
            try self.init(writer: pool, options: options)
        } catch let error as OutcomeStoreError {
            throw error
        } catch {
            throw OutcomeStoreError.open(path: path, underlying: String(describing: error))
        }
    }

    /// An empty in-memory store (tests, `--db :memory:`).
    public static func inMemory(options: Options = Options()) throws(OutcomeStoreError) -> OutcomeStore {
        do {
            return try OutcomeStore(writer: DatabaseQueue(configuration: makeConfiguration()), options: options)
        } catch let error as OutcomeStoreError {
            throw error
        } catch {
            throw OutcomeStoreError.open(path: ":memory:", underlying: String(describing: error))
        }
    }

    /// A store over any GRDB writer; runs the migrations.
    init(writer: any DatabaseWriter, options: Options = Options()) throws(OutcomeStoreError) {
        self.writer = writer
        self.options = options
        do {
            try Self.migrator.migrate(writer)
        } catch {
            throw OutcomeStoreError.migration(String(describing: error))
        }
    }

    static func makeConfiguration() -> Configuration {
        var configuration = Configuration()
        // Another process (`phigate outcomes export`, `tune`) or a store still closing may hold the write lock for a
        // moment; wait for it instead of failing the open or a write with SQLITE_BUSY (a test reopening the file
        // right after a gateway shut down hit exactly that under load).
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            guard !db.configuration.readonly else { return }
            // Only effective on a new file (before the first table); lets pruning shrink the file.
            try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
            // WAL + NORMAL: a committed transaction survives a process crash (kill -9); only power loss may
            // roll back the last ones.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        return configuration
    }

    /// The schema's history. Never edit a shipped migration: add one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "request") { t in
                t.primaryKey("id", .text)
                t.column("time", .datetime).notNull().indexed()
                t.column("tenant", .text).indexed()
                t.column("key_id", .text)
                t.column("requested_model", .text).notNull()
                t.column("backend", .text)
                t.column("model", .text)
                t.column("tier", .text)
                t.column("rule", .text)
                t.column("decision", .text)
                t.column("difficulty_score", .double)
                t.column("difficulty_threshold", .double)
                t.column("is_private", .boolean).notNull().defaults(to: false)
                t.column("prompt_tokens", .integer).notNull().defaults(to: 0)
                t.column("completion_tokens", .integer).notNull().defaults(to: 0)
                t.column("cost_micros", .integer).notNull().defaults(to: 0)
                t.column("ttft_ms", .double)
                t.column("total_ms", .double).notNull().defaults(to: 0)
                t.column("tokens_per_second", .double)
                t.column("status", .integer).notNull()
                t.column("error_code", .text)
            }
            try db.create(table: "feedback") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("request_id", .text).notNull().indexed().references("request", onDelete: .cascade)
                t.column("score", .double).notNull().check { $0 >= 0 && $0 <= 1 }
                t.column("source", .text).notNull()
                t.column("comment", .text)
                t.column("time", .datetime).notNull()
            }
        }
        migrator.registerMigration("v2") { db in
            // Fallback chains, privacy finding types, streaming, optional text; shadow labels name their tier.
            try db.alter(table: "request") { t in
                t.add(column: "privacy_findings", .text).notNull().defaults(to: "")
                t.add(column: "attempts", .text).notNull().defaults(to: "[]")
                t.add(column: "fallback_count", .integer).notNull().defaults(to: 0)
                t.add(column: "streamed", .boolean).notNull().defaults(to: false)
                t.add(column: "prompt_text", .text)
                t.add(column: "completion_text", .text)
            }
            try db.alter(table: "feedback") { t in
                t.add(column: "tier", .text)
            }
        }
        // Gateway keys managed by `phigate keys` (SHA-256 only).
        migrator.registerMigration("v3-gateway-keys") { db in try KeyStore.migrate(db) }
        return migrator
    }

    /// The schema version names applied, oldest first.
    public func appliedMigrations() throws(OutcomeStoreError) -> [String] {
        try read { db in try Self.migrator.appliedMigrations(db) }
    }

    // MARK: - Writing

    /// Writes a batch in one transaction. Feedback for an unknown request is skipped; a request id already
    /// present is kept as first written. Returns how many feedback labels were skipped.
    @discardableResult
    public func write(_ batch: [OutcomeEntry]) async throws(OutcomeStoreError) -> Int {
        let storesText = options.storesText
        do {
            return try await writer.write { db in try Self.insert(batch, storesText: storesText, in: db) }
        } catch {
            throw OutcomeStoreError.write(String(describing: error))
        }
    }

    /// `write(_:)` on the calling thread (which it blocks): for a thread of the caller's choosing, such as the
    /// recorder's idle-priority writer.
    @discardableResult
    public func writeBlocking(_ batch: [OutcomeEntry]) throws(OutcomeStoreError) -> Int {
        let storesText = options.storesText
        do {
            return try writer.write { db in try Self.insert(batch, storesText: storesText, in: db) }
        } catch {
            throw OutcomeStoreError.write(String(describing: error))
        }
    }

    /// Inserts a batch; returns how many feedback labels were skipped.
    private static func insert(_ batch: [OutcomeEntry], storesText: Bool, in db: Database) throws -> Int {
        var skipped = 0
        for entry in batch {
            switch entry {
            case .request(let outcome):
                try insert(outcome, storesText: storesText, in: db)
            case .feedback(let feedback):
                if try !insert(feedback, in: db) { skipped += 1 }
            }
        }
        return skipped
    }

    /// Records one quality label now. Returns false (and writes nothing) when the request id is unknown.
    public func addFeedback(_ feedback: OutcomeFeedback) async throws(OutcomeStoreError) -> Bool {
        do {
            return try await writer.write { db in try Self.insert(feedback, in: db) }
        } catch {
            throw OutcomeStoreError.write(String(describing: error))
        }
    }

    static func insert(_ o: RequestOutcome, storesText: Bool, in db: Database) throws {
        let keepsText = storesText && !o.isPrivate
        let findings = Array(Set(o.privacyFindings)).sorted().joined(separator: ",")
        let attempts = OutcomeAttempt.json(o.attempts)
        let statement = try db.cachedStatement(sql: """
            INSERT INTO request (id, time, tenant, key_id, requested_model, backend, model, tier, rule, decision,
              difficulty_score, difficulty_threshold, is_private, prompt_tokens, completion_tokens, cost_micros,
              ttft_ms, total_ms, tokens_per_second, status, error_code, privacy_findings, attempts, fallback_count,
              streamed, prompt_text, completion_text)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO NOTHING
            """)
        // Concrete `DatabaseValue`s (boxing Strings and Ints as `any DatabaseValueConvertible` cost as much as the
        // SQL; a DatabaseValue fits the existential's inline buffer) in an array literal, which GRDB turns into
        // values in its own module: its generic `init(some Sequence)` from here mapped through a key path built at
        // run time, two thirds of the insert. Unchecked: the SQL above takes exactly these 27 positional values.
        func value(_ v: (some DatabaseValueConvertible)?) -> DatabaseValue { v?.databaseValue ?? .null }
        let arguments: StatementArguments = [
            o.id.databaseValue, StoredDate.databaseValue(o.time), value(o.tenant), value(o.keyID),
            o.requestedModel.databaseValue, value(o.backend), value(o.model), value(o.tier?.rawValue),
            value(o.rule), value(o.decisionJSON), value(o.difficultyScore), value(o.difficultyThreshold),
            o.isPrivate.databaseValue, o.promptTokens.databaseValue, o.completionTokens.databaseValue,
            o.costMicros.databaseValue, value(o.timeToFirstTokenMs), o.totalTimeMs.databaseValue,
            value(o.tokensPerSecond), o.status.databaseValue, value(o.errorCode), findings.databaseValue,
            attempts.databaseValue, max(o.attempts.count - 1, 0).databaseValue, o.isStreamed.databaseValue,
            keepsText ? value(o.promptText) : .null, keepsText ? value(o.completionText) : .null,
        ]
        statement.setUncheckedArguments(arguments)
        try statement.execute()
    }

    static func insert(_ f: OutcomeFeedback, in db: Database) throws -> Bool {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO feedback (request_id, score, source, tier, comment, time)
            SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM request WHERE id = ?)
            """)
        let score = min(max(f.score, 0), 1)
        try statement.execute(arguments: [
            f.requestID, score, f.source.rawValue, f.tier?.rawValue, f.comment, f.time, f.requestID,
        ])
        return db.changesCount > 0
    }

    // MARK: - Reading

    /// Whether a request with this id is in the log.
    public func containsRequest(id: String) throws(OutcomeStoreError) -> Bool {
        try read { db in try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM request WHERE id = ?)", arguments: [id]) ?? false }
    }

    /// Whether the request is logged and, if so, its tenant (for checking who may label it).
    public func requestOwner(id: String) throws(OutcomeStoreError) -> (exists: Bool, tenant: String?) {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT tenant FROM request WHERE id = ?", arguments: [id]) else {
                return (false, nil)
            }
            return (true, row["tenant"] as String?)
        }
    }

    /// Number of request rows.
    public func requestCount() throws(OutcomeStoreError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM request") ?? 0 }
    }

    /// The request rows that pass the filter, oldest first.
    public func requests(_ filter: OutcomeFilter = OutcomeFilter()) throws(OutcomeStoreError) -> [RequestOutcome] {
        let (clause, arguments) = filter.sqlClause()
        return try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM request \(clause) ORDER BY time, id", arguments: arguments)
                .map(Self.outcome(from:))
        }
    }

    /// Every label of a request, oldest first.
    public func feedback(forRequest id: String) throws(OutcomeStoreError) -> [OutcomeFeedback] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM feedback WHERE request_id = ? ORDER BY time, id", arguments: [id])
                .map(Self.feedback(from:))
        }
    }

    static func outcome(from row: Row) throws -> RequestOutcome {
        let findings: String = row["privacy_findings"] ?? ""
        let attemptsJSON: String = row["attempts"] ?? "[]"
        let attempts = (try? JSONDecoder().decode([OutcomeAttempt].self, from: Data(attemptsJSON.utf8))) ?? []
        return RequestOutcome(
            id: row["id"], time: row["time"], tenant: row["tenant"], keyID: row["key_id"],
            requestedModel: row["requested_model"], backend: row["backend"], model: row["model"],
            tier: (row["tier"] as String?).flatMap(OutcomeTier.init(rawValue:)), rule: row["rule"],
            decisionJSON: row["decision"], difficultyScore: row["difficulty_score"],
            difficultyThreshold: row["difficulty_threshold"], isPrivate: row["is_private"],
            privacyFindings: findings.isEmpty ? [] : findings.split(separator: ",").map(String.init),
            promptTokens: row["prompt_tokens"], completionTokens: row["completion_tokens"],
            costMicros: row["cost_micros"], timeToFirstTokenMs: row["ttft_ms"], totalTimeMs: row["total_ms"],
            tokensPerSecond: row["tokens_per_second"], status: row["status"], errorCode: row["error_code"],
            attempts: attempts, isStreamed: row["streamed"], promptText: row["prompt_text"],
            completionText: row["completion_text"])
    }

    static func feedback(from row: Row) -> OutcomeFeedback {
        OutcomeFeedback(
            requestID: row["request_id"], score: row["score"],
            source: FeedbackSource(rawValue: row["source"] ?? "") ?? .user,
            tier: (row["tier"] as String?).flatMap(OutcomeTier.init(rawValue:)), comment: row["comment"],
            time: row["time"])
    }

    func read<T>(_ body: (Database) throws -> T) throws(OutcomeStoreError) -> T {
        do {
            return try writer.read(body)
        } catch {
            throw OutcomeStoreError.read(String(describing: error))
        }
    }
}

/// What a batch holds: request rows and quality labels.
public enum OutcomeEntry: Sendable, Hashable {
    case request(RequestOutcome)
    case feedback(OutcomeFeedback)
}

/// Which rows a query or export covers: a UTC day range (inclusive) and a tenant.
public struct OutcomeFilter: Sendable, Hashable {
    /// First day, `YYYY-MM-DD` (UTC), inclusive.
    public var fromDay: String?
    /// Last day, `YYYY-MM-DD` (UTC), inclusive.
    public var toDay: String?
    public var tenant: String?

    public init(fromDay: String? = nil, toDay: String? = nil, tenant: String? = nil) {
        self.fromDay = fromDay
        self.toDay = toDay
        self.tenant = tenant
    }

    /// Whether `day` is a valid `YYYY-MM-DD` date.
    public static func isValidDay(_ day: String) -> Bool {
        let parts = day.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), y > 0, (1...12).contains(m)
        else { return false }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
        return (1...days).contains(d)
    }

    /// `WHERE …` over the `request` table (alias-free), with its arguments.
    func sqlClause(prefix: String = "") -> (String, StatementArguments) {
        var conditions: [String] = []
        var arguments = StatementArguments()
        if let fromDay {
            conditions.append("date(\(prefix)time) >= ?")
            arguments += [fromDay]
        }
        if let toDay {
            conditions.append("date(\(prefix)time) <= ?")
            arguments += [toDay]
        }
        if let tenant {
            conditions.append("\(prefix)tenant = ?")
            arguments += [tenant]
        }
        return (conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "), arguments)
    }
}

/// The one error type of the module; messages say what failed.
public enum OutcomeStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    case open(path: String, underlying: String)
    case migration(String)
    case write(String)
    case read(String)
    case export(String)

    public var description: String {
        switch self {
        case .open(let path, let underlying): "outcome store '\(path)': cannot open: \(underlying)"
        case .migration(let message): "outcome store: migration failed: \(message)"
        case .write(let message): "outcome store: write failed: \(message)"
        case .read(let message): "outcome store: read failed: \(message)"
        case .export(let message): "outcome export: \(message)"
        }
    }
}
