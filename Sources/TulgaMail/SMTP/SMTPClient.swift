public import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
public import TulgaCore

/// Hands one message at a time to the configured SMTP server over SwiftNIO: EHLO, STARTTLS
/// (required when configured, the certificate verified; EHLO again after it), AUTH PLAIN or
/// LOGIN (never without TLS), MAIL FROM, RCPT TO, DATA, QUIT. Every reply is awaited with the
/// configured timeout, the whole dialogue with four times it; replies are bounded in size.
///
/// ```swift
/// let client = try SMTPClient(settings: configuration.mail)
/// try await client.send(MailMessage(id: id, from: client.from, to: try MailAddress(to), subject: s, body: b, date: clock.date))
/// ```
public struct SMTPClient: Sendable {
    /// The settings it connects with.
    public let settings: MailSettings
    /// The checked sender.
    public let from: MailAddress
    let tls: NIOSSLContext?

    /// Checks the settings and prepares TLS (with ``MailSettings/caFile`` when given).
    ///
    /// - Parameter settings: the `mail` section.
    /// - Throws: ``MailError`` `.credentialsWithoutTLS` for a username without STARTTLS; `.configuration` for
    ///   incomplete settings or an unusable CA file.
    public init(settings: MailSettings) throws(MailError) {
        if !settings.username.isEmpty, !settings.starttls {
            throw MailError(.credentialsWithoutTLS, "mail.username is set but mail.starttls is off: credentials are never sent without TLS")
        }
        var checked = settings
        checked.enabled = true
        if let problem = checked.problems().first { throw MailError(.configuration, problem) }
        self.settings = settings
        do { from = try MailAddress(settings.from) } catch { throw MailError(.configuration, "mail.from: \(error.reason)") }
        guard settings.starttls else { tls = nil; return }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if !settings.caFile.isEmpty { configuration.trustRoots = .file(settings.caFile) }
        do { tls = try NIOSSLContext(configuration: configuration) } catch {
            throw MailError(.configuration, "mail.caFile \(settings.caFile) cannot be used: \(error)")
        }
    }

    /// Delivers `message` in one connection.
    ///
    /// - Parameter message: the message; its recipient was checked when it was queued.
    /// - Throws: ``MailError``: `.connect`, `.timeout`, `.closed`, `.protocolError`, `.tls`,
    ///   `.credentialsWithoutTLS`, `.authentication`, `.passwordFile`, `.deferred` (4xx) or `.refused` (5xx).
    public func send(_ message: MailMessage) async throws(MailError) {
        let password = try settings.password()
        if password != nil, tls == nil {
            throw MailError(.credentialsWithoutTLS, "mail.username is set but mail.starttls is off: credentials are never sent without TLS")
        }
        let millis = Int64(settings.timeoutSeconds * 1000)
        let channel: NIOAsyncChannel<SMTPReply, ByteBuffer>
        let gate = STARTTLSGate()
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(millis))
                .connect(host: settings.host, port: settings.port) { [seconds = settings.timeoutSeconds] channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(IdleStateHandler(readTimeout: .milliseconds(millis)))
                        try pipeline.addHandler(ReplyTimeoutHandler(seconds: seconds))
                        try pipeline.addHandler(ByteToMessageHandler(SMTPReplyDecoder(gate: gate)))
                        return try NIOAsyncChannel<SMTPReply, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch ChannelError.connectTimeout {
            throw MailError(.timeout, "no connection to \(settings.host):\(settings.port) within \(Int(settings.timeoutSeconds)) s")
        } catch {
            throw MailError(.connect, "cannot connect to \(settings.host):\(settings.port): \(Self.describe(error))")
        }
        // However slowly a server trickles its replies, the dialogue ends.
        let deadline = channel.channel.eventLoop.scheduleTask(in: .milliseconds(millis * 4)) { [channel = channel.channel] in
            channel.pipeline.fireErrorCaught(MailError(.timeout, "the dialogue took longer than \(Int(settings.timeoutSeconds * 4)) s"))
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        do {
            try await channel.executeThenClose { inbound, outbound in
                var dialogue = SMTPDialogue(replies: inbound.makeAsyncIterator(), outbound: outbound)
                try await run(&dialogue, channel: channel.channel, gate: gate, message: message, password: password)
            }
        } catch let error as MailError {
            throw error
        } catch {
            throw MailError(.closed, "the connection failed: \(Self.describe(error))")
        }
    }

    func run(_ d: inout SMTPDialogue, channel: any Channel, gate: STARTTLSGate, message: MailMessage, password: [UInt8]?) async throws {
        _ = try await d.reply(step: "the greeting", expect: 220)
        var ehlo = try await d.command("EHLO \(settings.heloName)", step: "EHLO", expect: 250)
        var secured = false
        if let tls {
            guard Self.capabilities(ehlo).contains("STARTTLS") else {
                throw MailError(.tls, "the server does not offer STARTTLS, which mail.starttls requires")
            }
            gate.phase.withLockedValue { $0 = .awaitingReply }
            _ = try await d.command("STARTTLS", step: "STARTTLS", expect: 220)
            // An IP address is checked against the certificate's IP entries; a name goes in SNI too.
            let name = (try? SocketAddress(ipAddress: settings.host, port: 0)) == nil ? settings.host : nil
            // On the event loop, as the decoder: bytes read before this are plaintext (refused), after it they pass TLS.
            try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: name), position: .first)
                gate.phase.withLockedValue { $0 = .secured }
            }.get()
            secured = true
            // What the server offered before TLS counts for nothing.
            ehlo = try await d.command("EHLO \(settings.heloName)", step: "EHLO after STARTTLS", expect: 250)
        }
        if let password {
            guard secured else { throw MailError(.credentialsWithoutTLS, "credentials are never sent without TLS") }
            try await authenticate(&d, mechanisms: Self.authMechanisms(ehlo), password: password)
        }
        _ = try await d.command("MAIL FROM:<\(message.from.value)>", step: "MAIL FROM", expect: 250)
        _ = try await d.command("RCPT TO:<\(message.to.value)>", step: "RCPT TO", expect: 250, also: 251)
        _ = try await d.command("DATA", step: "DATA", expect: 354)
        try await d.outbound.write(ByteBuffer(bytes: message.data()))
        _ = try await d.reply(step: "the end of DATA", expect: 250)
        // Delivered: a failed QUIT changes nothing.
        _ = try? await d.command("QUIT", step: "QUIT", expect: 221)
    }

    func authenticate(_ d: inout SMTPDialogue, mechanisms: Set<String>, password: [UInt8]) async throws {
        let user = Array(settings.username.utf8)
        if mechanisms.contains("PLAIN") {
            let token = Data([0] + user + [0] + password).base64EncodedString()
            _ = try await d.command("AUTH PLAIN " + token, step: "AUTH PLAIN", expect: 235, secret: true)
        } else if mechanisms.contains("LOGIN") {
            _ = try await d.command("AUTH LOGIN", step: "AUTH LOGIN", expect: 334)
            _ = try await d.command(Data(user).base64EncodedString(), step: "AUTH LOGIN (user)", expect: 334, secret: true)
            _ = try await d.command(Data(password).base64EncodedString(), step: "AUTH LOGIN (password)", expect: 235, secret: true)
        } else {
            throw MailError(.authentication, "the server offers neither AUTH PLAIN nor AUTH LOGIN")
        }
    }

    /// EHLO's keywords, upper-cased (`STARTTLS`, `AUTH`, `SIZE`…).
    static func capabilities(_ ehlo: SMTPReply) -> Set<String> {
        Set(ehlo.lines.dropFirst().compactMap { $0.split(whereSeparator: { $0 == " " || $0 == "=" }).first.map { $0.uppercased() } })
    }

    /// The mechanisms of EHLO's `AUTH` line(s).
    static func authMechanisms(_ ehlo: SMTPReply) -> Set<String> {
        Set(ehlo.lines.dropFirst().flatMap { line -> [String] in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "=" }).map { $0.uppercased() }
            return words.first == "AUTH" ? Array(words.dropFirst()) : []
        })
    }

    /// An error in words for a reason: NIO's and NIOSSL's own descriptions carry no secrets.
    static func describe(_ error: any Error) -> String {
        if let error = error as? any TulgaError { return error.reason }
        if let error = error as? NIOSSLError { return "TLS: \(error)" }
        if let error = error as? BoringSSLError { return "TLS: \(error)" }
        return "\(error)"
    }
}

