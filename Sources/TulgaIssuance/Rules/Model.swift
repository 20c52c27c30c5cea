import Foundation
public import TulgaCore
public import TulgaLegalEntities
public import TulgaPKI

/// Application templates, as the national CA's portal names them.
public enum Template: String, Sendable, Codable, CaseIterable {
    /// An individual, identified remotely.
    case individual                       // физическое лицо, удалённая идентификация
    /// The first head of a legal entity.
    case firstHead = "first_head"         // первый руководитель
    /// An employee with signing authority.
    case signer                           // сотрудник с правом подписи
    /// An employee who may sign financial documents.
    case financialSigner = "financial_signer"  // сотрудник с правом подписи финансовых документов
    /// An HR employee.
    case hr                               // сотрудник отдела кадров
    /// An employee of the organisation.
    case employee                         // сотрудник организации
    /// A participant in the Treasury-Client system.
    case treasuryClient = "treasury_client"    // участник «Казначейство-Клиент»

    /// Every template but `individual` is for a legal entity (it needs a BIN in the register).
    public var isLegalEntity: Bool { self != .individual }
    /// Employees other than the first head need HR's, then the first head's approval.
    public var needsHeadApproval: Bool { isLegalEntity && self != .firstHead }
    /// The role the register must list for an employee template; `nil` for an individual and the first head.
    public var employeeRole: EmployeeRole? {
        switch self {
        case .individual, .firstHead: nil
        case .signer: .signer
        case .financialSigner: .financialSigner
        case .hr: .hr
        case .employee: .employee
        case .treasuryClient: .treasuryClient
        }
    }

    /// The key-user policy OID (1.2.398.3.3.4.1.1 individual, 1.2.398.3.3.4.1.2.x legal-entity roles).
    public var keyUserOID: String {
        switch self {
        case .individual: "1.2.398.3.3.4.1.1"
        case .firstHead: "1.2.398.3.3.4.1.2.1"
        case .signer: "1.2.398.3.3.4.1.2.2"
        case .financialSigner: "1.2.398.3.3.4.1.2.3"
        case .hr: "1.2.398.3.3.4.1.2.4"
        case .employee: "1.2.398.3.3.4.1.2.5"
        case .treasuryClient: "1.2.398.3.3.4.1.2.6"
        }
    }

    /// The catalogue entry for the template's name.
    public var message: MessageKey {
        switch self {
        case .individual: .templateIndividual
        case .firstHead: .templateFirstHead
        case .signer: .templateSigner
        case .financialSigner: .templateFinancialSigner
        case .hr: .templateHR
        case .employee: .templateEmployee
        case .treasuryClient: .templateTreasuryClient
        }
    }

    /// The portal's name for the template, in Russian.
    public var title: String { Message(message).text(.ru) }
}

/// Remote identification through Digital ID.
public let remoteIdentificationOID = "1.2.398.3.3.4.3.2.1"

/// Application statuses; `title` is the exact wording the portal shows.
public enum ApplicationStatus: String, Sendable, Codable, CaseIterable {
    /// Taken at a service centre, waiting for an operator's confirmation.
    case new
    /// Remote employee application, waiting for HR's and then the first head's approval.
    case identified
    /// Waiting for the CA to sign the requests.
    case signing
    /// Certificates issued; the containers are not installed yet.
    case issued
    /// The applicant's key store took the certificates.
    case installed
    /// Refused.
    case rejected
    /// An in-person application left unconfirmed past its 30 days.
    case expired
    /// Both certificates revoked.
    case revoked

    /// The catalogue entry for the portal's wording.
    public var message: MessageKey {
        switch self {
        case .new: .statusNew
        case .identified: .statusIdentified
        case .signing: .statusSigning
        case .issued: .statusIssued
        case .installed: .statusInstalled
        case .rejected: .statusRejected
        case .expired: .statusExpired
        case .revoked: .statusRevoked
        }
    }

    /// The portal's exact words, in Russian.
    public var title: String { Message(message).text(.ru) }

    /// An active application blocks a second one.
    public var isActive: Bool { [.new, .identified, .signing, .issued].contains(self) }
}

/// How the application was filed: remotely (Digital ID) or in person at a service centre.
public enum Channel: String, Sendable, Codable { case remote, inPerson = "in_person" }

/// Who asks: a calling system by its API key, or staff (the CLI on the service's own machine, an
/// admin key). A calling system sees only the applications it created; another's read as absent.
public enum Caller: Sendable, Hashable {
    /// A calling system, by its API key's id.
    case system(String)
    /// Staff: an operator or admin, by name; sees every application.
    case staff(String)
    /// One browser's session of the applicant's portal (`/app/`), by the session's id: its own
    /// owner, like a calling system, so no browser sees what another filed or started.
    case portal(String)

    /// What the `owner_key` column records for an application this caller creates.
    public var ownerTag: String {
        switch self {
        case .system(let id): "key:" + id
        case .staff(let name): "staff:" + name
        case .portal(let id): "portal:" + id
        }
    }

