import NIOCore
import TulgaCore

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

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
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
