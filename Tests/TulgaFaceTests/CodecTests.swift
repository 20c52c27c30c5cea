import Foundation
import Testing
import TulgaFace

/// PNGs built byte by byte (stored deflate blocks, real CRCs), so every colour type and depth
/// libpng must handle is covered without fixture files.
enum PNGBuilder {
    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        ~bytes.reduce(~UInt32(0)) { crcTable[Int(($0 ^ UInt32($1)) & 0xFF)] ^ ($0 >> 8) }
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }

    /// zlib with stored (uncompressed) blocks.
    static func zlib(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = min(65535, data.count - offset)
            let final: UInt8 = offset + n == data.count ? 1 : 0
            out += [final, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[offset..<(offset + n)]
            offset += n
        } while offset < data.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in data { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        return out + be32(b << 16 | a)
    }

    /// rows: each row's raw bytes (without the filter byte).
    static func png(width: Int, height: Int, bitDepth: UInt8, colorType: UInt8, rows: [[UInt8]], palette: [UInt8]? = nil,
                    transparency: [UInt8]? = nil, iend: Bool = true) -> Data {
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        bytes += chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [bitDepth, colorType, 0, 0, 0])
        if let palette { bytes += chunk("PLTE", palette) }
        if let transparency { bytes += chunk("tRNS", transparency) }
        bytes += chunk("IDAT", zlib(rows.flatMap { [0] + $0 }))
        if iend { bytes += chunk("IEND", []) }
        return Data(bytes)
    }
}

@Suite("JPEG and PNG through libjpeg-turbo and libpng")
struct CodecTests {
    /// The BGR triple at pixel x of the first row.
    func pixel(_ image: Image, _ x: Int, row: Int = 0) throws -> [UInt8] {
        let bytes = try image.bgrBytes()
        let i = (row * image.width + x) * 3
        return Array(bytes[i..<(i + 3)])
    }

    @Test("8-bit grey becomes equal B, G and R")
    func grey8() throws {
        let image = try Image(decoding: PNGBuilder.png(width: 4, height: 1, bitDepth: 8, colorType: 0, rows: [[0, 64, 128, 255]]))
        #expect(image.width == 4 && image.height == 1)
        #expect(try pixel(image, 1) == [64, 64, 64])
        #expect(try pixel(image, 3) == [255, 255, 255])
    }

    @Test("1-bit grey expands to 0 and 255")
    func grey1() throws {
        let image = try Image(decoding: PNGBuilder.png(width: 8, height: 1, bitDepth: 1, colorType: 0, rows: [[0b1000_0001]]))
        #expect(try pixel(image, 0) == [255, 255, 255])
        #expect(try pixel(image, 1) == [0, 0, 0])
    }

    @Test("16-bit grey is scaled to 8 bits")
    func grey16() throws {
        let image = try Image(decoding: PNGBuilder.png(width: 2, height: 1, bitDepth: 16, colorType: 0, rows: [[0x80, 0x00, 0xFF, 0xFF]]))
        #expect(try pixel(image, 0) == [128, 128, 128])
        #expect(try pixel(image, 1) == [255, 255, 255])
    }

    @Test("grey with alpha and RGBA drop the alpha; RGB comes out as BGR")
    func alpha() throws {
        let grey = try Image(decoding: PNGBuilder.png(width: 1, height: 1, bitDepth: 8, colorType: 4, rows: [[90, 0]]))
        #expect(try pixel(grey, 0) == [90, 90, 90])
        let rgba = try Image(decoding: PNGBuilder.png(width: 1, height: 1, bitDepth: 8, colorType: 6, rows: [[10, 20, 30, 7]]))
        #expect(try pixel(rgba, 0) == [30, 20, 10])
    }

