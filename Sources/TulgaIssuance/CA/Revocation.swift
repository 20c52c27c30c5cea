public import Foundation
public import TulgaCore
public import TulgaPKI
import TulgaCrypto
import TulgaStorage

/// Revocation, and what relying parties query: the CRL and the OCSP responder.
extension IssuanceService {
    /// Revokes one certificate (an admin, or `tulga ca revoke`); when both of an application's are
    /// revoked, so is the application. The CRL is regenerated.
    ///
    /// - Parameters:
    ///   - serial: the certificate's serial in hex, any case.
    ///   - reason: the RFC 5280 reason recorded in the CRL.
    ///   - actor: who revokes it; audited.
    /// - Throws: ``IssuanceError`` `.notFound` for an unknown serial, `.state` if it is already revoked;
    ///   ``StorageError``; ``DatabaseFailure``.
    public func revoke(serial: String, reason: RevocationReason, actor: String = "ca") async throws {
        let serial = serial.uppercased(), at = now, lifecycle = lifecycle, outbox = outboxKey
        try await db.transaction { db in
            try db.lock("revocation")
            guard try db.one("SELECT serial FROM revocations WHERE serial = ?", [.text(serial)]) == nil else {
                throw IssuanceError(.state, "certificate \(serial) is already revoked")
            }
            try Self.revoke(db, serial: serial, reason: reason, at: at, actor: actor, lifecycle: lifecycle, outbox: outbox)
        }
        try? await refreshCRL()
    }

    /// Revokes every certificate of an application not revoked yet.
    func revokeApplication(_ number: String, reason: RevocationReason, actor: String) async throws {
        let at = now, lifecycle = lifecycle, outbox = outboxKey
        try await db.transaction { db in try Self.revokeApplication(db, number, reason: reason, at: at, actor: actor, lifecycle: lifecycle, outbox: outbox) }
        try? await refreshCRL()
    }

    /// Revokes every certificate of an application not revoked yet, inside the caller's transaction.
    static func revokeApplication(_ db: any SQLSession, _ number: String, reason: RevocationReason, at: Double, actor: String,
                                  lifecycle: ApplicationLifecycle, outbox: SealingKey) throws {
        try db.lock("revocation")
        guard let app = try db.one("SELECT serial_auth, serial_sign FROM applications WHERE number = ?", [.text(number)]) else { return }
        for serial in [try app.optionalText(Columns.serialAuth), try app.optionalText(Columns.serialSign)].compactMap({ $0 })
        where try db.one("SELECT serial FROM revocations WHERE serial = ?", [.text(serial)]) == nil {
            try revoke(db, serial: serial, reason: reason, at: at, actor: actor, lifecycle: lifecycle, outbox: outbox)
        }
    }

    /// Refuses, inside a revocation's transaction, every renewal of `number` not issued yet: keys
    /// that were revoked renew nothing, however far the renewal got.
    static func refusePendingRenewals(_ db: any SQLSession, of number: String, at: Double, actor: String, lifecycle: ApplicationLifecycle, outbox: SealingKey) throws {
        for row in try db.query("SELECT * FROM applications WHERE renewal_of = ?", [.text(number)]) {
            let facts = try facts(row)
            guard [.new, .identified, .signing].contains(facts.status) else { continue }
            let next = try lifecycle.transition(from: facts, event: .reject, now: at)
            try save(db, number: try row.text(Columns.number), status: next, at: at,
                     extra: [("refusal", .text("the renewed keys were revoked"))], actor: actor, outbox: outbox)
        }
    }

    static func revoke(_ db: any SQLSession, serial: String, reason: RevocationReason, at: Double, actor: String, lifecycle: ApplicationLifecycle, outbox: SealingKey) throws {
        guard let app = try db.one("SELECT * FROM applications WHERE serial_auth = ? OR serial_sign = ?", [.text(serial), .text(serial)]) else {
            throw IssuanceError(.notFound, "no certificate with serial \(serial)")
        }
        let number = try app.text(Columns.number)
        try db.execute("INSERT INTO revocations (serial, number, revoked_at, reason) VALUES (?, ?, ?, ?)",
                       [.text(serial), .text(number), .double(at), .text(reason.rawValue)])
        if reason != .superseded { try refusePendingRenewals(db, of: number, at: at, actor: actor, lifecycle: lifecycle, outbox: outbox) }
        let revoked = Set(try db.query("SELECT serial FROM revocations WHERE number = ?", [.text(number)]).map { try $0.text(Columns.serial) })
        let serials = [try app.optionalText(Columns.serialAuth), try app.optionalText(Columns.serialSign)].compactMap { $0 }
        if serials.allSatisfy(revoked.contains) {
            let next = try lifecycle.transition(from: try facts(app), event: .revoke, now: at)
            try save(db, number: number, status: next, at: at, extra: [], actor: actor, outbox: outbox)
        }
        try AuditLog.append(db, at: at, actor: actor, action: "certificate.revoke", subject: serial, detail: reason.rawValue)
    }

