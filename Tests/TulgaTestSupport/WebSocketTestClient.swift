public import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// What a WebSocket client reads: a text message, a close frame (code and reason), or the end.
public enum WebSocketEvent: Sendable, Equatable {
    case text(String)
    case close(code: UInt16, reason: String)
    case pong(Data)
    case ended
}

/// A real WebSocket client on loopback (SwiftNIO's client upgrader and frame codec), for the key
/// agent's tests: it can send what a browser sends and what a browser never would (binary frames,
/// oversized or unmasked frames, fragments), and reads every frame back.
///
/// ```swift
/// try await WebSocketTestClient.session(port: port, origin: "http://127.0.0.1:8080") { client in
///     let answer = try await client.call(#"{"id":1,"method":"hello"}"#)
/// }
/// try await WebSocketTestClient.status(port: port, origin: "http://evil.example")   // 403
/// ```
public actor WebSocketTestClient {
    enum Upgrade: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>)
        case refused
    }

    /// A connection: the response's status (read before the upgrade handler acts on it) and the upgrade.
    struct Opened: Sendable {
        let channel: any Channel
        let status: EventLoopFuture<Int>
        let upgrade: EventLoopFuture<Upgrade>
    }

    let channel: any Channel
    var frames: NIOAsyncChannelInboundStream<WebSocketFrame>.AsyncIterator

    init(channel: any Channel, frames: NIOAsyncChannelInboundStream<WebSocketFrame>) {
        self.channel = channel
        self.frames = frames.makeAsyncIterator()
    }

    /// Opens `ws://127.0.0.1:port/path`, sending `Origin: origin` unless it is `nil`.
    static func open(port: Int, origin: String?, path: String) async throws -> Opened {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    var headers = HTTPHeaders([("Host", "127.0.0.1:\(port)"), ("Content-Length", "0")])
                    if let origin { headers.add(name: "Origin", value: origin) }
                    let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(maxFrameSize: 1 << 20) { channel, _ in
                        channel.eventLoop.makeCompletedFuture { .websocket(try NIOAsyncChannel(wrappingChannelSynchronously: channel)) }
                    }
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration<Upgrade>(
                        upgradeRequestHead: HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers),
                        upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(.refused) })
                    // The pipeline NIO's configureUpgradableHTTPClientPipeline builds, with the status read on the way.
                    let status = channel.eventLoop.makePromise(of: Int.self)
                    let encoder = HTTPRequestEncoder(), decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
                    let capture = StatusCapture(status)
                    let upgrade = NIOTypedHTTPClientUpgradeHandler(httpHandlers: [encoder, decoder, capture], upgradeConfiguration: configuration)
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(encoder)
                    try pipeline.addHandler(decoder)
                    try pipeline.addHandler(capture)
                    try pipeline.addHandler(upgrade)
                    return Opened(channel: channel, status: status.futureResult, upgrade: upgrade.upgradeResultFuture)
                }
            }
    }

    /// The upgrade's HTTP status: 101 when the server upgraded (the connection is then closed), else its refusal.
    ///
    /// - Parameters:
    ///   - port: the server's port on 127.0.0.1.
    ///   - origin: the Origin header, or none.
    ///   - path: the request target.
    public static func status(port: Int, origin: String?, path: String = "/") async throws -> Int {
        let opened = try await open(port: port, origin: origin, path: path)
        let status = try await opened.status.get()
        // A refusal may end in the server's close before the client's upgrade handler finishes: only the status counts.
        if case .websocket(let socket)? = try? await opened.upgrade.get() { try await socket.executeThenClose { _, _ in } }
        try? await opened.channel.close()
        return status
    }

    /// Opens a WebSocket and runs `body` with it; closed after.
    ///
    /// - Parameters:
    ///   - port: the server's port on 127.0.0.1.
    ///   - origin: the Origin header.
    ///   - body: the conversation.
    /// - Throws: ``ClientError`` when the upgrade is refused; what `body` throws.
    public static func session<T: Sendable>(port: Int, origin: String, _ body: (WebSocketTestClient) async throws -> T) async throws -> T {
        let opened = try await open(port: port, origin: origin, path: "/")
        guard case .websocket(let socket) = try await opened.upgrade.get() else { throw ClientError("the upgrade was refused") }
        return try await socket.executeThenClose { inbound, _ in try await body(WebSocketTestClient(channel: socket.channel, frames: inbound)) }
    }

    /// Sends one masked frame, as a browser does (`mask: false` sends it unmasked, which browsers never do).
    public func send(_ opcode: UInt8, _ payload: Data, fin: Bool = true, mask: Bool = true) async throws {
        // The encoder masks the payload with the key.
        try await channel.writeAndFlush(WebSocketFrame(fin: fin, opcode: WebSocketOpcode(encodedWebSocketOpcode: opcode) ?? .text,
                                                             maskKey: mask ? .random() : nil, data: ByteBuffer(bytes: payload))).get()
    }

    /// Sends a text message in one frame.
    public func send(text: String) async throws { try await send(0x1, Data(text.utf8)) }

    /// Sends a request and reads the answer as a JSON object.
    public nonisolated func call(_ request: String) async throws -> [String: Any] {
        try await send(text: request)
        guard case .text(let answer) = try await next() else { throw ClientError("no answer to \(request.prefix(80))") }
        guard let object = try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any] else { throw ClientError("not an object: \(answer)") }
        return object
    }

    /// The next frame the server sent (fragments are not joined; the agent sends whole messages).
    public func next() async throws -> WebSocketEvent {
        var iterator = frames
        let read = try await iterator.next(isolation: self)
        frames = iterator
        guard let frame = read else { return .ended }
        switch frame.opcode {
        case .text: return .text(String(decoding: frame.unmaskedData.readableBytesView, as: UTF8.self))
        case .connectionClose:
            var data = frame.unmaskedData
            let code = data.readInteger(as: UInt16.self) ?? 1005
            return .close(code: code, reason: data.readString(length: data.readableBytes) ?? "")
        case .pong: return .pong(Data(frame.unmaskedData.readableBytesView))
        default: return .text("")
        }
    }
}

/// Reads the response head's status for ``WebSocketTestClient/status(port:origin:path:)``, then steps aside.
final class StatusCapture: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias InboundOut = HTTPClientResponsePart
    let promise: EventLoopPromise<Int>
    var done = false
    init(_ promise: EventLoopPromise<Int>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !done, case .head(let head) = unwrapInboundIn(data) {
            done = true
            promise.succeed(Int(head.status.code))
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done { done = true; promise.fail(ClientError("closed before a response")) }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if !done { done = true; promise.fail(ClientError("removed before a response")) }
    }
}

/// A test client's complaint.
public struct ClientError: Error, CustomStringConvertible {
    public let description: String
    init(_ text: String) { description = text }
}
