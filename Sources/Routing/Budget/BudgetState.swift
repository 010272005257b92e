/// Spend per budget at decision time (a snapshot from `SpendLedger`).
public struct BudgetState: Sendable, Hashable {
    /// Budget name → micro-dollars already spent in the budget's current period by this request's scope.
    public var spentMicros: [String: Int64]

    public init(spentMicros: [String: Int64] = [:]) {
        self.spentMicros = spentMicros
    }

    /// Budgets of `policy` that are spent.
    public func exhausted(in budgets: [BudgetRule]) -> [BudgetRule] {
        budgets.filter { (spentMicros[$0.name] ?? 0) >= $0.limitMicros }
    }
}

/// A calendar period a budget counts in, computed by the caller from its clock (UTC), e.g. day "2026-11-21".
public struct SpendPeriod: Sendable, Hashable {
    public var day: String
    public var month: String
    public init(day: String, month: String) {
        self.day = day
        self.month = month
    }
}

/// In-memory spend per budget scope and period, fed by actual usage costs. Not persisted: after a restart
/// spend starts at zero (persisted spend can later be loaded from the outcome store via `seed`).
public actor SpendLedger {
    private struct Key: Hashable {
        var scope: BudgetRule.Scope
        var owner: String
        var period: String
    }

    private var spent: [Key: Int64] = [:]

    public init() {}

    private static func key(_ rule: BudgetRule, keyID: String?, tenant: String?, period: SpendPeriod) -> Key? {
        let p = rule.period == .day ? period.day : period.month
        switch rule.scope {
        case .key: return keyID.map { Key(scope: .key, owner: $0, period: p) }
        case .tenant: return tenant.map { Key(scope: .tenant, owner: $0, period: p) }
        case .global: return Key(scope: .global, owner: "", period: p)
        }
    }

    /// Adds an actual cost.
    public func record(costMicros: Int64, keyID: String?, tenant: String?, period: SpendPeriod) {
        guard costMicros > 0 else { return }
        for scope in BudgetRule.Scope.allCases {
            for kind in BudgetRule.Period.allCases {
                let probe = BudgetRule(name: "", scope: scope, period: kind, limitMicros: 0, onExhausted: .reject)
                if let k = Self.key(probe, keyID: keyID, tenant: tenant, period: period) { spent[k, default: 0] += costMicros }
            }
        }
    }

    /// The spend of each budget for this caller in the current period.
    public func state(for budgets: [BudgetRule], keyID: String?, tenant: String?, period: SpendPeriod) -> BudgetState {
        var state = BudgetState()
        for rule in budgets {
            if let k = Self.key(rule, keyID: keyID, tenant: tenant, period: period) {
                state.spentMicros[rule.name] = spent[k] ?? 0
            }
        }
        return state
    }
}
