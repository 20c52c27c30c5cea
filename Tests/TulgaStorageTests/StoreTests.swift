import Foundation
import Testing
import TulgaDigitalID
import TulgaPolicy
import TulgaStorage
import TulgaCore
import TulgaFlow
import TulgaAttempts
import TulgaModeration
import TulgaRegistry
import TulgaTestSupport
import TulgaCrypto

@Suite("Store on SQLite and PostgreSQL")
struct StoreTests {
    @Test("registry photos are encrypted at rest", arguments: Backend.allCases)
    func registry(backend: Backend) async throws {
        try await withHarness(backend) { h in
        let iin = People.iin(1)
        let photo = Data("JPEG bytes of a face".utf8)
        try await People.register(h.store, iin, photo: photo)
        let entry = try #require(try await h.store.registry.entry(iin))
        #expect(entry.photo == photo && entry.surname == "ABAYEV")
        let raw = try await h.database.transaction { db in try db.one("SELECT photo, key_id FROM registry WHERE iin = ?", [.text(iin)]) }
        let stored = try #require(raw?["photo"].blob)
        #expect(stored != photo && stored.range(of: photo) == nil)
        #expect(raw?["key_id"].text == h.store.cipher.keyID)
        #expect(try await h.store.registry.entry(People.iin(2)) == nil)
        }
    }

