import Hummingbird
import HummingbirdRouter

/// Hummingbird 2 with its result-builder router, as HummingbirdRouter's guide writes it; no tracing code.
@main
struct RouterBuilderServer {
    static func main() async throws {
        let port = CommandLine.arguments.firstIndex(of: "--port").flatMap { Int(CommandLine.arguments[$0 + 1]) } ?? 8080
        let router = RouterBuilder(context: BasicRouterRequestContext.self) {
            Get("/health") { _, _ in "ok" }
            RouteGroup("/items") {
                Get("{id}") { _, context in
                    "item \(try context.parameters.require("id"))"
                }
            }
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "RouterBuilderServer")
        )
        try await app.runService()
    }
}
