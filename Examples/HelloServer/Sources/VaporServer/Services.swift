import Vapor

struct Greetings {
    func greeting(for name: String) -> String {
        "Hello, \(name)!"
    }
}

struct Relay {
    let client: any Client

    func forward(to authority: String, name: String) async throws -> String {
        let response = try await client.get("http://\(authority)/hello/\(name)?key=s3cr3t-relay")
        guard response.status == .ok, let body = response.body else {
            throw Abort(.badGateway, reason: "the greeting answered \(response.status.code)")
        }
        return "relayed: " + String(buffer: body)
    }
}
