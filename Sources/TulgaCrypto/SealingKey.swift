public import Foundation
public import TulgaCore
import Crypto

/// Where a sealed value lives: its table, column and row. Sealing binds the value to this place
/// (AES-GCM associated data), so a blob copied into another row or column fails to open.
public struct SealedPlace: Sendable, Hashable {
    /// The table, e.g. `registry`.
    public let table: String
    /// The column, e.g. `photo`.
    public let column: String
    /// The row's key, e.g. the IIN or the case id.
    public let row: String
    /// - Parameters:
    ///   - table: the table.
    ///   - column: the column.
    ///   - row: the row's key.
    public init(_ table: String, _ column: String, _ row: String) { (self.table, self.column, self.row) = (table, column, row) }

    var associatedData: Data { Data("tulga sealed v1\u{0}\(table)\u{0}\(column)\u{0}\(row)".utf8) }
}

/// An AES-256-GCM key with a name and a purpose (`evidence`, `outbox`), kept in a file outside
/// the database, with the keys it replaced still readable until every value has moved on.
///
/// The current key is `<folder>/<name>.key` (32 bytes, 0600); a key replaced by ``rotate(folder:name:)``
/// stays as `<name>.<id>.retired` until ``dropRetired(_:)``. A blob is stored with the id of the key
/// that sealed it (the first 16 hex digits of the key's SHA-256).
///
/// ```swift
/// let evidence = try SealingKey(name: "evidence", folder: "var/keys")   // refuses a missing file
/// let sealed = try evidence.seal(photo, for: SealedPlace("registry", "photo", iin))
/// let photo = try evidence.open(sealed, keyID: evidence.keyID, for: SealedPlace("registry", "photo", iin))
/// ```
public struct SealingKey: Sendable {
    /// What the key protects, e.g. `evidence`.
    public let name: String
    /// The current key's id; new blobs are sealed with it.
    public let keyID: String
    /// The current key's file.
    public let path: String
    private let current: SymmetricKey
    private let retired: [String: SymmetricKey]

    /// Loads `<folder>/<name>.key` and any retired keys beside it.
    ///
    /// - Parameters:
    ///   - name: the key's purpose, e.g. `evidence`.
    ///   - folder: the keys folder, e.g. `var/keys`.
    /// - Throws: ``KeyFileError`` `.missing` when the key file is absent ("run tulga init"; never created
    ///   here), `.invalid` when it is not 32 bytes or cannot be read.
    public init(name: String, folder: String) throws {
        self.name = name
        path = Self.path(folder, name)
        let material = try KeyFiles.read(path, what: "\(name) key", length: 32)
        current = SymmetricKey(data: material)
        keyID = Self.id(material)
        var retired: [String: SymmetricKey] = [:]
        for file in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where file.hasPrefix(name + ".") && file.hasSuffix(".retired") {
            let data = try KeyFiles.read((folder as NSString).appendingPathComponent(file), what: "retired \(name) key", length: 32)
            retired[Self.id(data)] = SymmetricKey(data: data)
        }
        retired[keyID] = nil
        self.retired = retired
    }

    /// The ids of the retired keys still present.
    public var retiredIDs: [String] { retired.keys.sorted() }

    static func path(_ folder: String, _ name: String) -> String { (folder as NSString).appendingPathComponent("\(name).key") }
    static func id(_ material: Data) -> String { String(hex(SHA256.hash(data: material)).prefix(16)) }

    /// Creates `<folder>/<name>.key` from the CSPRNG when it is missing (0600 from the first byte).
    ///
    /// - Returns: Whether a key was created.
    /// - Throws: `CryptoFailure` if the CSPRNG fails; ``FileFailure`` if the file cannot be written.
    @discardableResult
    public static func create(name: String, folder: String) throws -> Bool {
        let path = path(folder, name)
        guard PrivateFile.mode(path) == nil else { return false }
        try PrivateFile.makeFolder(folder)
        try PrivateFile.createWhole(path, Data(try randomBytes(32)))
        return true
    }

    /// Makes a new current key; the old one is kept as `<name>.<id>.retired`, still able to open
    /// what it sealed. Crash-safe: the old key is linked under its retired name before the new one
    /// is renamed over the current name.
    ///
    /// - Returns: The key with the new current key loaded.
    /// - Throws: ``KeyFileError``, ``FileFailure``, `CryptoFailure`.
    public static func rotate(folder: String, name: String) throws -> SealingKey {
        let old = try SealingKey(name: name, folder: folder)
        let retiredPath = (folder as NSString).appendingPathComponent("\(name).\(old.keyID).retired")
        if PrivateFile.mode(retiredPath) == nil, link(old.path, retiredPath) != 0 {
            throw FileFailure(retiredPath, "cannot keep the old key", errno: errno)
        }
        try PrivateFile.replace(old.path, Data(try randomBytes(32)))
        return try SealingKey(name: name, folder: folder)
    }