    @Test("attempt leases: an expired one is released (not counted) when the IIN is next touched; one from an older build has none", arguments: Backend.allCases)
    func leases(backend: Backend) async throws {
        try await withHarness(backend) { h in
        let iin = People.iin(4)
        let lease = h.store.settings.attempts.leaseSeconds
        var tickets: [AttemptTicket] = []
        for _ in 0..<5 { tickets.append(try await h.store.attempts.begin(iin: iin)) }
        await #expect(throws: AttemptError(.attemptsExhausted, "")) { _ = try await h.store.attempts.begin(iin: iin) }
        h.clock.advance(lease - 1)
        await #expect(throws: AttemptError(.attemptsExhausted, "")) { _ = try await h.store.attempts.begin(iin: iin) }
        // One finishes in time and fails: that failure counts; the four left behind do not.
        _ = try await h.store.runner.record(tickets[0], outcome: .fail, score: 0.1, livenessPassed: true, reason: "test",
                                            evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        h.clock.advance(2)
        _ = try await h.store.attempts.begin(iin: iin)   // releases the four, then starts
        let status = try await h.store.attempts.status(iin)
        #expect(status.failures == 1 && status.running == 1 && status.attemptsLeft == 3)
        // A late result for a released attempt is refused, not recorded over the release.
        await #expect(throws: AttemptError(.invalidState, "")) {
            _ = try await h.store.runner.record(tickets[1], outcome: .pass, score: 0.9, livenessPassed: true, reason: "late",
                                                evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        }
        // A running attempt written by a build without leases is released at once.
        let old = People.iin(5)
        try await h.database.transaction { db in
            try db.execute("INSERT INTO applicants (iin, failures, running) VALUES (?, 0, 5)", [.text(old)])
            for i in 0..<5 { try db.execute("INSERT INTO attempts (id, iin, state, started_at) VALUES (?, ?, 'running', 1)", [.text("att-old\(i)"), .text(old)]) }
        }
        #expect(try await h.store.attempts.releaseExpiredLeases() == 5)
        let freed = try await h.store.attempts.status(old)
        #expect(freed.running == 0 && freed.failures == 0 && freed.attemptsLeft == 5)
        #expect(try await h.store.auditEntries().filter { $0.action == "attempt.lease_expired" }.count == 9)
        // An attempt whose liveness had already failed when the service stopped counts when its lease ends;
        // the other one started with it (and iin(4)'s last) are released uncounted.
        let judged = People.iin(6)
        let failing = try await h.store.attempts.begin(iin: judged)
        _ = try await h.store.attempts.begin(iin: judged)
        try await h.store.attempts.markFailed(failing)
        h.clock.advance(lease + 1)
        #expect(try await h.store.attempts.releaseExpiredLeases() == 3)
        let counted = try await h.store.attempts.status(judged)
        #expect(counted.running == 0 && counted.failures == 1 && counted.attemptsLeft == 4)
        #expect(try await h.store.auditEntries().filter { $0.action == "attempt.lease_expired_failed" }.count == 1)
        }
    }

    @Test("20 concurrent attempts never record more than 5 failures nor run a 6th", arguments: Backend.allCases)
    func concurrentAttempts(backend: Backend) async throws {
        try await withHarness(backend) { h in
        let iin = People.iin(3)
        try await People.register(h.store, iin)
        let store = h.store
        let results = await withTaskGroup(of: Result<AttemptResult, any Error>.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    do {
                        let ticket = try await store.attempts.begin(iin: iin)
                        return .success(try await store.runner.record(ticket, outcome: .fail, score: 0.1, livenessPassed: true,
                                                                      reason: "low score", evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil)))
                    } catch { return .failure(error) }
                }
            }
            var all: [Result<AttemptResult, any Error>] = []
            for await r in group { all.append(r) }
            return all
        }
        let ran = results.compactMap { try? $0.get() }
        let refused = results.compactMap { if case .failure(let e) = $0 { e as? AttemptError } else { nil } }
        #expect(ran.count == 5)
        #expect(refused.count == 15 && refused.allSatisfy { $0.code == .attemptsExhausted })
        let status = try await store.attempts.status(iin)
        #expect(status.failures == 5 && status.running == 0 && status.attemptsLeft == 0 && status.inPersonUnlocked)
        await #expect(throws: AttemptError(.attemptsExhausted, "")) { _ = try await store.attempts.begin(iin: iin) }
        }
    }

    @Test("in-person application is refused until five failures", arguments: Backend.allCases)
    func inPerson(backend: Backend) async throws {
        try await withHarness(backend) { h in
        let iin = People.iin(4)
        try await People.register(h.store, iin)
        let none = Evidence(selfie: nil, reference: nil, livenessReport: nil)
        for i in 1...5 {
            do {
                try await h.store.attempts.acceptInPerson(iin: iin, operator: "op1")
                Issue.record("accepted after \(i - 1) failures")
            } catch let error as AttemptError { #expect(error.code == .inPersonLocked) }
            let ticket = try await h.store.attempts.begin(iin: iin)
            let result = try await h.store.runner.record(ticket, outcome: .fail, score: nil, livenessPassed: false, reason: "liveness", evidence: none)
            #expect(result.attemptsLeft == 5 - i)
            #expect(result.inPersonUnlocked == (i == 5))
        }
        try await h.store.attempts.acceptInPerson(iin: iin, operator: "op1")
        #expect(try await h.store.attempts.status(iin).inPersonAccepted)
        }
    }

    @Test("a pass creates an automatic Digital ID; a review opens a case with encrypted evidence", arguments: Backend.allCases)
    func outcomes(backend: Backend) async throws {
        try await withHarness(backend) { h in
        let passer = People.iin(5), reviewed = People.iin(6)
        try await People.register(h.store, passer)
        try await People.register(h.store, reviewed)
        let t1 = try await h.store.attempts.begin(iin: passer)
        let r1 = try await h.store.runner.record(t1, outcome: .pass, score: 0.7, livenessPassed: true, reason: "",
                                                 evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        #expect(r1.outcome == .pass && r1.caseID == nil)
        let id = try #require(try await h.store.digitalIDs.record(passer))
        #expect(id.status == .active && id.automaticallyVerified && id.surname == "ABAYEV")

        let selfie = Data("selfie pixels".utf8)
        let t2 = try await h.store.attempts.begin(iin: reviewed, language: .kk)
        let r2 = try await h.store.runner.record(t2, outcome: .review, score: 0.33, livenessPassed: true, reason: "score in the review band",
                                                 evidence: Evidence(selfie: selfie, reference: Data("ref".utf8), livenessReport: "{}"))
        let caseID = try #require(r2.caseID)
        #expect(try await h.store.digitalIDs.record(reviewed) == nil)
        let raw = try await h.database.transaction { db in try db.one("SELECT selfie FROM cases WHERE id = ?", [.text(caseID)]) }
        #expect(raw?["selfie"].blob != selfie)
        #expect(r2.attemptsLeft == 5)
        }
    }

    @Test("moderation: leases, reasons, roles, own cases, SMS and the Digital ID", arguments: Backend.allCases)
    func moderation(backend: Backend) async throws {
        try await withHarness(backend) { h in
        let s = h.store
        let applicant = People.iin(7), moderatorIIN = People.iin(8)
        try await People.register(s, applicant)
        try await s.moderation.addModerator(id: "m1", role: .moderator, secret: "first-secret-123", iin: People.iin(9))
        try await s.moderation.addModerator(id: "m2", role: .moderator, secret: "second-secret-123", iin: applicant)
        try await s.moderation.addModerator(id: "sup", role: .supervisor, secret: "super-secret-123", iin: moderatorIIN)
        await #expect(throws: ModerationError(.unauthorized, "")) { _ = try await s.moderation.authenticate(id: "m1", secret: "wrong-secret-000") }
        let m1 = try await s.moderation.authenticate(id: "m1", secret: "first-secret-123")
        let m2 = try await s.moderation.authenticate(id: "m2", secret: "second-secret-123")
        let sup = try await s.moderation.authenticate(id: "sup", secret: "super-secret-123")

        let ticket = try await s.attempts.begin(iin: applicant, language: .kk, owner: "key:portal")
        let caseID = try #require(try await s.runner.record(ticket, outcome: .review, score: 0.3, livenessPassed: true, reason: "review band",
                                                            evidence: Evidence(selfie: Data([1]), reference: Data([2]), livenessReport: "{}")).caseID)
        #expect(try await s.moderation.list(state: .open, as: m1).map(\.id) == [caseID])

        // m2 is the applicant: may not touch the case.
        await #expect(throws: ModerationError(.ownCase, "")) { _ = try await s.moderation.claim(caseID, as: m2) }
        // Deciding without a claim, then claim.
        await #expect(throws: ModerationError(.notClaimedByYou, "")) { _ = try await ModerationDesk(records: s).decide(caseID, approve: true, reason: "ok", as: m1) }
        let claimed = try await s.moderation.claim(caseID, as: m1)
        #expect(claimed.state == .claimed && claimed.claimedBy == "m1")
        // The supervisor cannot claim a held case but can reassign; a moderator cannot reassign.
        await #expect(throws: ModerationError(.alreadyClaimed, "")) { _ = try await s.moderation.claim(caseID, as: sup) }
        await #expect(throws: ModerationError(.notAllowed, "")) { _ = try await s.moderation.reassign(caseID, to: "sup", as: m1) }
        await #expect(throws: ModerationError(.ownCase, "")) { _ = try await s.moderation.reassign(caseID, to: "m2", as: sup) }  // m2's own case
        // The lease expires: the case is open again and anyone may claim it.
        h.clock.advance(s.settings.moderation.leaseSeconds + 1)
        #expect(try await s.moderation.list(state: .open, as: m1).count == 1)
        await #expect(throws: ModerationError(.leaseExpired, "")) { _ = try await ModerationDesk(records: s).decide(caseID, approve: true, reason: "ok", as: m1) }
        _ = try await s.moderation.claim(caseID, as: m1)
        await #expect(throws: ModerationError(.reasonRequired, "")) { _ = try await ModerationDesk(records: s).decide(caseID, approve: true, reason: "  ", as: m1) }
        let approved = try await ModerationDesk(records: s).decide(caseID, approve: true, reason: "same person, older photo", as: m1)
        #expect(approved.state == .approved && approved.decidedBy == "m1")
        await #expect(throws: ModerationError(.alreadyDecided, "")) { _ = try await ModerationDesk(records: s).decide(caseID, approve: false, reason: "again", as: m1) }

        let id = try #require(try await s.digitalIDs.record(applicant))
        #expect(id.verifiedBy == "moderator:m1" && !id.automaticallyVerified)
        // The system that ran the reviewed attempt, and no other, may set the first PIN.
        #expect(try await s.digitalIDs.isPINSetter(iin: applicant) { $0 == "key:portal" })
        #expect(try await !s.digitalIDs.isPINSetter(iin: applicant) { $0 == "key:other" })
        let sms = try await s.outbox(iin: applicant)
        #expect(sms.count == 1)
        #expect(sms.first?.language == "kk" && sms.first?.body == moderationResultMessage(approved: true, attemptsLeft: 0).text(.kk))
        #expect(sms.first?.phone?.hasPrefix("+7701") == true)

        let audit = try await s.auditEntries(subject: caseID).map(\.action)
        #expect(audit.contains("case.claim") && audit.contains("case.approve"))
        #expect(try await s.auditEntries(subject: caseID).first { $0.action == "case.approve" }?.actor == "moderator:m1")

        let own = try await s.moderation.stats(as: m2)
        #expect(own.decisionsBy.isEmpty && own.approved == 1)
        #expect(try await s.moderation.stats(as: sup).decisionsBy == ["m1": 1])
        }
    }

    @Test("moderation separation: an IIN on every account; evidence only for the claim holder or an audited supervisor; a rejection is a failed attempt", arguments: Backend.allCases)
    func separation(backend: Backend) async throws {
        try await withHarness(backend) { h in
        let s = h.store, desk = ModerationDesk(records: s)
        let applicant = People.iin(17)
        try await People.register(s, applicant)
        await #expect(throws: ModerationError(.invalidModerator, "")) { try await s.moderation.addModerator(id: "x", role: .moderator, secret: "x-secret-000001", iin: "") }
        try await s.moderation.addModerator(id: "m1", role: .moderator, secret: "first-secret-123", iin: People.iin(18))
        try await s.moderation.addModerator(id: "m2", role: .moderator, secret: "second-secret-123", iin: People.iin(19))
        try await s.moderation.addModerator(id: "sup", role: .supervisor, secret: "super-secret-123", iin: applicant)   // the applicant is a supervisor
        // An account from an older build, without an IIN, does not log in.
        try await h.database.transaction { db in
            try db.execute("INSERT INTO moderators (id, role, secret_hash, iin) VALUES ('old', 'supervisor', ?, NULL)", [.text(try SecretHash.make("old-secret-00001"))])
        }
        await #expect(throws: ModerationError(.unauthorized, "")) { _ = try await s.moderation.authenticate(id: "old", secret: "old-secret-00001") }
        let m1 = try await s.moderation.authenticate(id: "m1", secret: "first-secret-123")
        let m2 = try await s.moderation.authenticate(id: "m2", secret: "second-secret-123")
        let sup = try await s.moderation.authenticate(id: "sup", secret: "super-secret-123")

        var left = 5
        for round in 1...5 {
            let ticket = try await s.attempts.begin(iin: applicant)
            let caseID = try #require(try await s.runner.record(ticket, outcome: .review, score: 0.33, livenessPassed: true, reason: "review band",
                                                                evidence: Evidence(selfie: Data([1]), reference: Data([2]), livenessReport: "{}")).caseID)
            if round == 1 {
                // Evidence: not before a claim, not for another moderator, never for the person the case is about.
                await #expect(throws: ModerationError(.notClaimedByYou, "")) { _ = try await s.moderation.detail(caseID, as: m1) }
                await #expect(throws: ModerationError(.ownCase, "")) { _ = try await s.moderation.detail(caseID, as: sup) }
                await #expect(throws: ModerationError(.ownCase, "")) { _ = try await s.moderation.reassign(caseID, to: "m1", as: sup) }
                _ = try await s.moderation.claim(caseID, as: m1)
                #expect(try await s.moderation.detail(caseID, as: m1).selfie == Data([1]))
                await #expect(throws: ModerationError(.notClaimedByYou, "")) { _ = try await s.moderation.detail(caseID, as: m2) }
            } else {
                _ = try await s.moderation.claim(caseID, as: m1)
            }
            h.clock.advance(1)   // one SMS a second, so the newest is last
            _ = try await desk.decide(caseID, approve: false, reason: "another person", as: m1)
            left -= 1
            // A rejection is a recorded failure, and the SMS says what is really possible next.
            let status = try await s.attempts.status(applicant)
            #expect(status.failures == round && status.attemptsLeft == left && status.inPersonUnlocked == (round == 5))
            let sms = try #require(try await s.outbox(iin: applicant).last)
            #expect(sms.body == moderationResultMessage(approved: false, attemptsLeft: left).text(.ru))
            let body = try #require(sms.body)
            #expect(round == 5 ? body.contains("ЦОН") : body.contains("осталось попыток: \(left)"))
        }
        await #expect(throws: AttemptError(.attemptsExhausted, "")) { _ = try await s.attempts.begin(iin: applicant) }
        // A supervisor may look at a case held by someone else; the view is audited as such.
        let other = People.iin(20)
        try await People.register(s, other)
        let t = try await s.attempts.begin(iin: other)
        let held = try #require(try await s.runner.record(t, outcome: .review, score: 0.33, livenessPassed: true, reason: "review band",
                                                          evidence: Evidence(selfie: Data([3]), reference: Data([4]), livenessReport: "{}")).caseID)
        _ = try await s.moderation.claim(held, as: m2)
        #expect(try await s.moderation.detail(held, as: sup).selfie == Data([3]))
        #expect(try await s.auditEntries(subject: held).contains { $0.action == "case.view" && $0.actor == "moderator:sup" && $0.detail.contains("supervisor") })
        }
    }

    @Test("PIN recovery: a locked PIN is cleared only by a new passed verification, then a new PIN is set; every step audited", arguments: Backend.allCases)
    func pinRecovery(backend: Backend) async throws {
        try await withHarness(backend) { h in
        let s = h.store, iin = People.iin(30)
        try await People.register(s, iin)
        func pass() async throws {
            let t = try await s.attempts.begin(iin: iin)
            _ = try await s.runner.record(t, outcome: .pass, score: 0.8, livenessPassed: true, reason: "", evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        }
        try await pass()
        try await s.digitalIDs.setPIN(iin: iin, pin: "402719")
        // A passed verification while the PIN works leaves it as it is.
        try await pass()
        #expect(try await s.digitalIDs.checkPIN(iin: iin, pin: "402719") == .accepted)
        for _ in 0..<5 { _ = try await s.digitalIDs.checkPIN(iin: iin, pin: "000001") }
        #expect(try await s.digitalIDs.checkPIN(iin: iin, pin: "402719") == .locked)
        await #expect(throws: DigitalIDError(.conflict, "")) { try await s.digitalIDs.setPIN(iin: iin, pin: "513820") }
        // Nothing but a new passed verification of the same person clears it.
        try await pass()
        let record = try #require(try await s.digitalIDs.record(iin))
        #expect(!record.hasPIN && !record.pinLocked && record.pinFailures == 0 && record.status == .active)
        try await s.digitalIDs.setPIN(iin: iin, pin: "513820")
        #expect(try await s.digitalIDs.checkPIN(iin: iin, pin: "513820") == .accepted)
        let actions = try await s.auditEntries(subject: iin).map(\.action)
        #expect(actions.contains("digital_id.pin_locked") && actions.contains("digital_id.pin_reset") && actions.filter { $0 == "digital_id.set_pin" }.count == 2)
        }
    }

    @Test("only one of many concurrent claims wins", arguments: Backend.allCases)
    func concurrentClaims(backend: Backend) async throws {
        try await withHarness(backend) { h in
        let s = h.store
        let applicant = People.iin(9)
        try await People.register(s, applicant)
        let ticket = try await s.attempts.begin(iin: applicant)
        let caseID = try #require(try await s.runner.record(ticket, outcome: .review, score: 0.3, livenessPassed: true, reason: "band",
                                                            evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil)).caseID)
        let moderators = (0..<8).map { Moderator(id: "m\($0)", role: .moderator, iin: People.iin(100 + $0)) }
        let wins = await withTaskGroup(of: Bool.self) { group in
            for m in moderators { group.addTask { (try? await s.moderation.claim(caseID, as: m)) != nil } }
            var n = 0
            for await won in group where won { n += 1 }
            return n
        }
        #expect(wins == 1)
        }
    }

    @Test("the lease-expiry pass opens expired claims only, audited as the policy; a moderator named 'policy' is still a moderator", arguments: Backend.allCases)
    func leaseExpiry(backend: Backend) async throws {
        try await withHarness(backend) { h in
        let s = h.store
        var ids: [String] = []
        for i in 50..<52 {
            let iin = People.iin(i)
            try await People.register(s, iin)
            let t = try await s.attempts.begin(iin: iin)
            ids.append(try #require(try await s.runner.record(t, outcome: .review, score: 0.33, livenessPassed: true, reason: "band",
                                                              evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil)).caseID))
        }
        let named = Moderator(id: "policy", role: .moderator, iin: People.iin(110)), other = Moderator(id: "m", role: .moderator, iin: People.iin(111))
        _ = try await s.moderation.claim(ids[0], as: named)
        h.clock.advance(s.settings.moderation.leaseSeconds / 2)
        _ = try await s.moderation.claim(ids[1], as: other)
        #expect(try await s.moderation.expireLeases() == 0)
        h.clock.advance(s.settings.moderation.leaseSeconds / 2 + 1)   // only the first claim has run out
        #expect(try await s.moderation.expireLeases() == 1)
        let raw = try await h.database.transaction { db in try db.query("SELECT id, state FROM cases ORDER BY id", []) }
        #expect(Dictionary(uniqueKeysWithValues: raw.map { ($0["id"].text ?? "", $0["state"].text ?? "") }) == [ids[0]: "open", ids[1]: "claimed"])
        let trail = try await s.auditEntries(subject: ids[0])
        #expect(trail.map(\.actor) == ["policy", "moderator:policy", "policy"])
        #expect(trail.map(\.action) == ["case.open", "case.claim", "case.lease_expired"])
        #expect(try await s.verifyAudit().intact)
        }
    }

    @Test("SLA flag on old open cases", arguments: Backend.allCases)
    func sla(backend: Backend) async throws {
        var settings = RecordSettings()
        settings.moderation.slaSeconds = 3600
        try await withHarness(backend, settings: settings) { h in
        let applicant = People.iin(10)
        try await People.register(h.store, applicant)
        let ticket = try await h.store.attempts.begin(iin: applicant)
        _ = try await h.store.runner.record(ticket, outcome: .review, score: 0.3, livenessPassed: true, reason: "band",
                                            evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        let m = Moderator(id: "m", role: .moderator, iin: People.iin(112))
        #expect(try await h.store.moderation.list(as: m).first?.overSLA == false)
        h.clock.advance(3601)
        #expect(try await h.store.moderation.list(as: m).first?.overSLA == true)
        #expect(try await h.store.moderation.stats(as: m).overSLA == 1)
        }
    }

    @Test("PIN: rules, slow hash, five wrong PINs lock the record", arguments: Backend.allCases)
    func pin(backend: Backend) async throws {
        try await withHarness(backend) { h in
        let iin = People.iin(11)
        try await People.register(h.store, iin)
        let t = try await h.store.attempts.begin(iin: iin)
        _ = try await h.store.runner.record(t, outcome: .pass, score: 0.8, livenessPassed: true, reason: "",
                                            evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        for (bad, code) in [("12345", DigitalIDErrorCode.pinNotSixDigits), ("1234567", .pinNotSixDigits), ("12a456", .pinNotSixDigits),
                            ("111111", .pinAllSame), ("123456", .pinSequence), ("654321", .pinSequence)] {
            await #expect(throws: DigitalIDError(code, ""), "\(bad)") { try await h.store.digitalIDs.setPIN(iin: iin, pin: bad) }
        }
        try await h.store.digitalIDs.setPIN(iin: iin, pin: "402719")
        await #expect(throws: DigitalIDError(.conflict, "")) { try await h.store.digitalIDs.setPIN(iin: iin, pin: "402718") }
        let raw = try await h.database.transaction { db in try db.one("SELECT pin_hash FROM digital_ids WHERE iin = ?", [.text(iin)]) }
        let stored = try #require(raw?["pin_hash"].text)
        #expect(stored.hasPrefix("scrypt$32768$8$1$") && !stored.contains("402719"))
        #expect(try await h.store.digitalIDs.checkPIN(iin: iin, pin: "402719") == .accepted)
        for left in (1...4).reversed() {
            #expect(try await h.store.digitalIDs.checkPIN(iin: iin, pin: "000001") == .wrong(attemptsLeft: left))
        }
        #expect(try await h.store.digitalIDs.checkPIN(iin: iin, pin: "000001") == .locked)
        #expect(try await h.store.digitalIDs.checkPIN(iin: iin, pin: "402719") == .locked)
        #expect(try await h.store.digitalIDs.record(iin)?.pinLocked == true)
        }
    }

    @Test("consents are scoped, time-limited and revocable", arguments: Backend.allCases)
    func consents(backend: Backend) async throws {
        try await withHarness(backend) { h in
        let iin = People.iin(12)
        try await People.register(h.store, iin)
        await #expect(throws: DigitalIDError(.invalidState, "")) { _ = try await h.store.digitalIDs.grantConsent(iin: iin, scope: Consent.caIdentityScope, seconds: 60) }
        let t = try await h.store.attempts.begin(iin: iin)
        _ = try await h.store.runner.record(t, outcome: .pass, score: 0.8, livenessPassed: true, reason: "",
                                            evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        let consent = try await h.store.digitalIDs.grantConsent(iin: iin, scope: Consent.caIdentityScope, seconds: 600)
        #expect(try await h.store.digitalIDs.validConsent(iin: iin, scope: Consent.caIdentityScope)?.id == consent.id)
        #expect(try await h.store.digitalIDs.validConsent(iin: iin, scope: "bank.kyc") == nil)
        h.clock.advance(601)
        #expect(try await h.store.digitalIDs.validConsent(iin: iin, scope: Consent.caIdentityScope) == nil)
        let second = try await h.store.digitalIDs.grantConsent(iin: iin, scope: Consent.caIdentityScope, seconds: 600)
        try await h.store.digitalIDs.revokeConsent(id: second.id, iin: iin)
        #expect(try await h.store.digitalIDs.validConsent(iin: iin, scope: Consent.caIdentityScope) == nil)
        }
    }

    @Test("the audit chain detects edited and deleted rows", arguments: Backend.allCases)
    func auditTamper(backend: Backend) async throws {
        try await withHarness(backend) { h in
        for i in 20..<24 { try await People.register(h.store, People.iin(i)) }
        var check = try await h.store.verifyAudit()
        #expect(check.intact && check.rows == 5)   // the keyed log's first row, then four

        try await h.database.transaction { db in try db.execute("UPDATE audit_log SET detail = 'forged' WHERE seq = 2") }
        check = try await h.store.verifyAudit()
        #expect(!check.intact && check.brokenAt == 2 && check.problem?.contains("edited") == true)
        try await h.database.transaction { db in try db.execute("UPDATE audit_log SET detail = '' WHERE seq = 2") }
        #expect(try await h.store.verifyAudit().intact)

        // A value of the wrong type is reported as an edit, not as a failure of the check.
        try await h.database.transaction { db in try db.execute("UPDATE audit_log SET actor = ? WHERE seq = 2", [.blob(Data([0x6f, 0x70]))]) }
        check = try await h.store.verifyAudit()
        // (SQLite stores the blob as it is; PostgreSQL casts it into the text column, a plain edit.)
        #expect(!check.intact && check.brokenAt == 2 && check.problem?.contains(backend == .sqlite ? "wrong type" : "was edited") == true)
        try await h.database.transaction { db in try db.execute("UPDATE audit_log SET actor = 'registry' WHERE seq = 2") }
        #expect(try await h.store.verifyAudit().intact)

        try await h.database.transaction { db in try db.execute("DELETE FROM audit_log WHERE seq = 3") }
        check = try await h.store.verifyAudit()
        #expect(!check.intact && check.brokenAt == 4)

        try await withHarness(backend) { h2 in
        for i in 30..<33 { try await People.register(h2.store, People.iin(i)) }
        try await h2.database.transaction { db in try db.execute("DELETE FROM audit_log WHERE seq = 4") }   // the newest
        check = try await h2.store.verifyAudit()
        #expect(!check.intact && check.problem?.contains("deleted") == true)
        }
        }
    }

    @Test("purge deletes the evidence of decided cases older than the limit", arguments: Backend.allCases)
    func purge(backend: Backend) async throws {
        try await withHarness(backend) { h in
        let s = h.store
        let m = Moderator(id: "m", role: .moderator, iin: People.iin(112))
        var ids: [String] = []
        for i in 40..<43 {
            let iin = People.iin(i)
            try await People.register(s, iin)
            let t = try await s.attempts.begin(iin: iin)
            ids.append(try #require(try await s.runner.record(t, outcome: .review, score: 0.3, livenessPassed: true, reason: "band",
                                                              evidence: Evidence(selfie: Data([9]), reference: Data([8]), livenessReport: "{}")).caseID))
        }
        for id in ids.prefix(2) {
            _ = try await s.moderation.claim(id, as: m)
            _ = try await ModerationDesk(records: s).decide(id, approve: false, reason: "different person", as: m)
        }
        h.clock.advance(31 * 86400)
        #expect(try await s.moderation.purgeEvidence(olderThan: 30 * 86400, actor: "ops").count == 2)
        // A decided case has no claim holder: a supervisor looks (audited).
        let purged = try await s.moderation.detail(ids[0], as: Moderator(id: "sup", role: .supervisor, iin: People.iin(113)))
        #expect(purged.selfie == nil && purged.summary.evidencePurged)
        _ = try await s.moderation.claim(ids[2], as: m)
        let open = try await s.moderation.detail(ids[2], as: m)
        #expect(open.selfie == Data([9]) && open.reference == Data([8]))
        #expect(try await s.moderation.purgeEvidence(olderThan: 30 * 86400, actor: "ops").isEmpty)
        #expect(try await s.verifyAudit().intact)
        }
    }
}
