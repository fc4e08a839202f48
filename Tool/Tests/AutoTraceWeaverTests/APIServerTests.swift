import AutoTraceTesting
import Foundation
import Testing

@testable import autotrace

/// Examples/HelloServer's APIServer: an OpenAPI service on Hummingbird whose operations call a gRPC greeter the same
/// process serves, and call each other through the generated client. Woven, one request makes one trace through
/// both frameworks, both ways.
extension WovenBuildTests {
    @Test func anOpenAPIRequestCrossesTheGeneratedClientAndGRPCInOneTrace() throws {
        try Self.buildExample("APIServer")
        let receiver = try OTLPTestReceiver()
        let (server, port) = try Self.startExample(
            "APIServer",
            environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.baseURL, "OTEL_BSP_SCHEDULE_DELAY": "50",
                "AUTOTRACE_HTTP_EXCLUDED_ROUTES": "/health",
            ]
        )
        defer { if server.isRunning { server.terminate() } }

        let caller = (trace: String(repeating: "a1", count: 16), span: "00f067aa0ba902a1")
        let relayed = try LoopbackHTTP.get(
            port: port,
            path: "/api/relay/Ada?token=s3cr3t",
            headers: [("traceparent", "00-\(caller.trace)-\(caller.span)-01")]
        )
        #expect(relayed.status == 200 && relayed.body.contains("Hello, Ada!"), "\(relayed)")
        // The greeter refuses a name with digits: INVALID_ARGUMENT, the caller's error and not the greeter's.
        let refused = try LoopbackHTTP.get(port: port, path: "/api/greetings/R2D2")
        #expect(refused.status == 500, "\(refused)")
        #expect(try LoopbackHTTP.get(port: port, path: "/health").body == "ok")

        #expect(receiver.waitForAcceptedSpans(10, timeoutSeconds: 20))
        Thread.sleep(forTimeInterval: 0.5)
        server.terminate()
        server.waitUntilExit()
        let exported = try receiver.acceptedSpans()
        let trace = exported.filter { Self.hex($0.traceID) == caller.trace }
        // relayGreeting → getGreeting (client) → getGreeting (server) → SayHello (client) → SayHello (server) →
        // Greeter.compose: one span each, AsyncHTTPClient's underneath the OpenAPI client span folded into it.
        #expect(trace.count == 6, "\(trace.map { "\($0.name) \($0.kind)" })")
        func span(_ name: String, _ kind: Opentelemetry_Proto_Trace_V1_Span.SpanKind) throws
            -> Opentelemetry_Proto_Trace_V1_Span
        {
            try #require(
                trace.first { $0.name == name && $0.kind == kind },
                "no \(kind) span \(name) in \(trace.map(\.name))"
            )
        }
        let attributes = Self.attributes(of:)
        let relay = try span("relayGreeting", .server)
        let greetingCall = try span("getGreeting", .client)
        let greeting = try span("getGreeting", .server)
        let rpcCall = try span("demo.Greeter/SayHello", .client)
        let rpc = try span("demo.Greeter/SayHello", .server)
        let compose = try span("Greeter.compose", .internal)
        #expect(Self.hex(relay.parentSpanID) == caller.span)
        for (child, parent) in [
            (greetingCall, relay), (greeting, greetingCall), (rpcCall, greeting), (rpc, rpcCall), (compose, rpc),
        ] {
            #expect(
                child.parentSpanID == parent.spanID,
                "\(child.name) (\(child.kind)) is not a child of \(parent.name) (\(parent.kind))"
            )
        }
        #expect(attributes(relay)["http.route"]?.stringValue == "/api/relay/{name}")
        #expect(attributes(relay)["url.query"]?.stringValue == "token=REDACTED")
        #expect(attributes(greetingCall)["http.request.method"]?.stringValue == "GET")
        #expect(attributes(greetingCall)["url.full"]?.stringValue == "http://127.0.0.1:\(port)/api/greetings/Ada")
        #expect(attributes(greetingCall)["http.response.status_code"]?.intValue == 200)
        for call in [rpcCall, rpc] {
            let rpcAttributes = attributes(call)
            #expect(rpcAttributes["rpc.system"]?.stringValue == "grpc")
            #expect(rpcAttributes["rpc.service"]?.stringValue == "demo.Greeter")
            #expect(rpcAttributes["rpc.method"]?.stringValue == "SayHello")
            #expect(rpcAttributes["rpc.grpc.status_code"]?.intValue == 0)
            #expect(call.status.code != .error)
        }
        #expect(attributes(rpcCall)["server.address"]?.stringValue == "127.0.0.1")
        #expect(attributes(rpc)["network.peer.address"]?.stringValue == "127.0.0.1")

        // The refused call: an error at the client, not at the server (INVALID_ARGUMENT is the caller's mistake).
        let refusedCall = try #require(
            exported.first { $0.name == "demo.Greeter/SayHello" && $0.kind == .client && $0.status.code == .error }
        )
        #expect(attributes(refusedCall)["rpc.grpc.status_code"]?.intValue == 3)
        let refusedServer = try #require(
            exported.first {
                $0.name == "demo.Greeter/SayHello" && $0.kind == .server && $0.traceID == refusedCall.traceID
            }
        )
        #expect(attributes(refusedServer)["rpc.grpc.status_code"]?.intValue == 3 && refusedServer.status.code != .error)
        #expect(!exported.contains { $0.name.contains("health") })
        #expect(!receiver.requests.contains { String(decoding: $0.body, as: UTF8.self).contains("s3cr3t") })
    }
}
