public import Foundation
public import TulgaCore

/// Storage's own failures.
public enum StorageErrorCode: String, ErrorCode {
    /// A stored row has a missing or impossible value.
    case damagedRow = "damaged_row"
    public var kind: ProblemKind { .internalError }
}

/// A storage failure that is not the database's own (see ``DatabaseFailure``).
public typealias StorageError = CodedError<StorageErrorCode>

/// Throwing accessors, so a record's initializer from a row fails on a damaged row instead of
/// inventing a plausible default (GRDB's record practice). `C` is a record's `Columns` enum.
extension SQLRow {
    func damaged(_ column: String, _ what: String, fileID: String, line: Int) -> StorageError {
        StorageError(.damagedRow, "column \(column) \(what)", fileID: fileID, line: line)
    }

    /// A non-null text column.
    public func text<C: RawRepresentable>(_ c: C, fileID: String = #fileID, line: Int = #line) throws -> String where C.RawValue == String {
        guard let v = self[c.rawValue].text else { throw damaged(c.rawValue, "is not text", fileID: fileID, line: line) }
        return v
    }

    /// A nullable text column (a value of another type is still an error).
    public func optionalText<C: RawRepresentable>(_ c: C, fileID: String = #fileID, line: Int = #line) throws -> String? where C.RawValue == String {
        let v = self[c.rawValue]
        if v.isNull { return nil }
        guard let t = v.text else { throw damaged(c.rawValue, "is not text", fileID: fileID, line: line) }
        return t
    }

    /// A non-null number column.
    public func double<C: RawRepresentable>(_ c: C, fileID: String = #fileID, line: Int = #line) throws -> Double where C.RawValue == String {
        guard let v = self[c.rawValue].double else { throw damaged(c.rawValue, "is not a number", fileID: fileID, line: line) }
        return v
    }

    /// A nullable number column.
    public func optionalDouble<C: RawRepresentable>(_ c: C, fileID: String = #fileID, line: Int = #line) throws -> Double? where C.RawValue == String {
        let v = self[c.rawValue]
        if v.isNull { return nil }
        guard let d = v.double else { throw damaged(c.rawValue, "is not a number", fileID: fileID, line: line) }
        return d
    }

    /// A non-null integer column.
    public func int<C: RawRepresentable>(_ c: C, fileID: String = #fileID, line: Int = #line) throws -> Int where C.RawValue == String {
        guard let v = self[c.rawValue].int else { throw damaged(c.rawValue, "is not an integer", fileID: fileID, line: line) }
        return v
    }

    /// A 0/1 column.
    public func bool<C: RawRepresentable>(_ c: C, fileID: String = #fileID, line: Int = #line) throws -> Bool where C.RawValue == String {
        switch try int(c, fileID: fileID, line: line) {
        case 0: return false
        case 1: return true
        default: throw damaged(c.rawValue, "is not 0 or 1", fileID: fileID, line: line)
        }
    }

    /// A nullable blob column.
    public func optionalBlob<C: RawRepresentable>(_ c: C, fileID: String = #fileID, line: Int = #line) throws -> Data? where C.RawValue == String {
        let v = self[c.rawValue]
        if v.isNull { return nil }
        guard let b = v.blob else { throw damaged(c.rawValue, "is not a blob", fileID: fileID, line: line) }
        return b
    }

    /// A text column holding one of an enum's raw values.
    public func value<C: RawRepresentable, E: RawRepresentable>(_ c: C, as type: E.Type, fileID: String = #fileID, line: Int = #line) throws -> E
    where C.RawValue == String, E.RawValue == String {
        let raw = try text(c, fileID: fileID, line: line)
        guard let v = E(rawValue: raw) else { throw damaged(c.rawValue, "holds the unknown value '\(raw)'", fileID: fileID, line: line) }
        return v
    }
}
