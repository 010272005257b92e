import ArgumentParser
import Foundation
import OutcomeStore

/// `phigate keys create|list|revoke --db FILE`: gateway keys kept in the database as SHA-256 hashes.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage gateway keys in the database (stored as SHA-256 hashes only).",
        discussion: """
            The server accepts these keys besides the configuration's api_keys (it reads the table again within \
            database.keys_refresh, 5s by default, so a revoked key stops working within it).
            """,
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct DatabaseOption: ParsableArguments {
        @Option(help: "The gateway's database (database.path).")
        var db: String
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key and print it once on stdout (it is not stored and cannot be shown again).")

        @OptionGroup var database: DatabaseOption

        @Option(help: "Who the key's requests are billed to.")
        var tenant: String

        @Option(help: "The key's id in logs, metrics and the outcome log (default: derived from the key).")
        var id: String?

        @Option(help: "user, or admin (also reads the dashboards).")
        var role = "user"

        @Option(help: "Comma-separated served models or aliases the key may use (default: any).")
        var models: String?

        @Option(help: "Comma-separated backends the key's requests may reach, routed ones included (default: any).")
        var backends: String?

        @Option(name: .customLong("requests-per-minute"), help: "The key's own requests per minute (replaces limits.per_key).")
        var requestsPerMinute: Int?

        @Option(name: .customLong("tokens-per-minute"), help: "The key's own tokens per minute (replaces limits.per_key).")
        var tokensPerMinute: Int?

        func validate() throws {
            guard ["user", "admin"].contains(role) else { throw ValidationError("--role must be user or admin") }
            guard !tenant.isEmpty else { throw ValidationError("--tenant must not be empty") }
            for (name, value) in [("--requests-per-minute", requestsPerMinute), ("--tokens-per-minute", tokensPerMinute)] {
                if let value, value < 1 { throw ValidationError("\(name) must be at least 1") }
            }
            for (name, list) in [("--models", models), ("--backends", backends)] where list != nil && Self.names(list).isEmpty {
                throw ValidationError("\(name) needs at least one name")
            }
        }

        static func names(_ list: String?) -> [String] {
            (list ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }

        func run() async throws {
            let store = try KeyStore(OutcomeStore(path: database.db))
            let (key, secret) = try store.create(
                id: id, tenant: tenant, role: role, allowedModels: Self.names(models), allowedBackends: Self.names(backends),
                requestsPerMinute: requestsPerMinute, tokensPerMinute: tokensPerMinute)
            FileHandle.standardError.write(Data(
                "created key '\(key.id)' (tenant \(key.tenant), role \(key.role)); it is shown once, store it now:\n".utf8))
            print(secret)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the keys (never their secrets).")

        @OptionGroup var database: DatabaseOption

        func run() async throws {
            let keys = try KeyStore(OutcomeStore(path: database.db)).list()
            print(Self.table(keys))
        }

        static func table(_ keys: [StoredGatewayKey]) -> String {
            let formatter = ISO8601DateFormatter()
            var rows = [["ID", "TENANT", "ROLE", "MODELS", "BACKENDS", "RPM", "TPM", "CREATED", "STATUS"]]
            for key in keys {
                rows.append([
                    key.id, key.tenant, key.role, key.allowedModels.isEmpty ? "*" : key.allowedModels.joined(separator: ","),
                    key.allowedBackends.isEmpty ? "*" : key.allowedBackends.joined(separator: ","),
                    key.requestsPerMinute.map(String.init) ?? "-", key.tokensPerMinute.map(String.init) ?? "-",
                    formatter.string(from: key.createdAt),
                    key.revokedAt.map { "revoked \(formatter.string(from: $0))" } ?? "active",
                ])
            }
            let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
            return rows.map { row in
                row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                    .trimmingCharacters(in: .whitespaces)
            }.joined(separator: "\n")
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a key (kept in the list as revoked).")

        @OptionGroup var database: DatabaseOption

        @Argument(help: "The key's id.")
        var id: String

        func run() async throws {
            guard try KeyStore(OutcomeStore(path: database.db)).revoke(id: id) else {
                throw ValidationError("no active key with id '\(id)'")
            }
            print("revoked \(id)")
        }
    }
}
