import Testing
import TulgaAttempts
import TulgaRegistry
import TulgaStorage
import TulgaLegalEntities
import TulgaFlow
import TulgaKeyStore
import TulgaPKI
import TulgaCore
import TulgaIssuance

/// Every application status × channel × template kind against every event, at a time inside
/// and past the 30 days: the allowed moves give their status, every other one is refused.
@Suite("Application lifecycle and SMS-code rules, pure")
struct ApplicationLifecycleTests {
    static let lifecycle = ApplicationLifecycle(inPersonExpirySeconds: 30 * 86400)
    static let created = 1_000_000.0
    static let inTime = created + 29 * 86400, late = created + 31 * 86400

    /// The allowed moves; everything else must throw.
    static func expected(_ f: ApplicationFacts, _ event: ApplicationEvent, now: Double) -> ApplicationStatus? {
        switch (f.status, event) {
        case (.identified, .approveByHR) where f.template.needsHeadApproval && !f.hrApproved: .identified
        case (.identified, .approveByHead) where f.template.needsHeadApproval && f.hrApproved: .signing
        case (.new, .reject), (.identified, .reject), (.signing, .reject): .rejected
        case (.new, .confirmInPerson) where f.channel == .inPerson && now <= created + 30 * 86400: f.template.needsHeadApproval ? .identified : .signing
        case (.signing, .issue) where !f.template.needsHeadApproval || (f.hrApproved && f.headApproved): .issued
        case (.issued, .install), (.installed, .install): .installed
        case (.new, .expire) where f.channel == .inPerson && now > created + 30 * 86400: .expired
        case (.issued, .revoke), (.installed, .revoke): .revoked
        default: nil
        }
    }

    @Test("every transition", arguments: ApplicationStatus.allCases)
    func transitions(status: ApplicationStatus) {
        for channel in [Channel.remote, .inPerson] {
            for template in [Template.individual, .firstHead, .signer] {
                for (now, hr, head) in [(Self.inTime, false, false), (Self.late, false, false), (Self.inTime, true, false), (Self.inTime, true, true)] {
                    let facts = ApplicationFacts(status: status, channel: channel, template: template, createdAt: Self.created, hrApproved: hr,
                                                 headApproved: head)
                    for event in ApplicationEvent.allCases {
                        let got = try? Self.lifecycle.transition(from: facts, event: event, now: now)
                        #expect(got == Self.expected(facts, event, now: now), "\(status) \(channel) \(template) +\(event) at \(now == Self.late ? "day 31" : "day 29")")
                    }
                }
            }
        }
    }

    @Test("refusals name their rule")
    func refusals() {
        let employee = ApplicationFacts(status: .identified, channel: .remote, template: .signer, createdAt: Self.created)
        #expect(throws: IssuanceError(.headApproval, "")) { try Self.lifecycle.transition(from: employee, event: .issue, now: Self.inTime) }
        let head = ApplicationFacts(status: .identified, channel: .remote, template: .firstHead, createdAt: Self.created)
        #expect(throws: IssuanceError(.headApproval, "")) { try Self.lifecycle.transition(from: head, event: .approveByHead, now: Self.inTime) }
        let desk = ApplicationFacts(status: .new, channel: .inPerson, template: .individual, createdAt: Self.created)
        do { _ = try Self.lifecycle.transition(from: desk, event: .confirmInPerson, now: Self.late); Issue.record("an overdue application was confirmed") } catch {
            #expect(error.code == .state && error.reason.contains(ApplicationStatus.expired.title))
        }
        #expect(throws: IssuanceError(.hrApproval, "")) { try Self.lifecycle.transition(from: employee, event: .approveByHead, now: Self.inTime) }
        var approved = employee
        approved.hrApproved = true
        #expect(throws: IssuanceError(.hrApproval, "")) { try Self.lifecycle.transition(from: approved, event: .approveByHR, now: Self.inTime) }
        #expect(throws: IssuanceError(.hrApproval, "")) { try Self.lifecycle.transition(from: head, event: .approveByHR, now: Self.inTime) }
        // An employee's application reaching «на подписи» without both approvals (a desk, a renewal) is not issued.
        let unapproved = ApplicationFacts(status: .signing, channel: .inPerson, template: .financialSigner, createdAt: Self.created)
        #expect(throws: IssuanceError(.headApproval, "")) { try Self.lifecycle.transition(from: unapproved, event: .issue, now: Self.inTime) }
    }

    @Test("where a new application starts")
    func initial() {
        #expect(ApplicationLifecycle.initialStatus(channel: .inPerson, template: .individual) == .new)
        #expect(ApplicationLifecycle.initialStatus(channel: .remote, template: .individual) == .signing)
        #expect(ApplicationLifecycle.initialStatus(channel: .remote, template: .firstHead) == .signing)
        #expect(ApplicationLifecycle.initialStatus(channel: .remote, template: .employee) == .identified)
    }

    @Test("SMS codes: 60 s between codes, 5 an hour, 120 s validity, single use, 3 wrong entries block")
    func smsCodes() throws {
        let p = SMSCodePolicy(), now = 10_000.0
        try p.checkRequest(now: now, sentInLastHour: [])
        #expect(throws: IssuanceError(.code, "")) { try p.checkRequest(now: now, sentInLastHour: [now - 59]) }
        try p.checkRequest(now: now, sentInLastHour: [now - 60])
        #expect(throws: IssuanceError(.code, "")) { try p.checkRequest(now: now, sentInLastHour: [now - 600, now - 1200, now - 1800, now - 2400, now - 3000]) }
        try p.checkConfirmation(now: now, expiresAt: now + 1, usedAt: nil, wrongInLastHour: 2)
        #expect(throws: IssuanceError(.code, "")) { try p.checkConfirmation(now: now, expiresAt: now, usedAt: nil, wrongInLastHour: 0) }
        #expect(throws: IssuanceError(.code, "")) { try p.checkConfirmation(now: now, expiresAt: now + 60, usedAt: now - 5, wrongInLastHour: 0) }
        #expect(throws: IssuanceError(.code, "")) { try p.checkConfirmation(now: now, expiresAt: now + 60, usedAt: nil, wrongInLastHour: 3) }
        #expect(p.confirmationIsFresh(verifiedAt: now - 900, now: now) && !p.confirmationIsFresh(verifiedAt: now - 901, now: now))
        #expect(!p.confirmationIsFresh(verifiedAt: nil, now: now))
    }
}
