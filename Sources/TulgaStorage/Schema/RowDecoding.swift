public import Foundation
public import TulgaCore

/// Storage's own failures.
public enum StorageErrorCode: String, ErrorCode {
    /// A stored row has a missing or impossible value.
    case damagedRow = "damaged_row"
    /// The audit log does not verify, so no checkpoint is signed over it.
    case auditBroken = "audit_broken"
    /// Always ``ProblemKind/internalError``.
    public var kind: ProblemKind { .internalError }
}

/// A storage failure that is not the database's own (see ``DatabaseFailure``).
public typealias StorageError = CodedError<StorageErrorCode>

/// Throwing accessors, so a record's initializer from a row fails on a damaged row instead of
/// inventing a plausible default (GRDB's record practice). `C` is a record's `Columns` enum.
///
/// ```swift
/// enum Columns: String { case failures, running, state }
/// let counter = AttemptCounter(failures: try row.int(Columns.failures), running: try row.int(Columns.running))
/// let state = try row.value(Columns.state, as: AttemptState.self)
/// ```
extension SQLRow {
    func required<C: RawRepresentable, T>(_ c: C, _ what: String, _ get: (SQLValue) -> T?, _ fileID: String, _ line: Int) throws -> T
    where C.RawValue == String {
        guard let v = get(self[c.rawValue]) else { throw StorageError(.damagedRow, "column \(c.rawValue) \(what)", fileID: fileID, line: line) }
        return v
    }

    func optional<C: RawRepresentable, T>(_ c: C, _ what: String, _ get: (SQLValue) -> T?, _ fileID: String, _ line: Int) throws -> T?
    where C.RawValue == String {
        self[c.rawValue].isNull ? nil : try required(c, what, get, fileID, line)
    }

    /// A non-null text column.
    ///
    /// - Parameters:
    ///   - c: the column, from the record's `Columns` enum.
    ///   - fileID: the caller's file, for the error; leave the default.
    ///   - line: the caller's line, for the error; leave the default.
    /// - Throws: ``StorageError`` `.damagedRow` if the column is null or not text.
    public func text<C: RawRepresentable>(_ c: C, fileID: String = #fileID, line: Int = #line) throws -> String where C.RawValue == String {
        try required(c, "is not text", \.text, fileID, line)
    }

    /// A nullable text column (a value of another type is still an error).
    ///
    /// - Parameters:
    ///   - c: the column, from the record's `Columns` enum.
    ///   - fileID: the caller's file, for the error; leave the default.
    ///   - line: the caller's line, for the error; leave the default.
    /// - Returns: The text, or `nil` for SQL `NULL`.
    /// - Throws: ``StorageError`` `.damagedRow` if the column holds something other than text or null.
    public func optionalText<C: RawRepresentable>(_ c: C, fileID: String = #fileID, line: Int = #line) throws -> String? where C.RawValue == String {
        try optional(c, "is not text", \.text, fileID, line)
    }

    /// A non-null number column.
    ///
    /// - Parameters:
    ///   - c: the column, from the record's `Columns` enum.
    ///   - fileID: the caller's file, for the error; leave the default.
    ///   - line: the caller's line, for the error; leave the default.
    /// - Throws: ``StorageError`` `.damagedRow` if the column is null or not a number.
    public func double<C: RawRepresentable>(_ c: C, fileID: String = #fileID, line: Int = #line) throws -> Double where C.RawValue == String {
        try required(c, "is not a number", \.double, fileID, line)
    }

    /// A nullable number column.
    ///
    /// - Parameters:
    ///   - c: the column, from the record's `Columns` enum.
    ///   - fileID: the caller's file, for the error; leave the default.
    ///   - line: the caller's line, for the error; leave the default.
    /// - Returns: The number, or `nil` for SQL `NULL`.
    /// - Throws: ``StorageError`` `.damagedRow` if the column holds something other than a number or null.
    public func optionalDouble<C: RawRepresentable>(_ c: C, fileID: String = #fileID, line: Int = #line) throws -> Double? where C.RawValue == String {
        try optional(c, "is not a number", \.double, fileID, line)
    }

    /// A non-null integer column.
    ///
    /// - Parameters:
    ///   - c: the column, from the record's `Columns` enum.
    ///   - fileID: the caller's file, for the error; leave the default.
    ///   - line: the caller's line, for the error; leave the default.
    /// - Throws: ``StorageError`` `.damagedRow` if the column is null or not an integer.
    public func int<C: RawRepresentable>(_ c: C, fileID: String = #fileID, line: Int = #line) throws -> Int where C.RawValue == String {
        try required(c, "is not an integer", \.int, fileID, line)
    }

    /// A 0/1 column.
    ///
    /// - Parameters:
    ///   - c: the column, from the record's `Columns` enum.
    ///   - fileID: the caller's file, for the error; leave the default.
    ///   - line: the caller's line, for the error; leave the default.
    /// - Throws: ``StorageError`` `.damagedRow` if the column is null or not 0 or 1.
    public func bool<C: RawRepresentable>(_ c: C, fileID: String = #fileID, line: Int = #line) throws -> Bool where C.RawValue == String {
        try required(c, "is not 0 or 1", { $0.int == 0 ? false : $0.int == 1 ? true : nil }, fileID, line)
    }

    /// A nullable blob column.
    ///
    /// - Parameters:
    ///   - c: the column, from the record's `Columns` enum.
    ///   - fileID: the caller's file, for the error; leave the default.
    ///   - line: the caller's line, for the error; leave the default.
    /// - Returns: The bytes, or `nil` for SQL `NULL`.
    /// - Throws: ``StorageError`` `.damagedRow` if the column holds something other than a blob or null.
    public func optionalBlob<C: RawRepresentable>(_ c: C, fileID: String = #fileID, line: Int = #line) throws -> Data? where C.RawValue == String {
        try optional(c, "is not a blob", \.blob, fileID, line)
    }

    /// A non-null blob column.
    ///
    /// - Parameters:
    ///   - c: the column, from the record's `Columns` enum.
    ///   - fileID: the caller's file, for the error; leave the default.
    ///   - line: the caller's line, for the error; leave the default.
    /// - Returns: The bytes.
    /// - Throws: ``StorageError`` `.damagedRow` if the column is null or holds something other than a blob.
    public func blob<C: RawRepresentable>(_ c: C, fileID: String = #fileID, line: Int = #line) throws -> Data where C.RawValue == String {
        guard let data = try optionalBlob(c, fileID: fileID, line: line) else {
            throw StorageError(.damagedRow, "column \(c.rawValue) is null", fileID: fileID, line: line)
        }
        return data
    }

    /// A text column holding one of an enum's raw values.
    ///
    /// - Parameters:
    ///   - c: the column, from the record's `Columns` enum.
    ///   - type: the enum to decode, e.g. `AttemptState.self`.
    ///   - fileID: the caller's file, for the error; leave the default.
    ///   - line: the caller's line, for the error; leave the default.
    /// - Throws: ``StorageError`` `.damagedRow` if the column is null or holds no raw value of `E`.
    public func value<C: RawRepresentable, E: RawRepresentable>(_ c: C, as type: E.Type, fileID: String = #fileID, line: Int = #line) throws -> E
    where C.RawValue == String, E.RawValue == String {
        try required(c, "holds no known \(E.self) value (\(self[c.rawValue]))", { $0.text.flatMap(E.init(rawValue:)) }, fileID, line)
    }
}
