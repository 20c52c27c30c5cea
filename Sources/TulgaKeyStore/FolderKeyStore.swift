import TulgaCore
public import TulgaPKI
public import Foundation
import CTulgaPKI

/// «Персональный компьютер»: a folder (0700) the applicant picks. Pending keys are encrypted
/// PKCS#8 (PBES2, AES-256-CBC) under the applicant's password in `pending/<key id>.key`, each with
/// its request in `pending/<key id>.<AUTH|SIGN>.csr` (the name keeps the purpose); after
/// installation the containers `AUTH_RSA256_<serial>.p12` and `RSA256_<serial>.p12` (PBES2,
/// AES-256-CBC, SHA-256 MAC) replace them. Every file is created 0600 with `O_EXCL` and renamed into
/// place, so no other user can read it at any moment; the plain key exists only inside the shim.
public struct FolderKeyStore: KeyStore {
    /// The folder.
    public let directory: String
    /// The password pending keys are encrypted under.
    let password: String
    /// The containers' password («Новый пароль»); the pending keys' password unless set.
    let containerPassword: String

    public var kind: KeyStorageKind { .folder }

    /// PBKDF2 rounds for the containers.
    public static let iterations: Int32 = 100_000

    /// Opens (creating 0700) the folder.
    ///
    /// - Parameters:
    ///   - directory: the folder; created 0700 if missing (an existing one of ours is used as it is: the
    ///     files in it are 0600, and the `pending` folder inside is 0700).
    ///   - password: the pending keys' password; must pass ``ContainerPassword``.
    ///   - containerPassword: the containers' password, if it differs; must pass ``ContainerPassword``.
    /// - Throws: ``KeyError`` `.password`; `.keyStore` for a path that is not a folder or not ours.
    public init(directory: String, password: String, containerPassword: String? = nil) throws {
        try ContainerPassword.check(password)
        if let containerPassword { try ContainerPassword.check(containerPassword) }
        (self.directory, self.password, self.containerPassword) = (directory, password, containerPassword ?? password)
        try Self.privateFolder(directory, tighten: false)
        try Self.privateFolder(pendingDirectory, tighten: true)
    }

    var pendingDirectory: String { (directory as NSString).appendingPathComponent("pending") }
    func pendingPath(_ keyID: String) -> String { (pendingDirectory as NSString).appendingPathComponent(keyID + ".key") }
    func requestPath(_ keyID: String, _ purpose: KeyPurpose) -> String {
        (pendingDirectory as NSString).appendingPathComponent("\(keyID).\(purpose.rawValue).csr")
    }

    /// Creates `path` (and missing parents) 0700, or checks an existing one is a folder of ours
    /// (made 0700 only when `tighten`: a folder the applicant names, their home say, is left as it is).
    static func privateFolder(_ path: String, tighten: Bool) throws {
        if mkdir(path, 0o700) != 0, errno == ENOENT {
            // Missing parents are made private too.
            try privateFolder((path as NSString).deletingLastPathComponent, tighten: false)
            _ = mkdir(path, 0o700)
        }
        if mkdir(path, 0o700) != 0 {
            guard errno == EEXIST else { throw KeyError(.keyStore, "cannot create \(path): \(String(cString: strerror(errno)))") }
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { throw KeyError(.keyStore, "\(path) is not a folder") }
            guard info.st_uid == getuid() else { throw KeyError(.keyStore, "\(path) belongs to another user") }
            // Others could not read the files, but could delete or swap them.
            guard tighten || info.st_mode & 0o022 == 0 else {
                throw KeyError(.keyStore, "\(path) is writable by other users: choose a folder only you can write to")
            }
            guard !tighten || chmod(path, 0o700) == 0 else { throw KeyError(.keyStore, "cannot make \(path) private") }
        }
    }

    /// Writes `data` at `path`, private from the first byte: a 0600 `O_EXCL` temporary file,
    /// synced, then renamed over. Refuses to replace an existing file unless `replace`.
    static func writePrivate(_ data: Data, to path: String, replace: Bool = false) throws {
        if !replace, FileManager.default.fileExists(atPath: path) { throw KeyError(.keyStore, "\(path) exists already") }
        do { try PrivateFile.replace(path, data) } catch { throw KeyError(.keyStore, "cannot write \(error)") }
    }

