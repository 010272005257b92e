public import Foundation
public import Routing
import Synchronization

/// The policy in force, swapped atomically on reload. An invalid new file is rejected and the old policy keeps
/// serving; `reload()` says which happened.
public final class PolicyHolder: Sendable {
    public struct Current: Sendable {
        public var loaded: LoadedPolicy
        public var engine: PolicyEngine
        /// Modification date of the file when it was loaded (for change polling).
        public var modified: Date?
        /// Increases with every successful reload.
        public var generation: Int
    }

    public let file: String
    public let catalog: RoutingCatalog
    private let state: Mutex<Current>

    /// Loads `file` now; throws when it is invalid (start-up fails rather than run without a policy).
    public init(file: String, catalog: RoutingCatalog) throws(ConfigError) {
        self.file = file
        self.catalog = catalog
        let loaded = try PolicyLoader.load(file: file, catalog: catalog)
        state = Mutex(Current(
            loaded: loaded, engine: PolicyEngine(policy: loaded.policy, catalog: catalog, classifier: loaded.classifier),
            modified: Self.modificationDate(file), generation: 1))
    }

    public var current: Current { state.withLock { $0 } }

    public enum ReloadResult: Sendable {
        case reloaded(generation: Int)
        case unchanged
        /// The new file is invalid; the previous policy still serves.
        case rejected(ConfigError)
    }

    /// Reads the file again; `onlyIfChanged` skips it when its modification date is the one loaded.
    @discardableResult
    public func reload(onlyIfChanged: Bool = false) -> ReloadResult {
        let modified = Self.modificationDate(file)
        if onlyIfChanged, modified == state.withLock({ $0.modified }) { return .unchanged }
        do {
            let loaded = try PolicyLoader.load(file: file, catalog: catalog)
            let engine = PolicyEngine(policy: loaded.policy, catalog: catalog, classifier: loaded.classifier)
            let generation = state.withLock { s in
                s = Current(loaded: loaded, engine: engine, modified: modified, generation: s.generation + 1)
                return s.generation
            }
            return .reloaded(generation: generation)
        } catch {
            // Remember the date so a broken file is reported once, not on every poll.
            state.withLock { $0.modified = modified }
            return .rejected(error)
        }
    }

    static func modificationDate(_ file: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: file))?[.modificationDate] as? Date
    }
}
