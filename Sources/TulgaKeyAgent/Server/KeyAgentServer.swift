// The agent's thin network shell: WebSocket (RFC 6455) on 127.0.0.1, with SwiftNIO's own
// NIOWebSocket. Every decision about a message is KeyAgent's and AgentProtocol's.
public import Logging
public import NIOCore
import Foundation
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization
import TulgaCore

/// The key agent's server: one path `/`, WebSocket only, bound to 127.0.0.1. The upgrade is refused
/// (403) unless the `Origin` header is exactly one of the allowed origins; text frames of at most
/// 64 KiB, one JSON request each; binary frames close the connection (1003).
///
/// ```swift
/// let server = try await KeyAgentServer.bind(agent: agent, port: 13579, origins: ["http://127.0.0.1:8080"], logger: logger)
/// try await server.run()      // until the task is cancelled
/// ```
public final class KeyAgentServer: Sendable {
    /// The port it listens on (the one given, or the one the system chose for 0).
    public let port: Int
    let agent: KeyAgent
    let origins: [String]
    let logger: Logger
    let listener: NIOAsyncChannel<Accepted, Never>

    /// Open connections at most; more are closed at once (memory stays bounded).
    public static let maximumConnections = 16
    /// How long a connection may take to upgrade, and to close once the agent has closed its side.
    static let grace = TimeAmount.seconds(10)

