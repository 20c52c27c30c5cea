import Foundation
import Testing
import TulgaCore
import TulgaDigitalID
import TulgaStorage
import TulgaCrypto
import TulgaTestSupport

@Suite("Digital ID rules, pure, and a damaged row")
struct DigitalIDRulesTests {
    static let allowed: [DigitalIDRecord.Status: [DigitalIDEvent: DigitalIDRecord.Status]] = [
        .active: [.suspend: .suspended, .revoke: .revoked],
        .suspended: [.reinstate: .active, .revoke: .revoked],
    ]

    @Test("every status against every event", arguments: DigitalIDRecord.Status.allCases)
    func lifecycle(from status: DigitalIDRecord.Status) {
        for event in DigitalIDEvent.allCases {
            if let expected = Self.allowed[status]?[event] {
                #expect((try? DigitalIDLifecycle.transition(from: status, event: event)) == expected, "\(status) + \(event)")
            } else {
                #expect(throws: DigitalIDError(.invalidState, ""), "\(status) + \(event)") { try DigitalIDLifecycle.transition(from: status, event: event) }
            }
        }
    }

    @Test("a passed verification creates, replaces a revoked record, or keeps the one there")
    func creation() {
        #expect(DigitalIDLifecycle.creation(existing: nil) == .create)
        #expect(DigitalIDLifecycle.creation(existing: .revoked) == .replaceRevoked)
        #expect(DigitalIDLifecycle.creation(existing: .active) == .keep)
        #expect(DigitalIDLifecycle.creation(existing: .suspended) == .keep)
    }

    @Test("the PIN counter: a right PIN resets, the fifth wrong one locks, a locked record stays locked")
    func pinCounter() {
        var counter = PINCounter()
        for left in (1...4).reversed() {
            let (next, result) = counter.checked(matches: false)
            #expect(result == .wrong(attemptsLeft: left))
            counter = next
        }
        #expect(counter.checked(matches: true) == (PINCounter(), .accepted))
        let (locked, result) = counter.checked(matches: false)
        #expect(result == .locked && locked.locked && locked.failures == 5)
        #expect(locked.checked(matches: true) == (locked, .locked))
    }

    @Test("PIN rules", arguments: [("12345", DigitalIDErrorCode.pinNotSixDigits), ("1234567", .pinNotSixDigits), ("12a456", .pinNotSixDigits),
                                   ("111111", .pinAllSame), ("123456", .pinSequence), ("654321", .pinSequence)])
    func pinRules(pin: String, code: DigitalIDErrorCode) throws {
        #expect(throws: DigitalIDError(code, "")) { try PINPolicy.check(pin) }
        try PINPolicy.check("402719")
    }

    @Test("consent limits")
    func consentLimits() throws {
        try ConsentRules.checkGrant(seconds: 1, status: .active)
        try ConsentRules.checkGrant(seconds: ConsentRules.maxSeconds, status: .active)
        for (seconds, status) in [(0.0, DigitalIDRecord.Status.active), (ConsentRules.maxSeconds + 1, .active), (60, .suspended), (60, .revoked)] {
            #expect(throws: DigitalIDError(.invalidState, ""), "\(seconds) \(status)") { try ConsentRules.checkGrant(seconds: seconds, status: status) }
        }
        #expect(throws: DigitalIDError(.invalidState, "")) { try ConsentRules.checkGrant(seconds: 60, status: nil) }
        let c = Consent(id: "c", iin: "x", scope: "ca.identity", grantedAt: 100, expiresAt: 200, revokedAt: nil)
        #expect(c.isValid(for: "ca.identity", at: 150) && !c.isValid(for: "ca.identity", at: 200) && !c.isValid(for: "bank", at: 150))
    }

    @Test("a damaged row is an error, never a plausible default")
    func damagedRow() async throws {
        let keys = try ServiceKeys.scratch()
        let database = KeyedDatabase(try await Backend.sqlite.open(), auditKey: keys.audit)
        var migrator = Migrator()
        DigitalIDRecords.register(&migrator)
        AuditLog.register(&migrator)
        try await migrator.migrate(database, keys: keys)
        try await database.transaction { db in
            try db.execute("""
                INSERT INTO digital_ids (iin, surname, given_name, document_number, status, created_at, verified_at, verified_by)
                VALUES ('850314300013', 'A', 'B', 'N', 'frozen', 1, 1, 'automatic')
                """)
        }
        let records = DigitalIDRecords(RecordContext(database: database, clock: ManualClock()))
        await #expect(throws: StorageError(.damagedRow, "")) { _ = try await records.record("850314300013") }
        await database.close()
    }

    @Test("the document step's lifecycle: pending → done or review → done or rejected; a new verification reopens only pending and rejected",
          arguments: [
              (DocumentStepState.pending, DocumentStepEvent.matched, DocumentStepState?.some(.done)),
              (.pending, .sentToReview, .review), (.review, .approved, .done), (.review, .rejected, .rejected),
              (.pending, .reverified, .pending), (.rejected, .reverified, .pending), (.review, .reverified, .review), (.done, .reverified, .done),
              (.done, .matched, nil), (.done, .sentToReview, nil), (.review, .matched, nil), (.rejected, .matched, nil), (.pending, .approved, nil),
              (.done, .approved, nil), (.rejected, .approved, nil),
          ])
    func documentStep(from: DocumentStepState, event: DocumentStepEvent, to: DocumentStepState?) throws {
        if let to {
            #expect(try DocumentStepLifecycle.transition(from: from, event: event) == to)
        } else {
            #expect(throws: DigitalIDError(.invalidState, "")) { try DocumentStepLifecycle.transition(from: from, event: event) }
        }
    }
}
