public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Files that are private from their first byte: created with `O_CREAT|O_EXCL|O_NOFOLLOW` and
/// their final mode (never created wider and tightened afterwards), written in full, synced, and
/// for a replacement renamed over the old file, the folder synced after.
///
/// ```swift
/// try PrivateFile.makeFolder("var/keys")                        // 0700, parents too
/// try PrivateFile.create("var/keys/evidence.key", key)         // 0600; refuses an existing file
/// try PrivateFile.replace("spool/sms-1.sms", body)              // temp name, fsync, rename, fsync folder
/// ```
public enum PrivateFile {
    /// Creates `path` with `mode`; refuses an existing file or a symbolic link there.
    ///
    /// - Parameters:
    ///   - path: the new file.
    ///   - data: its whole content.
    ///   - mode: its permissions from the first byte; 0600 unless given.
    ///   - durable: sync the file and its folder; `false` for a scratch file that need not survive a crash.
    /// - Throws: ``FileFailure`` naming the file and the system's reason.
    public static func create(_ path: String, _ data: Data, mode: mode_t = 0o600, durable: Bool = true) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0o600)
        guard fd >= 0 else { throw FileFailure(path, "cannot create it", errno: errno) }
        // Exactly `mode` whatever the umask, widened (a public file) only after the creating call.
        let ok = fchmod(fd, mode) == 0 && writeAll(fd, data) && (!durable || fsync(fd) == 0)
        let error = errno
        close(fd)
        guard ok else { unlink(path); throw FileFailure(path, "cannot write it", errno: error) }
        if durable { syncFolder(of: path) }
    }

    /// Creates `path` whole or not at all: the content is written and synced under a temporary name,
    /// then linked to `path` (which fails if it exists), so a crash never leaves a short file there.
    ///
    /// - Throws: ``FileFailure``, also when `path` exists; nothing is left under the temporary name.
    public static func createWhole(_ path: String, _ data: Data, mode: mode_t = 0o600) throws {
        let temporary = temporaryName(for: path)
        try create(temporary, data, mode: mode)
        defer { unlink(temporary) }
        guard link(temporary, path) == 0 else { throw FileFailure(path, "cannot create it", errno: errno) }
        syncFolder(of: path)
    }

    static func temporaryName(for path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        var suffix = [UInt8](repeating: 0, count: 6)
        var generator = SystemRandomNumberGenerator()
        for i in suffix.indices { suffix[i] = generator.next() }
        return (folder.isEmpty ? "" : folder + "/") + "." + (path as NSString).lastPathComponent + ".tmp-" + suffix.map { String(format: "%02x", $0) }.joined()
    }

    /// Writes `data` to a temporary name beside `path` (private, `O_EXCL`), syncs it, renames it
    /// over `path` and syncs the folder: a reader sees the old file or the whole new one.
    ///
    /// - Parameters:
    ///   - path: the file to create or replace.
    ///   - data: its whole content.
    ///   - mode: its permissions from the first byte; 0600 unless given.
    /// - Throws: ``FileFailure``; nothing is left under the temporary name.
    public static func replace(_ path: String, _ data: Data, mode: mode_t = 0o600) throws {
        let temporary = temporaryName(for: path)
        try create(temporary, data, mode: mode)
        guard rename(temporary, path) == 0 else {
            let error = errno
            unlink(temporary)
            throw FileFailure(path, "cannot rename the new file into place", errno: error)
        }
        syncFolder(of: path)
    }

    /// Creates `path` and any missing parents with mode 0700; an existing folder is left as it is.
    ///
    /// - Parameter path: the folder.
    /// - Throws: ``FileFailure`` if it cannot be created or is not a folder.
    public static func makeFolder(_ path: String) throws {
        guard !path.isEmpty else { return }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw FileFailure(path, "is not a folder") }
            return
        }
        try makeFolder((path as NSString).deletingLastPathComponent)
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw FileFailure(path, "cannot create the folder", errno: errno) }
    }

    /// Like ``makeFolder(_:)``, then requires a real folder (never a symbolic link) that this user
    /// owns, and makes it 0700: a folder the service empties or keeps secrets in.
    ///
    /// - Throws: ``FileFailure`` naming what is wrong.
    public static func makeOwnFolder(_ path: String) throws {
        try makeFolder(path)
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw FileFailure(path, "is not a folder (a symbolic link is refused)", errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_uid == geteuid() else { throw FileFailure(path, "belongs to another user") }
        guard info.st_mode & 0o077 == 0 || fchmod(fd, 0o700) == 0 else { throw FileFailure(path, "cannot make it private", errno: errno) }
    }

    /// Reads a whole small file, refusing a symbolic link, a non-regular file (a FIFO does not block it)
    /// and anything over `limit` bytes.
    ///
    /// - Parameters:
    ///   - path: the file.
    ///   - limit: the largest size accepted.
    ///   - secret: also refuse a file another user owns or others may read or write.
    /// - Returns: The content, or `nil` if there is no such file.
    /// - Throws: ``FileFailure`` if it exists but cannot be read, is not a regular file, is too large, or (for a secret) is not private.
    public static func read(_ path: String, limit: Int = 1 << 20, secret: Bool = false) throws -> Data? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw FileFailure(path, "cannot open it", errno: errno)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { throw FileFailure(path, "is not a regular file") }
        if secret {
            guard info.st_uid == geteuid() else { throw FileFailure(path, "belongs to another user") }
            guard info.st_mode & 0o077 == 0 else { throw FileFailure(path, "may be read or written by others: chmod 600 it") }
        }
        guard Int(info.st_size) <= limit else { throw FileFailure(path, "is larger than \(limit) bytes") }
        var data = Data(count: Int(info.st_size))
        let n = data.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
        guard n == Int(info.st_size) else { throw FileFailure(path, "cannot read it", errno: errno) }
        return data
    }

    /// Narrows an existing regular file (never one a symbolic link points at) to `mode`.
    ///
    /// - Throws: ``FileFailure`` if it cannot be opened or changed; nothing for a missing file.
    public static func narrow(_ path: String, to mode: mode_t = 0o600) throws {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return }
            throw FileFailure(path, "cannot open it", errno: errno)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { throw FileFailure(path, "is not a regular file") }
        guard info.st_mode & 0o7777 == mode || fchmod(fd, mode) == 0 else { throw FileFailure(path, "cannot change its mode", errno: errno) }
    }

    /// The permission bits of `path` (without following a link), or `nil` if it does not exist.
    public static func mode(_ path: String) -> mode_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
    }

    static func writeAll(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
    }

    /// Syncs the folder holding `path`, so a created or renamed name survives a power cut.
    static func syncFolder(of path: String) {
        let folder = (path as NSString).deletingLastPathComponent
        let fd = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}

/// A file that cannot be created, written or read as asked.
public struct FileFailure: Error, CustomStringConvertible, Sendable, Hashable {
    /// The file or folder.
    public let path: String
    /// What failed, and the system's reason when there is one.
    public let reason: String

    /// - Parameters:
    ///   - path: the file or folder.
    ///   - what: what failed, e.g. `cannot create it`.
    ///   - errno: the system's error number, when there is one.
    public init(_ path: String, _ what: String, errno code: Int32? = nil) {
        self.path = path
        reason = code.map { "\(what): \(String(cString: strerror($0)))" } ?? what
    }

    /// `PATH: reason`.
    public var description: String { "\(path): \(reason)" }
}