    /// Renames a file aside (so a crash never leaves a half-wiped key under its name), overwrites
    /// it with zeros, syncs, and removes it.
    static func wipe(_ path: String) {
        let aside = path.hasSuffix(".wiping") ? path : path + ".wiping"
        if aside != path, rename(path, aside) != 0 { return }
        let fd = open(aside, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0 {
            var info = stat()
            if fstat(fd, &info) == 0, info.st_size > 0 {
                let zeros = [UInt8](repeating: 0, count: Int(info.st_size))
                _ = zeros.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                fsync(fd)
            }
            close(fd)
        }
        unlink(aside)
    }

    public func generate(iin: String, algorithm: KeyAlgorithm) throws -> [GeneratedRequest] {
        try KeyPurpose.allCases.map { purpose in
            var encrypted: UnsafeMutablePointer<CChar>?, csr: UnsafeMutablePointer<CChar>?
            var id = [UInt8](repeating: 0, count: 20)
            var error = tp_error()
            let ok = withSubject(requestSubject(iin: iin)) { entries, count in
                tp_folder_generate(algorithm == .p256 ? Int32(TP_EC_P256.rawValue) : Int32(TP_RSA_2048.rawValue), password, entries, count,
                                   &encrypted, &csr, &id, &error)
            }
            defer { tp_free(encrypted); tp_free(csr) }
            guard ok == 1, let encrypted, let csr else { throw PKIError(message(error)) }
            let keyID = hex(id), pem = String(cString: csr)
            try Self.writePrivate(Data(bytes: encrypted, count: strlen(encrypted)), to: pendingPath(keyID))
            try Self.writePrivate(Data(pem.utf8), to: requestPath(keyID, purpose))
            return GeneratedRequest(purpose: purpose, pem: pem, keyID: keyID)
        }
    }

    public func install(_ certificates: [KeyPurpose: String], chainPEM: String, trustedRoot: TrustedRoot?, at date: Date) throws -> [String] {
        // Both certificates are checked before anything is touched.
        let checked = try checkedForInstall(certificates, chainPEM: chainPEM, trustedRoot: trustedRoot, at: date) { purpose, cert in try held(purpose, cert) }
        // Every container is made before any is written, and the pending keys go only after both are.
        var containers: [(path: String, der: Data, keyID: String)] = [], done: [String] = [], finished: [String] = [], cleared: [String] = []
        // Keys a killed install was wiping go now.
        for leftover in (try? FileManager.default.contentsOfDirectory(atPath: pendingDirectory)) ?? [] where leftover.hasSuffix(".wiping") {
            Self.wipe((pendingDirectory as NSString).appendingPathComponent(leftover))
        }
        for (purpose, cert) in checked {
            let pem = cert.pem, path = containerPath(purpose, cert)
            // An install killed after this container was written and its pending key wiped: it is done.
            if !FileManager.default.fileExists(atPath: pendingPath(cert.keyID)), FileManager.default.fileExists(atPath: path) {
                done.append(path)
                cleared.append(cert.keyID)
                continue
            }
            guard let sealed = FileManager.default.contents(atPath: pendingPath(cert.keyID)) else {
                throw KeyError(.noKey, "no pending key in \(pendingDirectory) for the \(purpose.rawValue) certificate (key id \(cert.keyID))")
            }
            let sealedText = String(decoding: sealed, as: UTF8.self)
            guard sealedText.hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----") else {
                // A whole container (written by rename) means an earlier install got this far.
                if FileManager.default.fileExists(atPath: path) {
                    done.append(path)
                    finished.append(cert.keyID)
                    continue
                }
                throw KeyError(.keyStore, "the pending \(purpose.rawValue) key \(pendingPath(cert.keyID)) is damaged (not an encrypted PKCS#8 key)")
            }
            var der: UnsafeMutablePointer<UInt8>?
            var length = 0
            var error = tp_error()
            let ok = tp_pkcs12_sealed(sealedText, password, pem, chainPEM, containerPassword, "\(purpose.rawValue) \(cert.serialHex)",
                                      Self.iterations, &der, &length, &error)
            defer { tp_free(der) }
            guard ok == 1, let der else {
                throw error.kind == Int32(TP_WRONG_SECRET.rawValue) ? KeyError(.password, "the key password does not open the pending key") : PKIError(message(error))
            }
            containers.append((path, Data(bytes: der, count: length), cert.keyID))
        }
        // A container left by an install killed before its pending key was wiped is replaced.
        for container in containers { try Self.writePrivate(container.der, to: container.path, replace: true) }
        for keyID in containers.map(\.keyID) + finished { Self.wipe(pendingPath(keyID)) }
        for keyID in containers.map(\.keyID) + finished + cleared {
            for purpose in KeyPurpose.allCases { unlink(requestPath(keyID, purpose)) }
        }
        return (done + containers.map(\.path)).sorted()
    }

