import NIOConcurrencyHelpers
import NIOCore
import TulgaCore

/// Where a connection is around STARTTLS. Bytes the server sends after its reply to STARTTLS and
/// before TLS is in place are not replies but an injection (a man in the middle answering for the
/// server): the decoder refuses them instead of handing them on as answers to later commands.
final class STARTTLSGate: Sendable {
    enum Phase: Sendable { case plain, awaitingReply, awaitingTLS, secured }
    let phase = NIOLockedValueBox(Phase.plain)
    static let injected = "the server sent data after its STARTTLS reply, before TLS: refused (a man in the middle?)"
}

/// One SMTP reply: its code and its text lines (the capability lines of EHLO, say).
struct SMTPReply: Sendable, Hashable {
    /// 200 to 599.
    var code: Int
    /// The text after each line's code and separator.
    var lines: [String]
}

/// Bytes to replies: CRLF (or LF) lines `NNN-text` continue, `NNN text` ends a reply. A line
/// longer than ``maxLine`` bytes, a reply of more than ``maxLines`` lines, or a line that is
/// not SMTP is an error: a server cannot make us buffer without bound.
struct SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReply
    static let maxLine = 2048, maxLines = 100
    var lines: [String] = []
    var gate = STARTTLSGate()

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if gate.phase.withLockedValue({ $0 == .awaitingTLS }), buffer.readableBytes > 0 { throw MailError(.tls, STARTTLSGate.injected) }
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > Self.maxLine { throw MailError(.protocolError, "a reply line is longer than \(Self.maxLine) bytes") }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex + 1
        guard length <= Self.maxLine, let bytes = buffer.readBytes(length: length) else {
            throw MailError(.protocolError, "a reply line is longer than \(Self.maxLine) bytes")
        }
        var line = String(decoding: bytes.dropLast(), as: UTF8.self)
        if line.hasSuffix("\r") { line.removeLast() }
        let separator = line.dropFirst(3).first
        guard let code = Int(line.prefix(3)), (200...599).contains(code), separator == nil || separator == " " || separator == "-" else {
            throw MailError(.protocolError, "the server sent a line that is not an SMTP reply")
        }
        lines.append(String(line.dropFirst(4)))
        guard lines.count <= Self.maxLines else { throw MailError(.protocolError, "a reply longer than \(Self.maxLines) lines") }
        if separator != "-" {
            // The reply to STARTTLS must be the last plaintext the server sends.
            let afterSTARTTLS = gate.phase.withLockedValue { phase in
                guard phase == .awaitingReply else { return false }
                phase = .awaitingTLS
                return true
            }
            if afterSTARTTLS, buffer.readableBytes > 0 { throw MailError(.tls, STARTTLSGate.injected) }
            context.fireChannelRead(wrapInboundOut(SMTPReply(code: code, lines: lines)))
            lines = []
        }
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        .needMoreData
    }
}

/// Turns the idle handler's read timeout into an error on the channel, and closes it.
final class ReplyTimeoutHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let seconds: Double
    init(seconds: Double) { self.seconds = seconds }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.fireChannelRead(data) }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.fireErrorCaught(MailError(.timeout, "no reply from the server within \(Int(seconds)) s"))
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