    @Test("palette PNGs at 8 and 4 bits")
    func palette() throws {
        let colours: [UInt8] = [255, 0, 0, 0, 0, 255]  // red, blue
        let eight = try Image(decoding: PNGBuilder.png(width: 2, height: 1, bitDepth: 8, colorType: 3, rows: [[0, 1]], palette: colours))
        #expect(try pixel(eight, 0) == [0, 0, 255])
        #expect(try pixel(eight, 1) == [255, 0, 0])
        let four = try Image(decoding: PNGBuilder.png(width: 2, height: 1, bitDepth: 4, colorType: 3, rows: [[0x10]], palette: colours))
        #expect(try pixel(four, 0) == [255, 0, 0])
        #expect(try pixel(four, 1) == [0, 0, 255])
        // A tRNS chunk makes the palette's expansion carry alpha, dropped like any other.
        let clear = try Image(decoding: PNGBuilder.png(width: 2, height: 1, bitDepth: 8, colorType: 3, rows: [[0, 1]], palette: colours,
                                                       transparency: [0]))
        #expect(try pixel(clear, 0) == [0, 0, 255])
    }

    @Test("a PNG without IEND is truncated")
    func missingIEND() {
        let data = PNGBuilder.png(width: 4, height: 1, bitDepth: 8, colorType: 0, rows: [[1, 2, 3, 4]], iend: false)
        let error = faceError { _ = try Image(decoding: data) }
        #expect(error?.code == .truncated)
        #expect(error?.reason.contains("IEND") == true)
    }

    @Test("a damaged PNG chunk is a decode failure naming libpng's reason")
    func badCRC() {
        var data = PNGBuilder.png(width: 4, height: 1, bitDepth: 8, colorType: 0, rows: [[1, 2, 3, 4]])
        data[data.count - 20] ^= 0xFF  // inside IDAT: its CRC no longer matches
        let error = faceError { _ = try Image(decoding: data) }
        #expect(error?.code == .decodeFailed)
        #expect(error?.reason.hasPrefix("PNG: the codec could not decode the data") == true)
    }

    @Test("a PNG header announcing 100000x100000 is refused before anything is allocated")
    func hugePNG() {
        // 10^10 grey pixels would need 30 GB as BGR: only the header check can answer tooLarge here.
        let data = PNGBuilder.png(width: 100_000, height: 100_000, bitDepth: 8, colorType: 0, rows: [[0]])
        let error = faceError { _ = try Image(decoding: data) }
        #expect(error?.code == .tooLarge)
        #expect(error?.reason.contains("100000x100000") == true)
    }

    @Test("zero bytes and a GIF are refused by type")
    func zeroAndWrongType() {
        #expect(faceError { _ = try Image(decoding: Data()) }?.code == .emptyInput)
        #expect(faceError { _ = try Image(decoding: Data("GIF89a\u{1}\0\u{1}\0".utf8)) }?.code == .unsupportedFormat)
    }

    @Test("a JPEG cut short is truncated at every cut, header or scan")
    func truncatedJPEG() throws {
        let full = try Data(contentsOf: URL(fileURLWithPath: Paths.photo("obama2.jpg")))
        for fraction in [0.01, 0.3, 0.7, 0.99] {
            let error = faceError { _ = try Image(decoding: full.prefix(Int(Double(full.count) * fraction))) }
            #expect(error?.code == .truncated, "cut at \(fraction)")
        }
    }

    @Test("JPEG and PNG written here decode back to the same pixels (PNG) or close (JPEG)")
    func roundTrip() throws {
        let source = try Image(contentsOf: Paths.photo("obama.jpg"), limits: DecodeLimits(minLongSide: 0))
        let original = try source.bgrBytes()
        let png = try Image(decoding: source.pngData())
        #expect(try png.bgrBytes() == original)
        let jpeg = try Image(decoding: source.jpegData(quality: 95), limits: DecodeLimits(minLongSide: 0))
        #expect(jpeg.width == source.width && jpeg.height == source.height)
        let decoded = try jpeg.bgrBytes()
        let meanError = zip(original, decoded).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(original.count)
        #expect(meanError < 3)
    }

    @Test("DCT scaling by 1/4 gives the quarter size libjpeg computes (ceil)")
    func quarter() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Paths.photo("obama.jpg")))  // 910x1137
        let image = try Image(decoding: data, limits: DecodeLimits(minLongSide: 250))
        #expect(image.decodeScale == 4)
        #expect(image.width == 228 && image.height == 285)
    }
}
