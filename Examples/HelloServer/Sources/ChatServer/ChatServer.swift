import Hummingbird
import HummingbirdWebSocket

/// A WebSocket chat as hummingbird-websocket's guide writes one; no tracing code. Each text message gets a reply from
/// the chat room; "/quit" ends the connection; a message that is not text breaks the handler (an error Hummingbird
/// only logs).
@main
struct ChatServer {
    static func main() async throws {
        let port = CommandLine.arguments.firstIndex(of: "--port").flatMap { Int(CommandLine.arguments[$0 + 1]) } ?? 8080
        let router = Router()
        router.get("/health") { _, _ in "ok" }
        let webSocketRouter = Router(context: BasicWebSocketRequestContext.self)
        webSocketRouter.ws("/chat/{room}") { inbound, outbound, context in
            let room = ChatRoom(name: context.requestContext.parameters.get("room") ?? "lobby")
            for try await message in inbound.messages(maxSize: 1 << 16) {
                guard case .text(let text) = message else { throw ChatError.notText }
                if text == "/quit" { break }
                try await outbound.write(.text(try await room.reply(to: text)))
            }
        }
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: webSocketRouter),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "ChatServer")
        )
        try await app.runService()
    }
}

enum ChatError: Error {
    case notText
}

struct ChatRoom {
    let name: String

    func reply(to text: String) async throws -> String {
        "[\(name)] \(text.uppercased())"
    }
}