    /// Whether the caller may see an application whose `owner_key` is `owner`.
    ///
    /// - Parameter owner: the stored owner tag, `nil` for applications filed before owners were recorded.
    public func owns(_ owner: String?) -> Bool {
        switch self {
        case .staff: true
        case .system, .portal: owner == ownerTag
        }
    }

    /// The audit actor.
    public var actor: String { ownerTag }

    /// Whose codes of `purpose` count together under ``SMSCodePolicy``'s sending limits, as an SQL condition on
    /// `owner` and its value: a calling system's (or staff's) own; for the phone's code every portal session's
    /// together, so a fresh browser session gets no fresh limits for an IIN. A sign-in code goes out only after a
    /// valid AUTH-key signature, so a fresh browser session gains nothing there: it counts per session, and a
    /// sign-in right after the flow's own code is not held back.
    func smsLimitScope(for purpose: IssuanceService.CodePurpose) -> (condition: String, value: String) {
        switch (self, purpose) {
        case (.portal, .phone): ("substr(owner, 1, 7) = ?", "portal:")
        case (.portal, .signin), (.system, _), (.staff, _): ("owner = ?", ownerTag)
        }
    }

    /// Whose wrong entries count together, whatever the code's purpose: the phone code's sending scope (every
    /// portal session's together), so that a fresh browser session gets no fresh guesses.
    var smsWrongEntryScope: (condition: String, value: String) { smsLimitScope(for: .phone) }
}

/// The portal's refusal for renewing remotely issued keys.
///
/// The Russian text of ``MessageKey/refusalRenewal``.
public var renewalRefusal: String { Message(.refusalRenewal).text(.ru) }

/// Codes of refusals in issuance.
public enum IssuanceErrorCode: String, ErrorCode {
    /// An IIN, BIN, phone or legal-entity detail is invalid (422).
    case invalidIdentity = "invalid_identity"
    /// The phone is not in the mobile-citizens registry (403).
    case phoneNotRegistered = "phone_not_registered"
    /// The SMS-code step refuses: no confirmed phone, too soon, too many, wrong, used or expired (403).
    case code
    /// No active Digital ID (403).
    case digitalID = "digital_id"
    /// No valid consent for the CA service (403).
    case consent
    /// The Digital ID PIN is wrong, locked or not set (403).
    case pin
    /// Another application of the person is still active (409).
    case activeApplication = "active_application"
    /// No such application or certificate (404).
    case notFound = "not_found"
    /// The application's status refuses the step (409).
    case state
    /// Remote keys are not renewed; reissue instead (403).
    case renewal
    /// The first head's approval is missing, not needed, or not theirs to give (409).
    case headApproval = "head_approval"
    /// HR's approval is missing, or not theirs to give (409).
    case hrApproval = "hr_approval"
    /// The legal-entity register does not back the application: unknown or inactive organisation,
    /// not its first head, a role it does not list (403).
    case register = "not_in_register"
    /// A Treasury-Client participant's keys must be on a token (422).
    case tokenRequired = "token_required"
    /// An in-person application before five recorded failed attempts (403).
    case inPersonLocked = "in_person_locked"
    /// No CA, or it cannot be used (503).
    case ca
    /// A renewal not answered with the AUTH key of the certificates it renews, or its challenge unknown,
    /// used, expired or another caller's (403).
    case holderProof = "holder_proof"
    /// A key certified before (or already in another application) is offered again: make new keys (409).
    case keyReused = "key_reused"
    /// The user agreement was not accepted, or an older version was (422).
    case agreement = "agreement_required"
    /// The Digital ID's identity-document step is not done while the policy requires it (403).
    case documentStep = "document_step_incomplete"

    /// The HTTP problem kind, as listed on the cases.
    public var kind: ProblemKind {
        switch self {
        case .notFound: .notFound
        case .invalidIdentity, .tokenRequired, .agreement: .invalid
        case .phoneNotRegistered, .digitalID, .documentStep, .consent, .renewal, .pin, .code, .register, .inPersonLocked, .holderProof: .forbidden
        case .activeApplication, .state, .headApproval, .hrApproval, .keyReused: .conflict
        case .ca: .unavailable
        }
    }
}

/// A refusal in issuance, with a stable code and the rule in words.
public typealias IssuanceError = CodedError<IssuanceErrorCode>

/// Who the certificates are for.
public struct Holder: Sendable, Hashable {
    /// The holder's IIN.
    public var iin: String
    /// The family name, as it goes in the certificate.
    public var surname: String
    /// The given name, as it goes in the certificate.
    public var givenName: String
    /// The legal entity's name, for legal-entity templates.
    public var organization: String?
    /// The legal entity's BIN, for legal-entity templates.
    public var bin: String?
    /// The patronymic, when the holder has one.
    public var patronymic: String?

