// FakeUpstream module.
