public import Routing

/// Gateway keys are stored and compared as SHA-256 digests; the implementation lives in Routing (the lowest
/// module that needs it) so there is exactly one.
public typealias SHA256 = SHA256Digest
