import Hummingbird
import OTel
import Tracing

/// HelloServer with its tracing written by hand, the way a Swift team does it today: swift-otel as the tracer and
/// OTLP exporter, Hummingbird's `TracingMiddleware` for server spans, a `withSpan` around each service call, and
/// AsyncHTTPClient's own client spans. It shares HelloServer's services (Services.swift is a link) so that the
/// two servers do the same work; `autotrace bench` runs it as the `manual` scenario beside the woven HelloServer.
@main
struct HelloServerManual {
    static func main() async throws {
        let arguments = CommandLine.arguments
        let flag = arguments.firstIndex(of: "--port").map { $0 + 1 }
        let port =
            flag.flatMap { $0 < arguments.count ? Int(arguments[$0]) : nil } ?? Environment().get("PORT").flatMap {
                Int($0)
            } ?? 8080
        // OTEL_* variables (endpoint, sampler, batch sizes) apply as usual; only traces are compared, so metrics
        // and logs are off.
        var configuration = OTel.Configuration.default
        configuration.serviceName = "HelloServerManual"
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        let observability = try OTel.bootstrap(configuration: configuration)
        var app = buildApplication(port: port)
        app.addServices(observability)
        try await app.runService()
    }
}

/// The routes of HelloServer, each service call in a span of its own.
func buildApplication(port: Int) -> Application<RouterResponder<BasicRequestContext>> {
    let router = Router()
    router.add(middleware: TracingMiddleware())
    let greetings = GreetingService(forecasts: ForecastService(baseURL: "http://127.0.0.1:\(port)"))

    router.get("/hello/{name}") { _, context in
        let name = try context.parameters.require("name")
        return try await withSpan("GreetingService.greet") { span in
            span.attributes["hello.name"] = name
            return try await greetings.greet(name: name)
        }
    }
    router.get("/slow/{name}") { request, context in
        let name = try context.parameters.require("name")
        try await Task.sleep(for: .milliseconds(request.uri.queryParameters.get("ms", as: Int.self) ?? 300))
        return try await withSpan("GreetingService.greet") { span in
            span.attributes["hello.name"] = name
            return try await greetings.greet(name: name)
        }
    }
    router.get("/work") { request, _ in
        let query = request.uri.queryParameters
        func value(_ name: String, max: Int) -> Int { min(max, Swift.max(0, query.get(name, as: Int.self) ?? 0)) }
        return try await withSpan("work.perform") { _ in
            try await WorkSimulator().perform(
                cpuMicros: value("cpu", max: 1_000_000),
                allocations: value("alloc", max: 1_000_000),
                waitMillis: value("wait", max: 60_000)
            )
        }
    }
    router.get("/weather") { _, _ in
        withSpan("weather.currentConditions") { _ in WeatherStation().currentConditions() }
    }
    router.get("/fail") { _, _ -> String in
        throw HTTPError(.internalServerError, message: "this route always fails")
    }
    router.get("/health") { _, _ in
        "ok"
    }
    return Application(
        router: router,
        configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "HelloServerManual"),
        onServerRunning: { _ in
            print("HelloServerManual listening on http://127.0.0.1:\(port)")
        }
    )
}
