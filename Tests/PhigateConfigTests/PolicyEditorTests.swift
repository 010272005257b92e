import Foundation
import PhigateConfig
import Routing
import Testing

/// `phigate tune --write`'s edit: one value changes, the rest of the file stays byte for byte.
@Suite struct PolicyEditorTests {
    /// The lines of `a` and `b` that differ, as (line number, before, after).
    static func changedLines(_ a: String, _ b: String) -> [(Int, String, String)] {
        let left = a.components(separatedBy: "\n")
        let right = b.components(separatedBy: "\n")
        var changes: [(Int, String, String)] = []
        for i in 0..<max(left.count, right.count) {
            let l = i < left.count ? left[i] : "<none>"
            let r = i < right.count ? right[i] : "<none>"
            if l != r { changes.append((i + 1, l, r)) }
        }
        return changes
    }

    static let blockPolicy = """
        # Keep private data here.
        name: careful
        owns: [auto]

        auto:
          local: local        # the embedded model
          frontier: frontier
          threshold: 0.3      # only clearly hard requests leave the machine

        rules:
          - name: auto        # the only rule
            when: { model: [auto] }
            route_auto: true
        """

    @Test func anExistingThresholdChangesAndEveryCommentStays() throws {
        let edited = try PolicyEditor.settingThreshold(0.4237819, in: Self.blockPolicy, file: "careful.yaml")
        let changes = Self.changedLines(Self.blockPolicy, edited)
        #expect(changes.count == 1)
        #expect(changes.first?.2 == "  threshold: 0.4237819      # only clearly hard requests leave the machine")
        let loaded = try PolicyLoader.load(yaml: edited, file: "careful.yaml")
        #expect(loaded.policy.auto.threshold == 0.4237819)
    }

    @Test(arguments: [
        ("auto: { threshold: 0.5 }", "auto: { threshold: 0.25 }"),
        ("auto: { local: local, threshold: \"0.5\" }  # quoted", "auto: { local: local, threshold: 0.25 }  # quoted"),
        ("auto: {local: local}", "auto: { threshold: 0.25, local: local}"),
        ("auto: { quality: 0.9, threshold: 1 }", "auto: { quality: 0.9, threshold: 0.25 }"),
    ])
    func flowMappings(before: String, after: String) throws {
        let yaml = "name: flow\n\(before)\nrules:\n  - { name: a, when: { model: [auto] }, route_auto: true }\n"
        let edited = try PolicyEditor.settingThreshold(0.25, in: yaml, file: "flow.yaml")
        #expect(edited == yaml.replacingOccurrences(of: before, with: after))
    }

    @Test func anOperatingTargetIsReplacedByTheThreshold() throws {
        let file = PolicyLoaderTests.policyDirectory.appendingPathComponent("default.yaml").path
        let original = try String(contentsOfFile: file, encoding: .utf8)
        let edited = try PolicyEditor.settingThreshold(0.61, in: original, file: file)
        let changes = Self.changedLines(original, edited)
        #expect(changes.count == 1)
        #expect(changes.first?.2 == "  threshold: 0.61  # set by phigate tune (was quality: 0.95)")
        let loaded = try PolicyLoader.load(yaml: edited, file: file, catalog: try PolicyLoaderTests.shippedCatalog())
        #expect(loaded.policy.auto.threshold == 0.61)
        #expect(loaded.policy.auto.target == nil)
    }

    @Test func aMissingThresholdIsAddedWithTheMappingsIndentation() throws {
        let yaml = "name: x\nauto:\n    local: local   # here\n    frontier: frontier\nrules: []\n"
        let edited = try PolicyEditor.settingThreshold(0.5, in: yaml, file: "x.yaml")
        #expect(edited == "name: x\nauto:\n    threshold: 0.5  # set by phigate tune\n    local: local   # here\n    frontier: frontier\nrules: []\n")
    }

    @Test func aMissingAutoSectionIsAppended() throws {
        let yaml = "# comment\nname: x\nrules:\n  - { name: a, when: { model: [auto] }, route_auto: true }\n"
        let edited = try PolicyEditor.settingThreshold(0.5, in: yaml, file: "x.yaml")
        #expect(edited.hasPrefix(yaml))
        #expect(edited.hasSuffix("\n\nauto:\n  threshold: 0.5  # set by phigate tune\n"))
        #expect(try PolicyLoader.load(yaml: edited, file: "x.yaml").policy.auto.threshold == 0.5)
    }

    @Test func windowsLineEndingsStay() throws {
        let yaml = "name: x\r\nauto:\r\n  threshold: 0.5 # c\r\nrules: []\r\n"
        let edited = try PolicyEditor.settingThreshold(0.75, in: yaml, file: "x.yaml")
        #expect(edited == "name: x\r\nauto:\r\n  threshold: 0.75 # c\r\nrules: []\r\n")
    }

    /// Every shipped policy takes a new threshold, still loads against the example config, and carries it.
    @Test(arguments: PolicyLoaderTests.policyFiles)
    func everyShippedPolicyTakesAThreshold(name: String) throws {
        let file = PolicyLoaderTests.policyDirectory.appendingPathComponent(name).path
        let original = try String(contentsOfFile: file, encoding: .utf8)
        let edited = try PolicyEditor.settingThreshold(0.375, in: original, file: file)
        #expect(Self.changedLines(original, edited).count == 1)
        let loaded = try PolicyLoader.load(yaml: edited, file: file, catalog: try PolicyLoaderTests.shippedCatalog())
        #expect(loaded.policy.auto.threshold == 0.375)
        #expect(loaded.policy.auto.target == nil)
    }

    @Test func outOfRangeThresholdsAndUnusableFilesAreRefused() {
        #expect(throws: ConfigError.self) { try PolicyEditor.settingThreshold(1.5, in: Self.blockPolicy, file: "x.yaml") }
        #expect(throws: ConfigError.self) { try PolicyEditor.settingThreshold(0.5, in: "[1, 2]", file: "x.yaml") }
        #expect(throws: ConfigError.self) { try PolicyEditor.settingThreshold(0.5, in: "name: x\nauto: fast\n", file: "x.yaml") }
        #expect(throws: ConfigError.self) { try PolicyEditor.settingThreshold(0.5, in: "{name: x, rules: []}", file: "x.yaml") }
    }
}
