public import TulgaCore

/// Application templates, as the national CA's portal names them.
public enum Template: String, Sendable, Codable, CaseIterable {
    case individual                       // физическое лицо, удалённая идентификация
    case firstHead = "first_head"         // первый руководитель
    case signer                           // сотрудник с правом подписи
    case financialSigner = "financial_signer"  // сотрудник с правом подписи финансовых документов
    case hr                               // сотрудник отдела кадров
    case employee                         // сотрудник организации
    case treasuryClient = "treasury_client"    // участник «Казначейство-Клиент»

    public var isLegalEntity: Bool { self != .individual }
    /// Employees other than the first head need the first head's approval.
    public var needsHeadApproval: Bool { isLegalEntity && self != .firstHead }

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
    case new
    case identified
    case signing
    case issued
    case installed
    case rejected
    case expired
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

public enum Channel: String, Sendable, Codable { case remote, inPerson = "in_person" }

/// The portal's refusal for renewing remotely issued keys.
public var renewalRefusal: String { Message(.refusalRenewal).text(.ru) }

/// Codes of refusals in issuance.
public enum IssuanceErrorCode: String, ErrorCode {
    case invalidIdentity = "invalid_identity"
    case phoneNotRegistered = "phone_not_registered"
    case code
    case digitalID = "digital_id"
    case consent
    case pin
    case activeApplication = "active_application"
    case notFound = "not_found"
    case state
    case renewal
    case password
    case headApproval = "head_approval"
    case ca

    public var kind: ProblemKind {
        switch self {
        case .notFound: .notFound
        case .invalidIdentity, .password: .invalid
        case .phoneNotRegistered, .digitalID, .consent, .renewal, .pin, .code: .forbidden
        case .activeApplication, .state, .headApproval: .conflict
        case .ca: .unavailable
        }
    }
}

/// A refusal in issuance, with a stable code and the rule in words.
public typealias IssuanceError = CodedError<IssuanceErrorCode>

/// The container password rules, exactly: 6 to 32 characters; Latin letters and digits are
/// required; upper case and `@ # % & * ~ _ - .` are allowed; nothing else.
public enum ContainerPassword {
    public static let allowedSymbols: Set<Character> = ["@", "#", "%", "&", "*", "~", "_", "-", "."]

    public static func check(_ password: String) throws(IssuanceError) {
        guard (6...32).contains(password.count) else {
            throw IssuanceError(.password, "the password must have 6 to 32 characters (it has \(password.count))")
        }
        if let bad = password.first(where: { !($0.isASCII && ($0.isLetter || $0.isNumber)) && !allowedSymbols.contains($0) }) {
            throw IssuanceError(.password, "the password may contain only Latin letters, digits and @ # % & * ~ _ - . (found '\(bad)')")
        }
        guard password.contains(where: { $0.isASCII && $0.isLetter }) else {
            throw IssuanceError(.password, "the password must contain at least one Latin letter")
        }
        guard password.contains(where: { $0.isASCII && $0.isNumber }) else {
            throw IssuanceError(.password, "the password must contain at least one digit")
        }
    }
}

/// Who the certificates are for.
public struct Holder: Sendable, Hashable {
    public var iin: String
    public var surname: String
    public var givenName: String
    public var organization: String?
    public var bin: String?

    public init(iin: String, surname: String, givenName: String, organization: String? = nil, bin: String? = nil) {
        self.iin = iin
        self.surname = surname
        self.givenName = givenName
        self.organization = organization
        self.bin = bin
    }

    /// CN="SURNAME GIVENNAME", SURNAME, GIVENNAME, SERIALNUMBER=IIN…, C=KZ; a legal entity adds O and OU=BIN….
    public var subject: [(String, String)] {
        var s = [("CN", "\(surname) \(givenName)"), ("2.5.4.4", surname), ("2.5.4.42", givenName), ("2.5.4.5", "IIN" + iin), ("C", "KZ")]
        if let organization, let bin {
            s += [("O", organization), ("OU", "BIN" + bin)]
        }
        return s
    }
}

/// The two key purposes and their certificate profiles.
public enum KeyPurpose: String, Sendable, Codable, CaseIterable {
    case auth = "AUTH"
    case sign = "SIGN"

    /// X.509v3 extensions in OpenSSL's config syntax.
    public func extensions(template: Template, remote: Bool, crlURL: String) -> [(String, String)] {
        var policies = [template.keyUserOID]
        if remote { policies.append(remoteIdentificationOID) }
        var e: [(String, String)] = [
            ("basicConstraints", "critical,CA:FALSE"),
            ("subjectKeyIdentifier", "hash"),
            ("authorityKeyIdentifier", "keyid:always"),
            ("certificatePolicies", policies.joined(separator: ",")),
            ("crlDistributionPoints", "URI:" + crlURL),
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

    /// `AUTH_RSA256_<hex>.p12` and `RSA256_<hex>.p12`, as the national CA names them.
    public func fileName(serialHex: String) -> String {
        (self == .auth ? "AUTH_RSA256_" : "RSA256_") + serialHex.lowercased() + ".p12"
    }
}
