public import TulgaCore
import CTulgaDocument
import TulgaMRZ
import Synchronization

/// A page found in a photo and warped flat: packed BGR, long side horizontal.
struct FlatPage {
    var pixels: [UInt8]
    let width: Int, height: Int
    /// The page's corners in the photo (top-left, top-right, bottom-right, bottom-left).
    let corners: [Double]

    mutating func turnAround() {
        pixels.withUnsafeMutableBufferPointer { td_rotate_180($0.baseAddress, Int32(width), Int32(height)) }
    }
}

/// What the shim reports: a refusal code, or (nil) an unreadable band, with its message.
struct NativeFailure: Error {
    let code: DocumentErrorCode?
    let reason: String
    static func refused(_ code: DocumentErrorCode, _ reason: String) -> NativeFailure { NativeFailure(code: code, reason: reason) }
    static func unreadable(_ reason: String) -> NativeFailure { NativeFailure(code: nil, reason: reason) }
}

@inline(__always)
private func call(_ body: (UnsafeMutablePointer<td_error>) -> td_status) throws(NativeFailure) {
    var error = td_error()
    let status = body(&error)
    guard status == TD_OK else {
        if status == TD_ERR_UNREADABLE { throw .unreadable(message(error)) }
        throw .refused(documentCode(status), message(error))
    }
}

/// Finds the page in packed BGR pixels and warps it flat (`outWidth` wide; 0: the reader's size).
func findPage(bgr: [UInt8], width: Int, height: Int, outWidth: Int = 0) throws(NativeFailure) -> FlatPage {
    var quad = td_quad()
    var out: UnsafeMutablePointer<UInt8>?
    var w: Int32 = 0, h: Int32 = 0
    try bgr.withUnsafeBufferPointer { (buffer) throws(NativeFailure) in
        try call { td_find_document(buffer.baseAddress, Int32(width), Int32(height), Int32(outWidth), &quad, &out, &w, &h, $0) }
    }
    guard let out else { throw .refused(.internalError, "the shim returned no page") }
    defer { td_buffer_free(out) }
    let pixels = Array(UnsafeBufferPointer(start: out, count: Int(w) * Int(h) * 3))
    let corners = withUnsafeBytes(of: quad.xy) { Array($0.bindMemory(to: Float.self)).map(Double.init) }
    return FlatPage(pixels: pixels, width: Int(w), height: Int(h), corners: corners)
}

/// The MRZ band of a flat page and its line count (2 or 3).
func findZone(_ page: FlatPage) throws(NativeFailure) -> (band: td_box, lines: Int) {
    var band = td_box()
    var lines: Int32 = 0
    try page.pixels.withUnsafeBufferPointer { (buffer) throws(NativeFailure) in
        try call { td_find_mrz(buffer.baseAddress, Int32(page.width), Int32(page.height), &band, &lines, $0) }
    }
    return (band, Int(lines))
}

/// Tesseract, loaded once, used by one caller at a time.
///
/// Safe to share: `handle` is used only inside `lock` and never changes after init.
public final class MRZReader: @unchecked Sendable {
    private let handle: OpaquePointer
    private let lock = Mutex(())

    /// Loads Tesseract's English data.
    ///
    /// - Parameter tessdata: the tessdata folder; nil uses `$TESSDATA_PREFIX` or Tesseract's compiled-in path.
    /// - Throws: ``DocumentError`` `.ocrUnavailable` if Tesseract or its data cannot be loaded.
    public init(tessdata: String? = nil) throws(DocumentError) {
        var out: OpaquePointer?
        var error = td_error()
        let status = td_ocr_create(tessdata, &out, &error)
        guard status == TD_OK, let out else { throw DocumentError(documentCode(status), message(error)) }
        handle = out
    }

    deinit { td_ocr_free(handle) }

    /// The band's lines as read, one string per line (a cell nothing could read is `?`), and a
    /// second reading of the same cells from the grey strokes.
    func read(_ page: FlatPage, band: td_box, lines: Int) throws(NativeFailure) -> (lines: [String], second: [String]) {
        let length = lines == 3 ? MRZFormat.td1.lineLength : MRZFormat.td3.lineLength
        var text = [CChar](repeating: 0, count: 256), second = [CChar](repeating: 0, count: 256)
        var box = band
        try page.pixels.withUnsafeBufferPointer { (buffer) throws(NativeFailure) in
            try text.withUnsafeMutableBufferPointer { (out) throws(NativeFailure) in
                try second.withUnsafeMutableBufferPointer { (other) throws(NativeFailure) in
                    try lock.withLock { _ throws(NativeFailure) in
                        try call {
                            td_ocr_read_mrz(handle, buffer.baseAddress, Int32(page.width), Int32(page.height), &box, Int32(lines), Int32(length),
                                            out.baseAddress, other.baseAddress, out.count, $0)
                        }
                    }
                }
            }
        }
        func split(_ chars: [CChar]) -> [String] {
            String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: "\n").map(String.init)
        }
        return (split(text), split(second))
    }
}
