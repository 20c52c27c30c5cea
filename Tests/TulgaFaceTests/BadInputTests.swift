import Foundation
import Testing
import TulgaFace
import TulgaFaceModel
import TulgaCore

@Suite("Bad input gets a specific error, never a crash")
struct BadInputTests {
    @Test func zeroBytes() {
        let error = faceError { _ = try Image(decoding: Data()) }
        #expect(error?.code == .emptyInput)
        #expect(error?.reason.contains("0 bytes") == true)
    }

    @Test func truncatedJPEG() throws {
        let full = try read(Paths.photo("obama.jpg"))
        for fraction in [0.5, 0.9, 0.999] {
            let cut = full.prefix(Int(Double(full.count) * fraction))
            let error = faceError { _ = try Image(decoding: Data(cut)) }
            #expect(error?.code == .truncated, "cut at \(fraction): \(String(describing: error))")
        }
        // Cut inside the header, before the frame size is known.
        #expect(faceError { _ = try Image(decoding: Data(full.prefix(100))) }?.code == .truncated)
    }

    @Test func truncatedPNG() throws {
        let full = try read(Paths.photo("32bit.png"))
        #expect(faceError { _ = try Image(decoding: Data(full.prefix(full.count / 2))) }?.code == .truncated)
        #expect(faceError { _ = try Image(decoding: Data(full.prefix(20))) }?.code == .truncated)
    }

    @Test func randomBytesNamedJPG() throws {
        var generator = SystemRandomNumberGenerator()
        let bytes = Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }).dropFirst(0)
        var data = Data(bytes)
        data[0] = 0x00  // never a JPEG or PNG signature by chance
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("random-\(UUID()).jpg")
        try data.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let error = faceError { _ = try Image(contentsOf: file.path) }
        #expect(error?.code == .unsupportedFormat)
        #expect(error?.reason.contains("not a JPEG or PNG") == true)
    }

    @Test func corruptScanData() throws {
        var data = try read(Paths.photo("obama.jpg"))
        // Keep the headers and the end marker, overwrite the middle of the scan with junk.
        let start = data.count / 3
        for i in start..<(start + 20_000) { data[i] = UInt8(truncatingIfNeeded: i * 7919) }
        // libjpeg may recover with a damaged picture or refuse it; either way no crash and no face mismatch crash.
        if let error = faceError({ _ = try Image(decoding: data) }) {
            #expect(error.code == .decodeFailed)
        }
    }

    @Test("a header announcing 30000x30000 is refused before decoding")
    func hugeDimensions() throws {
        var data = try read(Paths.photo("obama.jpg"))
        let sof = try #require(Self.sofOffset(data))
        for (offset, value) in [(sof + 5, 30000), (sof + 7, 30000)] {
            data[offset] = UInt8(value >> 8)
            data[offset + 1] = UInt8(value & 0xFF)
        }
        let info = try ImageInfo(probing: data)
        #expect(info.width == 30000 && info.height == 30000)
        let error = faceError { _ = try Image(decoding: data) }
        #expect(error?.code == .tooLarge)
        #expect(error?.reason.contains("30000x30000") == true)
        // The limit is configurable.
        #expect(faceError { _ = try Image(decoding: try read(Paths.photo("obama.jpg")), limits: DecodeLimits(maxPixels: 1_000_000)) }?.code == .tooLarge)
    }

    @Test func oversizedFile() {
        let error = faceError { _ = try Image(decoding: Data(count: 2048), limits: DecodeLimits(maxBytes: 1024)) }
        #expect(error?.code == .tooLarge)
    }

    @Test("a 32-bit PNG with alpha decodes and has a face")
    func pngWithAlpha() async throws {
        let data = try read(Paths.photo("32bit.png"))
        let info = try ImageInfo(probing: data)
        #expect(info.format == .png && info.channels == 4 && info.bitDepth == 8)
        let image = try Image(decoding: data)
        #expect(image.width == 626 && image.height == 1200)
        let analysis = try await Shared.instance.engine().analyze(image)
        #expect(analysis.faces.count == 1)
    }

    @Test("16-bit and 8-bit-with-alpha PNGs made here decode to the same face")
    func pngVariants() async throws {
        let engine = try await Shared.instance.engine()
        let source = try Image(contentsOf: Paths.photo("obama.jpg"))
        let base = try await Shared.instance.embedding(Paths.photo("obama.jpg"))
        for (depth, alpha) in [(16, false), (16, true), (8, true)] {
            let png = try source.pngData(bitDepth: depth, alpha: alpha)
            let info = try ImageInfo(probing: png)
            #expect(info.bitDepth == depth && info.channels == (alpha ? 4 : 3))
            let decoded = try Image(decoding: png)
            let analysis = try await engine.analyze(decoded)
            let face = try #require(analysis.faces.first)
            let embedding = try await engine.embed(face.face, in: decoded)
            #expect(embedding.cosine(base) > 0.9, "\(depth)-bit alpha=\(alpha)")
        }
    }

    @Test("large JPEGs decode with libjpeg DCT scaling")
    func dctScaling() throws {
        let data = try read(Paths.photo("obama3.jpg"))  // 1434x2333
        let reduced = try Image(decoding: data, limits: DecodeLimits(minLongSide: 640))
        #expect(reduced.decodeScale == 2)
        #expect(reduced.width == 717 && reduced.height == 1167)
        let eighth = try Image(decoding: data, limits: DecodeLimits(minLongSide: 200))
        #expect(eighth.decodeScale == 8)
        let full = try Image(decoding: data, limits: DecodeLimits(minLongSide: 0))
        #expect(full.decodeScale == 1 && full.width == 1434)
    }

    static func sofOffset(_ data: Data) -> Int? {
        var i = 2
        let bytes = [UInt8](data)
        while i + 4 < bytes.count {
            guard bytes[i] == 0xFF else { return nil }
            let marker = bytes[i + 1]
            if (0xC0...0xC3).contains(marker) { return i }
            i += 2 + (Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]))
        }
        return nil
    }
}