    // MARK: CRL

    /// The current CRL, DER: the stored one while it lists every revocation and is less than half
    /// way to its `nextUpdate`; otherwise a new one (number + 1) is signed and stored.
    ///
    /// - Returns: The CRL, DER.
    /// - Throws: ``IssuanceError`` `.ca` without a CA; ``PKIError``; ``StorageError``; ``DatabaseFailure``.
    public func currentCRL() async throws -> Data {
        guard let ca else { throw IssuanceError(.ca, "no CA: run tulga ca init") }
        let at = now, validity = ca.config.crlValidityDays * 86400, date = clock.date
        return try await db.transaction { db in
            try db.lock("crl")
            let count = try db.one("SELECT COUNT(*) AS n FROM revocations")?.int(Columns.n) ?? 0
            let latest = try db.one("SELECT * FROM crls ORDER BY number DESC LIMIT 1")
            if let latest, try latest.int(CRLColumns.revokedCount) == count, try latest.double(CRLColumns.nextUpdate) - at > validity / 2,
               let der = try latest.optionalBlob(CRLColumns.der) {
                return der
            }
            let revoked = try db.query("SELECT serial, revoked_at, reason FROM revocations ORDER BY revoked_at", []).map {
                PKI.Revoked(serialHex: try $0.text(Columns.serial), revokedAt: Date(timeIntervalSince1970: try $0.double(Columns.revokedAt)),
                            reason: try $0.value(Columns.reason, as: RevocationReason.self))
            }
            let number = (try latest?.int(CRLColumns.number) ?? 0) + 1
            let der = try PKI.der(pem: try ca.crl(revoked, number: Int64(number), now: date))
            try db.execute("INSERT INTO crls (number, this_update, next_update, revoked_count, der) VALUES (?, ?, ?, ?, ?)",
                           [.int(Int64(number)), .double(at), .double(at + validity), .int(Int64(count)), .blob(der)])
            try db.execute("DELETE FROM crls WHERE number < ?", [.int(Int64(number - 10))])
            return der
        }
    }

    enum CRLColumns: String { case number, nextUpdate = "next_update", revokedCount = "revoked_count", der }

    /// Regenerates the CRL if it is stale (on revocation, and by the background service before `nextUpdate`).
    ///
    /// - Throws: as ``currentCRL()``.
    public func refreshCRL() async throws { _ = try await currentCRL() }

    /// Writes the current CRL as `crl.pem` in the CA folder; returns its path.
    ///
    /// - Returns: The path of `crl.pem`.
    /// - Throws: as ``currentCRL()``; the file system's error if the file cannot be written.
    public func publishCRL() async throws -> String {
        guard let ca else { throw IssuanceError(.ca, "no CA: run tulga ca init") }
        return try ca.writeCRL(pem: PKI.pem(der: try await currentCRL(), label: "X509 CRL"))
    }

    // MARK: OCSP

    /// Answers an RFC 6960 OCSP request (DER) about the issuing CA's certificates: good, revoked
    /// (with time and reason) or unknown, signed by the delegated OCSP-signing certificate. Bad
    /// requests get an unsigned `malformedRequest`, a missing CA `tryLater`.
    ///
    /// - Parameter request: the OCSPRequest, DER.
    /// - Returns: The OCSPResponse, DER.
    public func ocspResponse(_ request: Data) async -> Data {
        guard let ca else { return OCSP.errorResponse(.tryLater) }
        let queries: [OCSP.Query]
        do { queries = try OCSP.parse(request, issuerPEM: ca.issuingCertPEM) } catch { return OCSP.errorResponse(.malformedRequest) }
        do {
            let statuses = try await db.transaction { db in
                try queries.map { query in query.ours ? try Self.certificateStatus(db, serialHex: query.serialHex) : .unknown }
            }
            let signer = try ca.ocspSigner(now: clock.date)
            return try OCSP.respond(to: request, signer: signer, statuses: statuses, now: clock.date,
                                    nextUpdate: clock.date.addingTimeInterval(ca.config.ocspValidityMinutes * 60))
        } catch {
            return OCSP.errorResponse(.internalError)
        }
    }
}

extension IssuanceService {
    /// What the OCSP responder answers about one of the issuing CA's serials (and what sign-in checks):
    /// unknown unless an application holds it, revoked with time and reason, else good.
    static func certificateStatus(_ db: any SQLSession, serialHex: String) throws -> OCSP.Status {
        let serial = serialHex.uppercased()
        guard try db.one("SELECT number FROM applications WHERE serial_auth = ? OR serial_sign = ?", [.text(serial), .text(serial)]) != nil else {
            return .unknown
        }
        guard let row = try db.one("SELECT revoked_at, reason FROM revocations WHERE serial = ?", [.text(serial)]) else { return .good }
        return .revoked(at: Date(timeIntervalSince1970: try row.double(Columns.revokedAt)), reason: try row.value(Columns.reason, as: RevocationReason.self))
    }
}
