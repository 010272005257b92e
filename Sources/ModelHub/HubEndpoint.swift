// Where files come from and who asks: base URL (`--base-url`, `HF_ENDPOINT`) and token (`HF_TOKEN`).

import Foundation

/// The server and credentials, from options and the environment the way huggingface_hub reads them.
public enum HubEndpoint {
    public static let defaultBaseURL = "https://huggingface.co"

    /// `--base-url` if given, else `HF_ENDPOINT`, else `https://huggingface.co`.
    public static func baseURL(option: String?, environment: [String: String]) -> String {
        if let option, !option.isEmpty { return option }
        if let endpoint = environment["HF_ENDPOINT"], !endpoint.isEmpty { return endpoint }
        return defaultBaseURL
    }

    /// `HF_TOKEN`, when set and not empty.
    public static func token(environment: [String: String]) -> HubToken? {
        guard let value = environment["HF_TOKEN"]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty
        else { return nil }
        return HubToken(value)
    }

    /// `http(s)://host[:port][/prefix]` without a trailing slash.
    static func validatedBaseURL(_ text: String) throws(ModelHubError) -> String {
        var base = text
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil
        else {
            throw .invalidBaseURL(text)
        }
        return base
    }
}

/// A bearer token. Its description is redacted so that it cannot reach a log or a message by accident.
public struct HubToken: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    let value: String

    public init(_ value: String) { self.value = value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}