    func containerPath(_ purpose: KeyPurpose, _ cert: IssuedCertificate) -> String {
        (directory as NSString).appendingPathComponent(purpose.fileName(serialHex: cert.serialHex, algorithm: cert.algorithm))
    }

    /// The certificate installed for the key `keyID`: the one in the container at `path` (named for the
    /// certificate offered; a container there for another key is an error), else, once the key is no
    /// longer pending, the one in any container of the folder the password opens for that key.
    func installedCertificate(forKey keyID: String, at path: String) throws -> IssuedCertificate? {
        if FileManager.default.fileExists(atPath: path) {
            guard let inside = try containerCertificate(path), let installed = try? IssuedCertificate(pem: inside), installed.keyID == keyID else {
                throw KeyError(.keyStore, "\(path) exists and holds another certificate")
            }
            return installed
        }
        // A key still pending has no container.
        guard !FileManager.default.fileExists(atPath: pendingPath(keyID)) else { return nil }
        for name in Self.names(in: directory).sorted() where name.hasSuffix(".p12") {
            // Containers under another password (--new-password) are not this key's to compare.
            guard let inside = try? containerCertificate((directory as NSString).appendingPathComponent(name)),
                  let installed = try? IssuedCertificate(pem: inside), installed.keyID == keyID else { continue }
            return installed
        }
        return nil
    }

    /// The key `cert` certifies. When a container of this folder holds a certificate for that key (an
    /// earlier install wrote it, and may have wiped the pending key), the key as the installed certificate
    /// names it, and only when the offered certificate is that very certificate (the same bytes): a key
    /// installed with one certificate is not installed again with another. Else a pending key, its purpose
    /// from its request's name and the IIN from the request. `nil` when the folder has neither.
    func held(_ purpose: KeyPurpose, _ cert: IssuedCertificate) throws -> HeldKey? {
        if let installed = try installedCertificate(forKey: cert.keyID, at: containerPath(purpose, cert)) {
            guard let offered = try? PKI.der(pem: cert.pem), (try? PKI.der(pem: installed.pem)) == offered else {
                throw KeyError(.mismatch, "the \(purpose.rawValue) key (key id \(cert.keyID)) is installed already, with another certificate "
                                          + "(serial \(installed.serialHex)): a certificate is never installed over another one in a folder")
            }
            return HeldKey(purpose: installed.isAuthentication ? .auth : .sign, iin: installed.iin)
        }
        guard FileManager.default.fileExists(atPath: pendingPath(cert.keyID)) else { return nil }
        for made in KeyPurpose.allCases {
            guard let data = FileManager.default.contents(atPath: requestPath(cert.keyID, made)) else { continue }
            let request = try? CertificateRequest(pem: String(decoding: data, as: UTF8.self))
            guard let request, request.keyID == cert.keyID else {
                throw KeyError(.keyStore, "the pending request \(requestPath(cert.keyID, made)) is damaged or not the key's")
            }
            return HeldKey(purpose: made, iin: request.iin)
        }
        throw KeyError(.keyStore, "the pending key \(pendingPath(cert.keyID)) has no request naming its purpose (an older tulga made it): make new keys")
    }

    public func pendingKeys() throws -> PendingKeys {
        var found: [GeneratedRequest] = [], skipped: [String] = []
        for name in Self.names(in: pendingDirectory).sorted() where name.hasSuffix(".csr") {
            let parts = name.split(separator: ".")
            guard parts.count == 3, let made = purpose(named: parts[1]) else { continue }
            let keyID = String(parts[0])
            guard let sealed = FileManager.default.contents(atPath: pendingPath(keyID)),
                  let data = FileManager.default.contents(atPath: requestPath(keyID, made)) else { continue }
            // The password must open the key (filing requests for keys nobody can open helps no one), and the key be the request's.
            var id = [UInt8](repeating: 0, count: 20)
            var error = tp_error()
            guard tp_sealed_key_check(String(decoding: sealed, as: UTF8.self), password, &id, &error) == 1 else {
                if error.kind == Int32(TP_WRONG_SECRET.rawValue) { throw KeyError(.password, "the key password does not open the pending key \(pendingPath(keyID))") }
                skipped.append("the pending key \(pendingPath(keyID)) is damaged: \(message(error))")
                continue
            }
            let pem = String(decoding: data, as: UTF8.self)
            guard hex(id) == keyID, PKI.keyID(pem: pem) == keyID else {
                skipped.append("the pending key \(pendingPath(keyID)) and its request do not match")
                continue
            }
            found.append(GeneratedRequest(purpose: made, pem: pem, keyID: keyID))
        }
        return PendingKeys(requests: found.sorted { ($0.purpose == .auth ? 0 : 1) < ($1.purpose == .auth ? 0 : 1) }, skipped: skipped)
    }

