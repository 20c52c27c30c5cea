import Testing
import TulgaCore
import TulgaPolicy

/// Every attempt state against every event: the allowed moves give their state, all others are refused.
@Suite("Attempt and moderation-case lifecycles, pure")
struct LifecycleTests {
    static let attemptEvents: [AttemptEvent] = [.finish(.pass), .finish(.review), .finish(.fail), .abandon]
    static let attemptAllowed: [AttemptState: [AttemptEvent: AttemptState]] = [
        .running: [.finish(.pass): .passed, .finish(.review): .review, .finish(.fail): .failed, .abandon: .abandoned],
    ]

    @Test("attempt transitions", arguments: AttemptState.allCases)
    func attempt(from state: AttemptState) {
        for event in Self.attemptEvents {
            if let expected = Self.attemptAllowed[state]?[event] {
                #expect((try? AttemptLifecycle.transition(from: state, event: event)) == expected, "\(state) + \(event)")
            } else {
                #expect(throws: AttemptError(.invalidState, ""), "\(state) + \(event)") { try AttemptLifecycle.transition(from: state, event: event) }
            }
        }
    }

    @Test("the counter: five in flight or failed leave none; only failures count; in person after five failures")
    func counter() throws {
        let policy = AttemptPolicy()
        var c = AttemptCounter()
        for _ in 0..<5 { c = try c.begin(policy) }
        #expect(c == AttemptCounter(failures: 0, running: 5))
        #expect(throws: AttemptError(.attemptsExhausted, "")) { try c.begin(policy) }
        c = c.ended(.abandoned).ended(.passed).ended(.review)
        #expect(c == AttemptCounter(failures: 0, running: 2))
        #expect(throws: AttemptError(.inPersonLocked, "")) { try c.checkInPerson(policy) }
        c = AttemptCounter(failures: 4, running: 1).ended(.failed)
        #expect(c == AttemptCounter(failures: 5, running: 0))
        try c.checkInPerson(policy)
        do { _ = try c.begin(policy); Issue.record("a sixth attempt began") } catch {
            #expect(error.message?.key == .refusalAttemptsExhausted && error.reason.contains("apply in person"))
        }
    }

    @Test("score bands")
    func bands() {
        let bands = DecisionBands(accept: 0.363, review: 0.31)
        #expect(bands.decide(score: 0.363, livenessPassed: true) == .pass)
        #expect(bands.decide(score: 0.362, livenessPassed: true) == .review)
        #expect(bands.decide(score: 0.31, livenessPassed: true) == .review)
        #expect(bands.decide(score: 0.309, livenessPassed: true) == .fail)
        #expect(bands.decide(score: 0.99, livenessPassed: false) == .fail)
    }

    // MARK: Cases

    /// Named case states for the table, at `now` = 1000 with a 100 s lease.
    enum CaseStart: String, CaseIterable {
        case open, heldByM1, heldByM1Expired, approved, rejected
        var lease: CaseLease {
            switch self {
            case .open: CaseLease(state: .open)
            case .heldByM1: CaseLease(state: .claimed, claimedBy: "m1", leaseUntil: 1050)
            case .heldByM1Expired: CaseLease(state: .claimed, claimedBy: "m1", leaseUntil: 990)
            case .approved: CaseLease(state: .approved, claimedBy: "m1")
            case .rejected: CaseLease(state: .rejected, claimedBy: "m1")
            }
        }
    }

    static let caseEvents: [(String, CaseEvent)] = [
        ("m1 claims", .claim(by: "m1", leaseSeconds: 100)),
        ("m2 claims", .claim(by: "m2", leaseSeconds: 100)),
        ("m1 approves", .decide(approve: true, by: "m1", reason: "same person")),
        ("m1 rejects", .decide(approve: false, by: "m1", reason: "another person")),
        ("m2 approves", .decide(approve: true, by: "m2", reason: "same person")),
        ("m1 approves without a reason", .decide(approve: true, by: "m1", reason: " ")),
        ("reassign to m2", .reassign(to: "m2", leaseSeconds: 100)),
        ("lease expires", .expireLease),
    ]

    enum Outcome: Equatable { case moved(CaseLease), refused(ModerationErrorCode) }

    /// Expected outcome: the new lease, or the refusal's code.
    static func expected(_ start: CaseStart, _ name: String) -> Outcome {
        let m1 = CaseLease(state: .claimed, claimedBy: "m1", leaseUntil: 1100), m2 = CaseLease(state: .claimed, claimedBy: "m2", leaseUntil: 1100)
        switch (start, name) {
        case (.approved, _), (.rejected, _): return .refused(.alreadyDecided)
        case (_, "m1 claims"): return .moved(m1)
        case (.heldByM1, "m2 claims"): return .refused(.alreadyClaimed)
        case (_, "m2 claims"): return .moved(m2)
        case (.heldByM1, "m1 approves"): return .moved(CaseLease(state: .approved, claimedBy: "m1"))
        case (.heldByM1, "m1 rejects"): return .moved(CaseLease(state: .rejected, claimedBy: "m1"))
        case (.heldByM1, "m1 approves without a reason"): return .refused(.reasonRequired)
        case (.heldByM1Expired, "m1 approves"), (.heldByM1Expired, "m1 rejects"), (.heldByM1Expired, "m1 approves without a reason"):
            return .refused(.leaseExpired)
        case (_, "m1 approves"), (_, "m1 rejects"), (_, "m2 approves"), (_, "m1 approves without a reason"): return .refused(.notClaimedByYou)
        case (_, "reassign to m2"): return .moved(m2)
        case (.heldByM1Expired, "lease expires"): return .moved(CaseLease(state: .open))
        default: return .refused(.alreadyDecided)   // a lease that has not run out does not expire
        }
    }

    @Test("case transitions", arguments: CaseStart.allCases)
    func caseTransitions(from start: CaseStart) {
        for (name, event) in Self.caseEvents {
            let got: Outcome
            do { got = .moved(try CaseLease.transition(from: start.lease, event: event, now: 1000)) } catch { got = .refused(error.code) }
            #expect(got == Self.expected(start, name), "\(start) + \(name)")
        }
    }

    @Test("an expired claim reads as open")
    func effective() {
        #expect(CaseStart.heldByM1Expired.lease.effective(now: 1000) == CaseLease(state: .open))
        #expect(CaseStart.heldByM1.lease.effective(now: 1000) == CaseStart.heldByM1.lease)
    }

    @Test("roles")
    func roles() {
        for action in [ModerationAction.list, .show, .claim, .decide, .statsOwn] {
            #expect(isAllowed(.moderator, action) && isAllowed(.supervisor, action))
        }
        #expect(!isAllowed(.moderator, .reassign) && isAllowed(.supervisor, .reassign))
        #expect(!isAllowed(.moderator, .statsAll) && isAllowed(.supervisor, .statsAll))
    }
}
