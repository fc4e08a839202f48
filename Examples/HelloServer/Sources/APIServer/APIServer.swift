import AsyncHTTPClient
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Hummingbird
import OpenAPIAsyncHTTPClient
import OpenAPIHummingbird
import OpenAPIRuntime

/// An OpenAPI service on Hummingbird, as swift-openapi's guides write one, whose greetings come from a gRPC service
/// the same process serves on another loopback port; no tracing code. `relayGreeting` fetches `getGreeting` through
/// the generated client, so one request crosses OpenAPI, HTTP and gRPC twice each way.
@main
struct APIServer {
    static func main() async throws {
        let port = CommandLine.arguments.firstIndex(of: "--port").flatMap { Int(CommandLine.arguments[$0 + 1]) } ?? 8080
        try await withGRPCServer(
            transport: .http2NIOPosix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext),
            services: [GreeterService()]
        ) { server in
            guard let grpcPort = try await server.listeningAddress?.ipv4?.port else {
                throw RPCError(code: .unavailable, message: "the greeter is not listening")
            }
            try await withGRPCClient(
                transport: .http2NIOPosix(
                    target: .ipv4(address: "127.0.0.1", port: grpcPort),
                    transportSecurity: .plaintext
                )
            ) { greeter in
                let router = Router()
                router.get("/health") { _, _ in "ok" }
                let relay = Client(
                    serverURL: URL(string: "http://127.0.0.1:\(port)/api")!,
                    transport: AsyncHTTPClientTransport()
                )
                let api = GreetingAPI(greeter: GreeterClient(client: greeter), relay: relay)
                try api.registerHandlers(on: router, serverURL: URL(string: "/api")!)
                let app = Application(
                    router: router,
                    configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "APIServer")
                )
                try await app.runService()
            }
        }
    }
}

/// The OpenAPI operations.
struct GreetingAPI: APIProtocol {
    let greeter: GreeterClient
    let relay: Client

    func getGreeting(_ input: Operations.getGreeting.Input) async throws -> Operations.getGreeting.Output {
        .ok(.init(body: .json(.init(message: try await greeter.sayHello(to: input.path.name)))))
    }

    func relayGreeting(_ input: Operations.relayGreeting.Input) async throws -> Operations.relayGreeting.Output {
        let greeting = try await relay.getGreeting(path: .init(name: input.path.name)).ok.body.json
        return .ok(.init(body: .json(.init(message: greeting.message))))
    }
}
