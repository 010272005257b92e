/// Which served models answer on this machine and which call a remote API: the tier an outcome row records and
/// the tier shadow evaluation compares against.
///
/// A model is local when its backend's kind is not a remote API (`openai` and `anthropic` are; the embedded
/// model is not), or when it (or its backend) is a member of the routing tier named `local` — an
/// OpenAI-compatible server on this machine (vLLM, llama.cpp) is local because the configuration says so, the
/// same rule the router uses for private requests.
public struct ServingTiers: Sendable, Hashable {
    private let localBackends: Set<String>
    private let localMembers: Set<String>

    public init(config: GatewayConfig) {
        self.localBackends = Set(config.backends.filter { !$0.kind.isRemoteAPI }.map(\.name))
        self.localMembers = Set(config.routing?.tiers[RoutingConfig.localTier] ?? [])
    }

    /// Whether `model` served by `backend` runs on this machine. Unknown names count as remote.
    public func isLocal(backend: String, model: String) -> Bool {
        localBackends.contains(backend) || localMembers.contains(backend) || localMembers.contains(model)
    }
}

extension BackendKind {
    /// Whether this kind calls an API on another machine (`openai`, `anthropic`).
    public var isRemoteAPI: Bool { [BackendKind.openai, .anthropic].contains(self) }
}
