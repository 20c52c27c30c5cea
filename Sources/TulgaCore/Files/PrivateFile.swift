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
    /// - Throws: ``FileFailure`` naming the file and the system's reason.
    public static func create(_ path: String, _ data: Data, mode: mode_t = 0o600) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileFailure(path, "cannot create it", errno: errno) }
        let ok = writeAll(fd, data) && fsync(fd) == 0
        let error = errno
        close(fd)
        guard ok else { unlink(path); throw FileFailure(path, "cannot write it", errno: error) }
        syncFolder(of: path)
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
        let folder = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        var suffix = [UInt8](repeating: 0, count: 6)
        var generator = SystemRandomNumberGenerator()
        for i in suffix.indices { suffix[i] = generator.next() }
        let temporary = (folder.isEmpty ? "" : folder + "/") + "." + name + ".tmp-" + suffix.map { String(format: "%02x", $0) }.joined()
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

    /// Reads a whole small file, refusing a symbolic link, a non-regular file and anything over `limit` bytes.
    ///
    /// - Parameters:
    ///   - path: the file.
    ///   - limit: the largest size accepted.
    /// - Returns: The content, or `nil` if there is no such file.
    /// - Throws: ``FileFailure`` if it exists but cannot be read, is not a regular file, or is too large.
    public static func read(_ path: String, limit: Int = 1 << 20) throws -> Data? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw FileFailure(path, "cannot open it", errno: errno)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { throw FileFailure(path, "is not a regular file") }
        guard Int(info.st_size) <= limit else { throw FileFailure(path, "is larger than \(limit) bytes") }
        var data = Data(count: Int(info.st_size))
        let n = data.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
        guard n == Int(info.st_size) else { throw FileFailure(path, "cannot read it", errno: errno) }
        return data
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