    /// What an accepted connection became: a WebSocket from an allowed page, or an HTTP request to refuse.
    enum Upgrade: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, origin: String)
        case refused(NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>)
    }

    /// How many connections are open.
    final class OpenConnections: Sendable {
        let count = Mutex(0)
    }

    /// An accepted connection and its upgrade, once the request head has been read.
    struct Accepted: Sendable {
        let channel: any Channel
        let upgrade: EventLoopFuture<Upgrade>
    }

    init(port: Int, agent: KeyAgent, origins: [String], logger: Logger, listener: NIOAsyncChannel<Accepted, Never>) {
        (self.port, self.agent, self.origins, self.logger, self.listener) = (port, agent, origins, logger, listener)
    }

    /// Binds 127.0.0.1:`port`.
    ///
    /// - Parameters:
    ///   - agent: the operations.
    ///   - port: the port; 0 lets the system choose (read ``port``).
    ///   - origins: the page origins allowed to connect, compared exactly.
    ///   - logger: where connections and answers are logged (methods and codes, never params).
    /// - Returns: The bound server; ``run()`` serves.
    /// - Throws: when the port cannot be bound.
    public static func bind(agent: KeyAgent, port: Int, origins: [String], logger: Logger) async throws -> KeyAgentServer {
        let upgrader = NIOTypedWebSocketServerUpgrader<Upgrade>(
            maxFrameSize: AgentLimits.maximumMessage,
            enableAutomaticErrorHandling: false,
            shouldUpgrade: { channel, head in
                guard let status = AgentOrigins.refusal(head.headers["Origin"], path: head.uri, allowed: origins) else {
                    return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
                }
                // Answered here: NIO hands a refused upgrade's request on without its head.
                log(refusal: status, head, logger)
                return respond(channel, HTTPResponseStatus(statusCode: status), version: head.version)
                    .flatMap { channel.close() }.map { nil }
            },
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture {
                    .websocket(try NIOAsyncChannel(wrappingChannelSynchronously: channel), origin: head.headers["Origin"].first ?? "")
                }
            })
        let configuration = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: .init(
            upgraders: [upgrader],
            notUpgradingCompletionHandler: { channel in
                channel.eventLoop.makeCompletedFuture { .refused(try NIOAsyncChannel(wrappingChannelSynchronously: channel)) }
            }))
        let open = OpenConnections()
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Counted as it is accepted, before it can read a byte: one over the limit is closed unanswered.
                    let admitted = open.count.withLock { count in
                        guard count < maximumConnections else { return false }
                        count += 1
                        return true
                    }
                    guard admitted else {
                        logger.warning("refused: too many connections", metadata: ["limit": "\(maximumConnections)"])
                        channel.close(promise: nil)
                        return Accepted(channel: channel, upgrade: channel.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel))
                    }
                    channel.closeFuture.whenComplete { _ in open.count.withLock { $0 -= 1 } }
                    let upgrade = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
                    // A connection that sends no request head in time is closed (its upgrade then fails).
                    let deadline = channel.eventLoop.scheduleTask(in: grace) { channel.close(promise: nil) }
                    upgrade.whenComplete { _ in deadline.cancel() }
                    return Accepted(channel: channel, upgrade: upgrade)
                }
            }
        return KeyAgentServer(port: listener.channel.localAddress?.port ?? port, agent: agent, origins: origins, logger: logger, listener: listener)
    }

    /// Serves until the task is cancelled; then closes the listener and every connection, and returns.
    public func run() async throws {
        do { try await serve() } catch is CancellationError {}   // stopped, as asked
    }

    func serve() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await listener.executeThenClose { accepted in
                for try await connection in accepted {
                    group.addTask { await self.handle(connection) }
                }
            }
        }
    }

    func handle(_ connection: Accepted) async {
        let upgrade: Upgrade
        do {
            upgrade = try await withTaskCancellationHandler { try await connection.upgrade.get() } onCancel: { connection.channel.close(promise: nil) }
        } catch { return }   // closed before its request head
        switch upgrade {
        case .websocket(let socket, let origin): await serve(socket, origin: origin)
        case .refused(let http): await refuse(http)
        }
    }

    /// A request that is not upgraded: plain HTTP gets 403 for the origin, 404 for another path, else
    /// 426; an upgrade NIO refused before asking (no key, a version other than 13) gets 400. Then closed.
    func refuse(_ http: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        let channel = http.channel
        try? await http.executeThenClose { inbound, _ in
            var parts = inbound.makeAsyncIterator()
            guard case .head(let head) = try await parts.next() else {
                // A refused upgrade arrives without its head.
                return try await Self.respond(channel, .badRequest, version: .http1_1).get()
            }
            let status = AgentOrigins.refusal(head.headers["Origin"], path: head.uri, allowed: origins) ?? 426
            Self.log(refusal: status, head, logger)
            try await Self.respond(channel, HTTPResponseStatus(statusCode: status), version: head.version).get()
        }
    }

    static func log(refusal status: Int, _ head: HTTPRequestHead, _ logger: Logger) {
        logger.notice("refused", metadata: ["origin": "\(head.headers["Origin"].first.map { String($0.prefix(200)) } ?? "none")", "status": "\(status)"])
    }

    /// A short plain-text refusal, then `Connection: close`.
    static func respond(_ channel: any Channel, _ status: HTTPResponseStatus, version: HTTPVersion) -> EventLoopFuture<Void> {
        let text = switch status.code {
        case 403: "tulga key agent: this page's origin is not allowed\n"
        case 404: "tulga key agent: the only path is /\n"
        case 426: "tulga key agent: WebSocket only\n"
        default: "tulga key agent: not a WebSocket upgrade (RFC 6455, version 13)\n"
        }
        let headers = HTTPHeaders([("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "\(text.utf8.count)"), ("Connection", "close")])
        channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: status, headers: headers)), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: text))), promise: nil)
        return channel.writeAndFlush(HTTPServerResponsePart.end(nil))
    }

    /// One page's connection: each text message is answered in order; fragments are joined up to 64 KiB.
    func serve(_ socket: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, origin: String) async {
        let channel = socket.channel
        logger.info("connected", metadata: ["origin": "\(origin)"])
        try? await socket.executeThenClose { inbound, _ in
            var frames = inbound.makeAsyncIterator()
            var message: ByteBuffer?
            do {
                while let frame = try await frames.next() {
                    // RFC 6455 §5.1: a client masks every frame.
                    guard frame.maskKey != nil else { return await close(channel, .protocolError, "client frames must be masked") }
                    switch frame.opcode {
                    case .text, .continuation:
                        guard (frame.opcode == .text) == (message == nil) else {
                            return await close(channel, .protocolError, "a continuation frame without a message, or a message inside another")
                        }
                        var data = frame.unmaskedData
                        if message == nil { message = data } else { message?.writeBuffer(&data) }
                        if let size = message?.readableBytes, size > AgentLimits.maximumMessage { return await tooLarge(channel) }
                        guard frame.fin, let whole = message else { continue }
                        message = nil
                        let reply = await agent.answer(Data(whole.readableBytesView), origin: origin)
                        logger.info("answered", metadata: ["origin": "\(origin)", "method": "\(reply.method ?? "-")", "outcome": "\(reply.code?.rawValue ?? "ok")"])
                        // Local paths and damaged keys: for this terminal, never the page.
                        for note in reply.notes { logger.warning("\(note)", metadata: ["method": "\(reply.method ?? "-")"]) }
                        try await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: reply.answer))).get()
                    case .binary:
                        return await close(channel, .unacceptableData, "binary frames are refused: send JSON text")
                    case .ping:
                        try await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)).get()
                    case .pong:
                        continue
                    case .connectionClose:
                        // Echo the page's code (RFC 6455 §5.5.1), then close.
                        var data = frame.unmaskedData
                        let code = data.readWebSocketErrorCode() ?? .normalClosure
                        var echo = channel.allocator.buffer(capacity: 2)
                        echo.write(webSocketErrorCode: code)
                        try? await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: echo)).get()
                        return
                    default:
                        return await close(channel, .protocolError, "unknown opcode")
                    }
                }
            } catch NIOWebSocketError.invalidFrameLength {
                await tooLarge(channel)
            } catch {
                await close(channel, .protocolError, "not a valid WebSocket frame")
            }
        }
        logger.info("disconnected", metadata: ["origin": "\(origin)"])
    }

    /// A message over 64 KiB: answered with `too_large` (its id unread), then the connection is closed (1009).
    func tooLarge(_ channel: any Channel) async {
        let answer = AgentAnswer.error(id: nil, AgentError(.tooLarge, "a message is at most \(AgentLimits.maximumMessage) bytes"))
        logger.notice("answered", metadata: ["method": "-", "outcome": "too_large"])
        try? await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: answer))).get()
        await close(channel, .messageTooLarge, "a message is at most 64 KiB")
    }

    /// Sends a close frame, shuts the agent's side, and waits (at most ``grace``) for the page to
    /// close its own, so nothing the page still sends is cut off by a reset before it reads the reason.
    func close(_ channel: any Channel, _ code: WebSocketErrorCode, _ reason: String) async {
        var data = channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: code)
        data.writeString(reason)
        try? await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)).get()
        try? await channel.close(mode: .output).get()
        let deadline = channel.eventLoop.scheduleTask(in: Self.grace) { channel.close(promise: nil) }
        try? await withTaskCancellationHandler { try await channel.closeFuture.get() } onCancel: { channel.close(promise: nil) }
        deadline.cancel()
    }
}
