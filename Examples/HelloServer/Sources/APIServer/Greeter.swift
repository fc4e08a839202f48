import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

// A gRPC greeter written against GRPCCore alone: its messages are JSON (gRPC carries any bytes), so it needs no
// protobuf code generation.

struct HelloRequest: Codable, Sendable {
    var name: String
}

struct HelloReply: Codable, Sendable {
    var message: String
}

enum GreeterMethods {
    static let sayHello = MethodDescriptor(fullyQualifiedService: "demo.Greeter", method: "SayHello")
}

struct JSONMessageSerializer<Message: Encodable>: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: Message) throws -> Bytes {
        Bytes(try JSONEncoder().encode(message))
    }
}

struct JSONMessageDeserializer<Message: Decodable>: MessageDeserializer {
    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> Message {
        try serializedMessageBytes.withUnsafeBytes { try JSONDecoder().decode(Message.self, from: Data($0)) }
    }
}

/// The server side: `demo.Greeter/SayHello`, which fails with INVALID_ARGUMENT for a name that is not all letters.
struct GreeterService: RegistrableRPCService {
    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: GreeterMethods.sayHello,
            deserializer: JSONMessageDeserializer<HelloRequest>(),
            serializer: JSONMessageSerializer<HelloReply>()
        ) { request, _ in
            let single = try await ServerRequest(stream: request)
            let message = try await Greeter.compose(for: single.message.name)
            return StreamingServerResponse(single: ServerResponse(message: HelloReply(message: message)))
        }
    }
}

/// What the greeting says.
enum Greeter {
    static func compose(for name: String) async throws -> String {
        guard name.allSatisfy(\.isLetter) else {
            throw RPCError(code: .invalidArgument, message: "a name is letters only")
        }
        return "Hello, \(name)!"
    }
}

/// The client side.
struct GreeterClient: Sendable {
    let client: GRPCClient<HTTP2ClientTransport.Posix>

    func sayHello(to name: String) async throws -> String {
        try await client.unary(
            request: ClientRequest(message: HelloRequest(name: name)),
            descriptor: GreeterMethods.sayHello,
            serializer: JSONMessageSerializer<HelloRequest>(),
            deserializer: JSONMessageDeserializer<HelloReply>(),
            options: .defaults
        ) { try $0.message.message }
    }
}