    /// Creates a holder.
    ///
    /// - Parameters:
    ///   - iin: the holder's IIN.
    ///   - surname: the family name.
    ///   - givenName: the given name.
    ///   - organization: the legal entity's name, if any.
    ///   - bin: the legal entity's BIN, if any; O and OU are added only when both are set.
    ///   - patronymic: the patronymic, if any (the subject's G, as the national CA writes it).
    public init(iin: String, surname: String, givenName: String, organization: String? = nil, bin: String? = nil, patronymic: String? = nil) {
        self.patronymic = patronymic
        self.iin = iin
        self.surname = surname
        self.givenName = givenName
        self.organization = organization
        self.bin = bin
    }

    /// Longest CN, O, SURNAME or GIVENNAME a certificate carries (RFC 5280's ub-common-name and
    /// ub-organization-name; OpenSSL refuses longer CN and O values when signing).
    public static let maximumNameLength = 64

    /// Refuses, before anything is filed or any PIN is tried, a subject the CA could not sign.
    ///
    /// - Throws: ``IssuanceError`` `.invalidIdentity` for an empty or over-long name or a control character.
    public func checkSubject() throws(IssuanceError) {
        for (field, value) in [("surname", surname), ("given name", givenName), ("CN", "\(surname) \(givenName)"), ("organization", organization ?? "-"),
                               ("patronymic", patronymic ?? "-")] {
            // As OpenSSL counts: code points of the NFC form the certificate carries.
            let scalars = Self.normalized(value).unicodeScalars
            guard !value.trimmingCharacters(in: .whitespaces).isEmpty, scalars.count <= Self.maximumNameLength else {
                throw IssuanceError(.invalidIdentity, "the \(field) must have 1 to \(Self.maximumNameLength) characters for a certificate")
            }
            guard !scalars.contains(where: { [.control, .format, .surrogate, .privateUse, .unassigned].contains($0.properties.generalCategory) }) else {
                throw IssuanceError(.invalidIdentity, "the \(field) has a control or format character")
            }
        }
    }

    /// The form names take in certificates: Unicode NFC.
    static func normalized(_ text: String) -> String { text.precomposedStringWithCanonicalMapping }

    /// CN="SURNAME GIVENNAME", SURNAME, GIVENNAME, SERIALNUMBER=IIN…, C=KZ; a legal entity adds O and OU=BIN….
    /// With a patronymic, GIVENNAME (G) carries it, as in the national CA's certificates (CN keeps the given name).
    ///
    /// Pairs of attribute name (or OID) and value, in order, as the CA writes them; the request's own subject is ignored.
    public var subject: [(String, String)] {
        let surname = Self.normalized(surname), givenName = Self.normalized(givenName)
        let g = patronymic.map(Self.normalized) ?? givenName
        var s = [("CN", "\(surname) \(givenName)"), ("2.5.4.4", surname), ("2.5.4.42", g), ("2.5.4.5", "IIN" + iin), ("C", "KZ")]
        if let organization, let bin {
            s += [("O", Self.normalized(organization)), ("OU", "BIN" + bin)]
        }
        return s
    }
}

/// Where revocation is published: the CRL and the OCSP responder, under one base URL.
public struct RevocationURLs: Sendable, Hashable {
    /// The CRL distribution point.
    public var crl: String
    /// The OCSP responder (authority information access).
    public var ocsp: String
    /// The issuing CA's certificate (authority information access, caIssuers).
    public var issuer: String
    /// The URLs under `base`: `base/issuing.crl`, `base/ocsp`, `base/issuing.crt`.
    ///
    /// - Parameter base: the public base URL, without a trailing slash.
    public init(base: String) {
        let base = base.hasSuffix("/") ? String(base.dropLast()) : base
        (crl, ocsp, issuer) = (base + "/issuing.crl", base + "/ocsp", base + "/issuing.crt")
    }
}

extension KeyPurpose {
    /// X.509v3 extensions in OpenSSL's config syntax.
    ///
    /// - Parameters:
    ///   - template: gives the key-user policy OID.
    ///   - remote: adds the remote-identification policy OID.
    ///   - urls: the CRL distribution point and the OCSP responder.
    /// - Returns: Pairs of extension name and value.
    public func extensions(template: Template, remote: Bool, urls: RevocationURLs) -> [(String, String)] {
        var policies = [template.keyUserOID]
        if remote { policies.append(remoteIdentificationOID) }
        var e: [(String, String)] = [
            ("basicConstraints", "critical,CA:FALSE"),
            ("subjectKeyIdentifier", "hash"),
            ("authorityKeyIdentifier", "keyid:always"),
            ("certificatePolicies", policies.joined(separator: ",")),
            ("crlDistributionPoints", "URI:" + urls.crl),
            ("authorityInfoAccess", "OCSP;URI:\(urls.ocsp),caIssuers;URI:\(urls.issuer)"),
        ]
        switch self {
        case .auth:
            e.append(("keyUsage", "critical,digitalSignature,keyEncipherment"))
            e.append(("extendedKeyUsage", "clientAuth"))
        case .sign:
            e.append(("keyUsage", "critical,digitalSignature,nonRepudiation"))
        }
        return e
    }
}