    /// Removes a retired key once nothing sealed with it remains.
    ///
    /// - Parameter id: the retired key's id.
    /// - Throws: ``FileFailure`` if the file cannot be removed.
    public func dropRetired(_ id: String) throws {
        let retiredPath = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("\(name).\(id).retired")
        guard unlink(retiredPath) == 0 || errno == ENOENT else { throw FileFailure(retiredPath, "cannot remove it", errno: errno) }
    }

    /// Seals `plaintext` for `place` with the current key: nonce ‖ ciphertext ‖ tag.
    ///
    /// - Throws: `CryptoFailure` if sealing fails.
    public func seal(_ plaintext: Data, for place: SealedPlace) throws -> Data {
        guard let combined = try AES.GCM.seal(plaintext, using: current, authenticating: place.associatedData).combined else {
            throw CryptoFailure("AES-GCM seal failed")
        }
        return combined
    }

    /// Opens a blob sealed for `place` by the key `keyID` (current or retired).
    ///
    /// - Throws: `CryptoFailure` for an unknown key id, or a blob that was altered, moved to another
    ///   place, or sealed with another key.
    public func open(_ sealed: Data, keyID: String, for place: SealedPlace) throws -> Data {
        try open(sealed, keyID: keyID, associatedData: place.associatedData)
    }

    /// Opens a blob sealed by a build before places were bound (no associated data); only for
    /// re-sealing such rows once.
    ///
    /// - Throws: `CryptoFailure` as ``open(_:keyID:for:)``.
    public func openUnbound(_ sealed: Data, keyID: String) throws -> Data { try open(sealed, keyID: keyID, associatedData: nil) }

    private func open(_ sealed: Data, keyID: String, associatedData: Data?) throws -> Data {
        guard let key = keyID == self.keyID ? current : retired[keyID] else {
            throw CryptoFailure("\(name) was sealed with key \(keyID), which is not in \((path as NSString).deletingLastPathComponent) (current \(self.keyID))")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return try associatedData.map { try AES.GCM.open(box, using: key, authenticating: $0) } ?? AES.GCM.open(box, using: key)
        } catch {
            throw CryptoFailure("\(name) failed authentication (altered, moved from another row, or another key)")
        }
    }

    /// HMAC-SHA-256 of `message` under a subkey derived (HKDF-SHA-256) from the key `keyID` for
    /// `purpose`, hex: a keyed lookup for high-entropy secrets (API keys), so none needs a KDF per
    /// request and the database alone does not tell which key a row belongs to.
    ///
    /// - Parameters:
    ///   - purpose: names the subkey, e.g. `"api-key lookup v1"`.
    ///   - message: what to authenticate.
    ///   - keyID: the key to use; the current one when `nil`; a retired one gives `nil` if absent.
    /// - Returns: 64 lower-case hex digits, or `nil` for an unknown key id.
    public func mac(purpose: String, _ message: String, keyID: String? = nil) -> String? {
        guard let key = keyID.map({ $0 == self.keyID ? current : retired[$0] }) ?? current else { return nil }
        let subkey = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data(purpose.utf8), outputByteCount: 32)
        return hex(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: subkey))
    }
}

/// Reading the service's key files.
enum KeyFiles {
    static func read(_ path: String, what: String, length: Int) throws -> Data {
        let data: Data?
        do { data = try PrivateFile.read(path, limit: 4096, secret: true) } catch let failure as FileFailure {
            throw KeyFileError(.invalid, "the \(what) \(failure)")
        }
        guard let data else { throw KeyFileError(.missing, "no \(what) at \(path); run tulga init") }
        guard data.count == length else { throw KeyFileError(.invalid, "the \(what) file \(path) must hold exactly \(length) bytes") }
        return data
    }
}

/// Codes of key-file failures.
public enum KeyFileErrorCode: String, ErrorCode {
    /// A key file the command needs is absent.
    case missing
    /// A key file cannot be read or has the wrong length.
    case invalid
    /// Always ``ProblemKind/internalError``: the service is not set up.
    public var kind: ProblemKind { .internalError }
}

/// A key file that is missing or unusable.
public typealias KeyFileError = CodedError<KeyFileErrorCode>

/// Compares two strings in time that depends only on their lengths.
public func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var difference: UInt8 = 0
    for i in 0..<x.count { difference |= x[i] ^ y[i] }
    return difference == 0
}

/// HMAC-SHA-256 of `message` under `key`, in hex.
///
/// - Parameters:
///   - key: the key's bytes (32 random bytes, say).
///   - message: what is authenticated.
/// - Returns: 64 lower-case hex digits.
public func hmacSHA256Hex(key: [UInt8], _ message: String) -> String {
    hex(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: key)))
}

/// SHA-256 in hex.
public func sha256Hex(_ data: Data) -> String { hex(SHA256.hash(data: data)) }
public func sha256Hex(_ text: String) -> String { sha256Hex(Data(text.utf8)) }

/// SHA-256 of a file's contents in hex, read in 1 MiB pieces (model files are tens of megabytes).
///
/// - Throws: whatever opening or reading the file throws.
public func sha256Hex(contentsOf path: String) throws -> String {
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    var hasher = SHA256()
    while let piece = try handle.read(upToCount: 1 << 20), !piece.isEmpty { hasher.update(data: piece) }
    return hex(hasher.finalize())
}