@Suite("Unusable photos are named with a reason")
struct UnusableTests {
    func verify(_ reference: Image, _ probe: Image, largest: Bool = false) async throws -> PhotoComparisonOutcome {
        let engine = try await Shared.instance.engine()
        return try await engine.withEngine {
            try $0.compare(reference: reference, probe: probe, options: PhotoComparisonOptions(threshold: 0.363, largestReferenceFace: largest))
        }
    }

    @Test func noFace() async throws {
        let obama = try Image(contentsOf: Paths.photo("obama.jpg"))
        // A flat grey picture of the same size.
        let blank = try obama.adjusted(gain: 0, bias: 128)
        let outcome = try await verify(obama, blank)
        #expect(outcome == .unusable(.probe, [.noFace]))
    }

    @Test func severalFacesInProbe() async throws {
        let obama = try Image(contentsOf: Paths.photo("obama.jpg"))
        let group = try obama.sideBySide(with: Image(contentsOf: Paths.photo("biden.jpg")), height: 800)
        let analysis = try await Shared.instance.engine().analyze(group)
        #expect(analysis.faces.count == 2)
        guard case .unusable(.probe, let issues) = try await verify(obama, group) else { Issue.record("expected unusable"); return }
        #expect(issues.contains(.severalFaces))
    }

    @Test("a reference with several faces is refused unless the largest face is asked for")
    func severalFacesInReference() async throws {
        let obama = try Image(contentsOf: Paths.photo("obama.jpg"))
        let biden = try Image(contentsOf: Paths.photo("biden.jpg")).resized(width: 485, height: 1102)
        let group = try obama.sideBySide(with: biden, height: 1137)
        guard case .unusable(.reference, let issues) = try await verify(group, obama) else { Issue.record("expected unusable"); return }
        #expect(issues == [.severalFaces])
        guard case .compared(let comparison, _, _) = try await verify(group, try Image(contentsOf: Paths.photo("obama2.jpg")), largest: true) else {
            Issue.record("expected a comparison"); return
        }
        #expect(comparison.decision == .match)
    }

    @Test func faceTooSmall() async throws {
        let small = try Image(contentsOf: Paths.photo("obama.jpg")).resized(width: 140, height: 175)
        guard case .unusable(.probe, let issues) = try await verify(try Image(contentsOf: Paths.photo("obama2.jpg")), small) else {
            Issue.record("expected unusable"); return
        }
        #expect(issues.contains(.tooSmall) || issues == [.noFace])
    }

    @Test func tooDark() async throws {
        let obama = try Image(contentsOf: Paths.photo("obama.jpg"))
        let dark = try obama.adjusted(gain: 0.18)
        guard case .unusable(.probe, let issues) = try await verify(obama, dark) else { Issue.record("expected unusable"); return }
        #expect(issues.contains(.tooDark))
    }

    @Test func tooBlurred() async throws {
        let obama = try Image(contentsOf: Paths.photo("obama.jpg"))
        let blurred = try obama.adjusted(blurSigma: 9)
        guard case .unusable(.probe, let issues) = try await verify(obama, blurred) else { Issue.record("expected unusable"); return }
        #expect(issues.contains(.blurred))
    }

    @Test func missingModel() {
        var config = FaceConfig(modelsDirectory: "/nonexistent")
        config.detectorModel = "none.onnx"
        let error = faceError { _ = try FaceEngine(config: config) }
        #expect(error?.code == .modelUnavailable)
        #expect(error?.reason.contains("/nonexistent/none.onnx") == true)
    }
}

extension PhotoComparisonOutcome {
    static func == (lhs: PhotoComparisonOutcome, rhs: PhotoComparisonOutcome) -> Bool {
        switch (lhs, rhs) {
        case let (.unusable(a, x), .unusable(b, y)): a == b && x == y
        case let (.compared(a, _, _), .compared(b, _, _)): a == b
        default: false
        }
    }
}