    public func sign(_ message: Data, certificatePEM: String) throws -> Data {
        let cert = try IssuedCertificate(pem: certificatePEM)
        let paths = KeyPurpose.allCases.map { (directory as NSString).appendingPathComponent($0.fileName(serialHex: cert.serialHex, algorithm: cert.algorithm)) }
        guard let path = paths.first(where: { FileManager.default.fileExists(atPath: $0) }), let container = FileManager.default.contents(atPath: path) else {
            throw KeyError(.noKey, "no container for certificate \(cert.serialHex) in \(directory)")
        }
        var signature: UnsafeMutablePointer<UInt8>?
        var length = 0
        var error = tp_error()
        let ok = container.withUnsafeBytes { bytes in
            message.withUnsafeBytes { m in
                tp_pkcs12_sign(bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, containerPassword, certificatePEM,
                               m.bindMemory(to: UInt8.self).baseAddress, m.count, &signature, &length, &error)
            }
        }
        defer { tp_free(signature) }
        guard ok == 1, let signature else {
            throw error.kind == Int32(TP_WRONG_SECRET.rawValue) ? KeyError(.password, "the password does not open \(path)") : KeyError(.keyStore, TulgaKeyStore.message(error))
        }
        return Data(bytes: signature, count: length)
    }

    /// The folder's files, or `.keyStore` when it cannot be listed.
    func files(in folder: String) throws -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: folder) } catch { throw KeyError(.keyStore, "cannot list \(folder)") }
    }

    /// Pending keys (`pending/*.key`) or containers (`*.p12`).
    public func holdsKeys() throws -> Bool { Self.holdsKeys(in: directory) }

    /// Whether `directory` holds pending keys (`pending/*.key`) or containers (`*.p12`); a folder
    /// that is missing or cannot be listed holds none. Needs no password.
    ///
    /// - Parameter directory: the key folder.
    public static func holdsKeys(in directory: String) -> Bool {
        let pending = (directory as NSString).appendingPathComponent("pending")
        return names(in: pending).contains { $0.hasSuffix(".key") } || names(in: directory).contains { $0.hasSuffix(".p12") }
    }

    /// Whether `directory` holds pending keys (`pending/*.key`). Needs no password.
    ///
    /// - Parameter directory: the key folder.
    public static func holdsPendingKeys(in directory: String) -> Bool {
        names(in: (directory as NSString).appendingPathComponent("pending")).contains { $0.hasSuffix(".key") }
    }

    /// Whether `directory` holds an AUTH container (`AUTH_*.p12`). Needs no password.
    ///
    /// - Parameter directory: the key folder.
    public static func holdsAuthenticationContainer(in directory: String) -> Bool {
        names(in: directory).contains { $0.hasPrefix("AUTH_") && $0.hasSuffix(".p12") }
    }

    static func names(in folder: String) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] }

    /// Read from the `AUTH_*.p12` containers, opened with the containers' password.
    public func authenticationCertificate() throws -> String {
        let pems = try files(in: directory).filter { $0.hasPrefix("AUTH_") && $0.hasSuffix(".p12") }
            .compactMap { try containerCertificate((directory as NSString).appendingPathComponent($0)) }
        return try newestAuthentication(pems, in: directory)
    }

    /// The certificate in the container at `path`, opened with the containers' password; `nil` for a
    /// file that is not one (a damaged file is no certificate).
    func containerCertificate(_ path: String) throws -> String? {
        // Containers are a few KiB; anything past 1 MiB is not one of ours and is not read.
        guard let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, size <= 1 << 20,
              let container = FileManager.default.contents(atPath: path) else { return nil }
        var pem: UnsafeMutablePointer<CChar>?
        var error = tp_error()
        let ok = container.withUnsafeBytes { bytes in
            tp_pkcs12_certificate(bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, containerPassword, &pem, &error)
        }
        defer { tp_free(pem) }
        guard ok == 1, let pem else {
            if error.kind == Int32(TP_WRONG_SECRET.rawValue) { throw KeyError(.password, "the password does not open \(path)") }
            return nil
        }
        return String(cString: pem)
    }
}
