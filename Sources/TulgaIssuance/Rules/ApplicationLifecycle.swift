public import TulgaCore
/// What the lifecycle needs to know of an application.
public struct ApplicationFacts: Sendable, Hashable {
    /// Where the application stands.
    public var status: ApplicationStatus
    /// Remote or in person.
    public var channel: Channel
    /// The template it was filed under.
    public var template: Template
    /// When it was filed, in seconds since 1970.
    public var createdAt: Double
    /// Whether HR has approved it (employees only).
    public var hrApproved: Bool
    /// Whether the first head has approved it (employees only).
    public var headApproved: Bool
    /// Creates the facts.
    ///
    /// - Parameters:
    ///   - status: where the application stands.
    ///   - channel: remote or in person.
    ///   - template: the template it was filed under.
    ///   - createdAt: when it was filed.
    ///   - hrApproved: whether HR has approved it.
    ///   - headApproved: whether the first head has approved it.
    public init(status: ApplicationStatus, channel: Channel, template: Template, createdAt: Double, hrApproved: Bool = false,
                headApproved: Bool = false) {
        (self.status, self.channel, self.template, self.createdAt) = (status, channel, template, createdAt)
        (self.hrApproved, self.headApproved) = (hrApproved, headApproved)
    }
}

/// What can happen to an application after it is filed.
public enum ApplicationEvent: String, Sendable, Hashable, CaseIterable {
    /// A registered HR employee of the organisation approves an employee's application.
    case approveByHR = "approve_by_hr"
    /// The registered first head approves an employee's application, after HR.
    case approveByHead = "approve_by_head"
    /// An operator confirms an in-person application at the desk.
    case confirmInPerson = "confirm_in_person"
    /// The CA signs both requests.
    case issue
    /// The applicant's key store takes the certificates.
    case install
    /// An admin refuses an application not yet issued.
    case reject
    /// An in-person application left unconfirmed for 30 days.
    case expire
    /// Both certificates were revoked.
    case revoke
}

/// The application lifecycle, pure: `now` is passed in, so an in-person application past its
/// 30 days refuses confirmation even before the expiry service has marked it.
///
/// ```swift
/// let lifecycle = ApplicationLifecycle()
/// let next = try lifecycle.transition(from: facts, event: .confirmInPerson, now: clock.now())
/// ```
///
/// new (in person) → signing (confirmed; an employee's: identified) or expired (30 days);
/// identified (employee, either channel) → identified (HR's approval) → signing (first head's approval);
/// signing → issued → installed; issued, installed → revoked; new, identified, signing → rejected.
/// An employee's application is issued only with both approvals recorded, whatever the channel.
public struct ApplicationLifecycle: Sendable, Hashable {
    /// In-person applications not confirmed within this many seconds expire.
    public var inPersonExpirySeconds: Double
    /// Creates a lifecycle.
    ///
    /// - Parameter inPersonExpirySeconds: how long an in-person application waits for confirmation (30 days by default).
    public init(inPersonExpirySeconds: Double = 30 * 86400) { self.inPersonExpirySeconds = inPersonExpirySeconds }

    /// The status a new application starts in.
    ///
    /// - Parameters:
    ///   - channel: remote or in person.
    ///   - template: the template filed under.
    /// - Returns: `new` in person; remote: `identified` when the first head must approve, else `signing`.
    public static func initialStatus(channel: Channel, template: Template) -> ApplicationStatus {
        switch channel {
        case .inPerson: .new
        case .remote: template.needsHeadApproval ? .identified : .signing
        }
    }

    /// Whether an unconfirmed in-person application is past its time at `now`.
    ///
    /// - Parameters:
    ///   - facts: the application.
    ///   - now: seconds since 1970.
    /// - Returns: `true` for an in-person application still `new` after ``inPersonExpirySeconds``.
    public func isOverdue(_ facts: ApplicationFacts, now: Double) -> Bool {
        facts.channel == .inPerson && facts.status == .new && now - facts.createdAt > inPersonExpirySeconds
    }

    /// Moves an application's status.
    ///
    /// - Parameters:
    ///   - facts: the application as stored.
    ///   - event: what is asked.
    ///   - now: seconds since 1970; an overdue in-person application refuses confirmation.
    /// - Returns: The new status.
    /// - Throws: ``IssuanceError`` (`.state`, `.headApproval`) naming the rule that refuses the move.
    public func transition(from facts: ApplicationFacts, event: ApplicationEvent, now: Double) throws(IssuanceError) -> ApplicationStatus {
        let refused = IssuanceError(.state, "the application is «\(facts.status.title)»")
        switch event {
        case .approveByHR:
            guard facts.status == .identified else { throw refused }
            guard facts.template.needsHeadApproval else { throw IssuanceError(.hrApproval, "this application does not need HR's approval") }
            guard !facts.hrApproved else { throw IssuanceError(.hrApproval, "HR has approved it already") }
            return .identified
        case .approveByHead:
            guard facts.status == .identified else { throw refused }
            guard facts.template.needsHeadApproval else { throw IssuanceError(.headApproval, "this application does not need the first head's approval") }
            guard facts.hrApproved else { throw IssuanceError(.hrApproval, "HR approves an employee's application before the first head") }
            return .signing
        case .reject:
            guard [.new, .identified, .signing].contains(facts.status) else { throw refused }
            return .rejected
        case .confirmInPerson:
            guard facts.channel == .inPerson else { throw IssuanceError(.state, "only in-person applications are confirmed at a desk") }
            guard facts.status == .new else { throw refused }
            guard !isOverdue(facts, now: now) else { throw IssuanceError(.state, "the application is «\(ApplicationStatus.expired.title)»") }
            // The desk confirms who the person is, not that their organisation lets them sign for it.
            return facts.template.needsHeadApproval ? .identified : .signing
        case .issue:
            if facts.template.needsHeadApproval, !(facts.hrApproved && facts.headApproved) {
                throw IssuanceError(.headApproval, facts.hrApproved ? "the first head has not approved the application yet"
                                                                    : "HR and then the first head approve an employee's application before it is issued")
            }
            guard facts.status == .signing else { throw refused }
            return .issued
        case .install:
            // Taking the certificates again (a second computer, a lost download) is allowed.
            guard facts.status == .issued || facts.status == .installed else { throw refused }
            return .installed
        case .expire:
            guard isOverdue(facts, now: now) else { throw refused }
            return .expired
        case .revoke:
            guard facts.status == .issued || facts.status == .installed else { throw refused }
            return .revoked
        }
    }
}
