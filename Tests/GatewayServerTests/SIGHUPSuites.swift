import Testing

/// The suites that send SIGHUP: it reaches every gateway in the test process, so they run one at a time, apart
/// from each other.
@Suite("Suites that send SIGHUP", .serialized)
enum SIGHUPSuites {}