/// The replies and the writer of one connection.
struct SMTPDialogue {
    var replies: NIOAsyncChannelInboundStream<SMTPReply>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    /// The next reply, which must carry `expect` (or `also`); a 4xx is `.deferred`, a 5xx `.refused`.
    mutating func reply(step: String, expect: Int, also: Int? = nil) async throws -> SMTPReply {
        let next: SMTPReply?
        do { next = try await replies.next() } catch { throw Self.classify(error, at: step) }
        guard let next else { throw MailError(.closed, "the server closed the connection at \(step)") }
        guard next.code == expect || next.code == also else {
            // The code only: a server's words may repeat the address.
            switch next.code {
            case 400..<500 where step.hasPrefix("AUTH"): throw MailError(.authentication, "\(step) answered \(next.code)")
            case 500..<600 where step.hasPrefix("AUTH"): throw MailError(.authentication, "the server refused the credentials at \(step) (\(next.code))")
            case 400..<500: throw MailError(.deferred, "\(step) answered \(next.code): try again later")
            case 500..<600: throw MailError(.refused, "\(step) answered \(next.code)")
            default: throw MailError(.protocolError, "\(step) answered \(next.code), not \(expect)")
            }
        }
        return next
    }

    /// A channel failure as a ``MailError``: TLS failures are `.tls`, the rest `.closed`.
    static func classify(_ error: any Error, at step: String) -> MailError {
        switch error {
        case let error as MailError: error
        case let error as NIOSSLError: MailError(.tls, "TLS failed at \(step): \(error)")
        case let error as BoringSSLError: MailError(.tls, "TLS failed at \(step): \(error)")
        default: MailError(.closed, "the connection failed at \(step): \(error)")
        }
    }

    /// Sends one command line and reads its reply. A `secret` line is never part of an error.
    mutating func command(_ line: String, step: String, expect: Int, also: Int? = nil, secret: Bool = false) async throws -> SMTPReply {
        // Bytes, not Characters: "\r\n" is one Character, which contains(\r) would not find.
        guard !line.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else { throw MailError(.protocolError, "a line break inside \(step)") }
        do { try await outbound.write(ByteBuffer(string: line + "\r\n")) } catch {
            // The cause (a failed TLS handshake, say) is waiting in the inbound stream.
            do { _ = try await replies.next() } catch { throw Self.classify(error, at: step) }
            throw MailError(.closed, "the connection failed sending \(step)")
        }
        return try await reply(step: step, expect: expect, also: also)
    }
}
