import OutcomeStore

/// The outcome log's row type, under a name that does not clash with `FakeUpstream.RequestOutcome`.
typealias OutcomeRow = RequestOutcome
