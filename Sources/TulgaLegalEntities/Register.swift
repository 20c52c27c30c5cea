import Foundation
public import TulgaCore
import TulgaIdentity

/// An organisation's standing in the register.
public enum OrganizationStatus: String, Sendable, Codable, CaseIterable {
    /// Operating: its people may get keys.
    case active
    /// Suspended or being liquidated: no new keys.
    case suspended
    /// Gone.
    case liquidated
}

/// The roles the register lists for an organisation's employees; each is a template of the same name.
public enum EmployeeRole: String, Sendable, Codable, CaseIterable {
    /// May sign.
    case signer
    /// May sign financial documents.
    case financialSigner = "financial_signer"
    /// Human resources: approves employees' applications.
    case hr
    /// An employee.
    case employee
    /// A participant in «Казначейство-Клиент»: keys on a token only (seed 002).
    case treasuryClient = "treasury_client"
}

/// A registered organisation.
public struct Organization: Sendable, Codable, Hashable {
    /// Its 12-digit BIN.
    public var bin: String
    /// Its registered name; goes in certificates as O.
    public var name: String
    /// The first head's IIN.
    public var headIIN: String
    /// Its standing.
    public var status: OrganizationStatus
    /// Creates an organisation.
    ///
    /// - Parameters: bin, name, headIIN, status: as the fields.
    public init(bin: String, name: String, headIIN: String, status: OrganizationStatus) { (self.bin, self.name, self.headIIN, self.status) = (bin, name, headIIN, status) }
}

/// A role the register lists for a person at an organisation.
public struct RoleGrant: Sendable, Codable, Hashable {
    /// The organisation's BIN.
    public var bin: String
    /// The employee's IIN.
    public var iin: String
    /// The role.
    public var role: EmployeeRole
    /// Creates a grant.
    ///
    /// - Parameters: bin, iin, role: as the fields.
    public init(bin: String, iin: String, role: EmployeeRole) { (self.bin, self.iin, self.role) = (bin, iin, role) }
}

/// A CSV row that was not imported, and why.
public struct RowProblem: Sendable, Codable, Hashable, CustomStringConvertible {
    /// The 1-based line number in the file.
    public var line: Int
    /// What is wrong with it.
    public var reason: String
    public var description: String { "line \(line): \(reason)" }
}

/// The register's CSV files, parsed without touching the database.
///
/// `organizations.csv`: `bin,name,head_iin,status`; `roles.csv`: `bin,iin,role`. Fields may be
/// quoted (`"ТОО ""Тулга"", филиал"`); each bad row is reported with its line and reason.
public enum RegisterCSV {
    /// Splits CSV text into rows of fields (RFC 4180 quoting); line numbers are 1-based.
    static func rows(_ text: String) -> [(line: Int, fields: [String])] {
        var rows: [(Int, [String])] = [], field = "", fields: [String] = [], quoted = false, line = 1, start = 1
        var iterator = text.makeIterator(), pending: Character? = nil
        func endRow() {
            fields.append(field)
            if !(fields.count == 1 && fields[0].trimmingCharacters(in: .whitespaces).isEmpty) { rows.append((start, fields)) }
            (fields, field) = ([], "")
        }
        while let c = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    let next = iterator.next()
                    if next == "\"" { field.append("\"") } else { quoted = false; pending = next }
                } else {
                    if c.isNewline { line += 1 }
                    field.append(c)
                }
            } else if c == "\"" && field.isEmpty {
                quoted = true
            } else if c == "," {
                fields.append(field); field = ""
            } else if c.isNewline {
                endRow(); line += 1; start = line
            } else {
                field.append(c)
            }
        }
        if !field.isEmpty || !fields.isEmpty { endRow() }
        return rows.map { ($0.0, $0.1.map { $0.trimmingCharacters(in: .whitespaces) }) }
    }

    static func table(_ text: String, header: [String]) throws(CodedError<RegisterErrorCode>) -> [(line: Int, fields: [String])] {
        var all = rows(text)
        guard let first = all.first, first.fields.map({ $0.lowercased() }) == header else {
            throw CodedError(.header, "the header must be \(header.joined(separator: ","))")
        }
        all.removeFirst()
        return all
    }

    /// Parses `organizations.csv`.
    ///
    /// - Parameter text: the file's text.
    /// - Returns: The good rows and a problem per bad row.
    /// - Throws: ``RegisterError`` `.header` when the header is not `bin,name,head_iin,status`.
    public static func organizations(_ text: String) throws(RegisterError) -> (organizations: [Organization], problems: [RowProblem]) {
        var good: [Organization] = [], problems: [RowProblem] = [], seen: Set<String> = []
        for (line, f) in try table(text, header: ["bin", "name", "head_iin", "status"]) {
            func problem(_ reason: String) { problems.append(RowProblem(line: line, reason: reason)) }
            guard f.count == 4 else { problem("expected 4 fields, got \(f.count)"); continue }
            do { _ = try BIN(f[0]) } catch { problem("BIN \(f[0]): \(error)"); continue }
            // A certificate's O holds at most 64 characters (RFC 5280's ub-organization-name).
            guard !f[1].isEmpty, f[1].precomposedStringWithCanonicalMapping.unicodeScalars.count <= 64 else {
                problem("the name must have 1 to 64 characters (a certificate's O holds no more)"); continue
            }
            do { _ = try IIN(f[2]) } catch { problem("head IIN \(f[2]): \(error)"); continue }
            guard let status = OrganizationStatus(rawValue: f[3].lowercased()) else {
                problem("status must be one of \(OrganizationStatus.allCases.map(\.rawValue).joined(separator: ", "))"); continue
            }
            guard seen.insert(f[0]).inserted else { problem("BIN \(f[0]) appears twice"); continue }
            good.append(Organization(bin: f[0], name: f[1], headIIN: f[2], status: status))
        }
        return (good, problems)
    }

    /// Parses `roles.csv`.
    ///
    /// - Parameter text: the file's text.
    /// - Returns: The good rows and a problem per bad row.
    /// - Throws: ``RegisterError`` `.header` when the header is not `bin,iin,role`.
    public static func roles(_ text: String) throws(RegisterError) -> (roles: [RoleGrant], problems: [RowProblem]) {
        var good: [RoleGrant] = [], problems: [RowProblem] = []
        for (line, f) in try table(text, header: ["bin", "iin", "role"]) {
            func problem(_ reason: String) { problems.append(RowProblem(line: line, reason: reason)) }
            guard f.count == 3 else { problem("expected 3 fields, got \(f.count)"); continue }
            do { _ = try BIN(f[0]) } catch { problem("BIN \(f[0]): \(error)"); continue }
            do { _ = try IIN(f[1]) } catch { problem("IIN \(f[1]): \(error)"); continue }
            guard let role = EmployeeRole(rawValue: f[2].lowercased()) else {
                problem("role must be one of \(EmployeeRole.allCases.map(\.rawValue).joined(separator: ", "))"); continue
            }
            good.append(RoleGrant(bin: f[0], iin: f[1], role: role))
        }
        return (good, problems)
    }
}

/// Codes of refusals about the register's files.
public enum RegisterErrorCode: String, ErrorCode {
    /// The CSV header is not the expected one (422).
    case header
    /// The file is larger than an import takes (413-like; 422).
    case tooLarge = "too_large"
    /// The kind: bad input.
    public var kind: ProblemKind { .invalid }
}

/// A refusal about the register's files.
public typealias RegisterError = CodedError<RegisterErrorCode>
