import Hummingbird

/// A small greeting server. `/hello/{name}` asks this same server's `/weather` route over HTTP for the forecast,
/// so one request makes a trace that crosses an HTTP hop.
@main
struct HelloServer {
    static func main() async throws {
        let port = Self.port(arguments: CommandLine.arguments, environment: Environment())
        let app = buildApplication(port: port)
        try await app.runService()
    }

    /// `--port N`, else the PORT variable, else 8080.
    static func port(arguments: [String], environment: Environment) -> Int {
        if let flag = arguments.firstIndex(of: "--port"), flag + 1 < arguments.count,
            let port = Int(arguments[flag + 1])
        {
            return port
        }
        return environment.get("PORT").flatMap { Int($0) } ?? 8080
    }
}

func buildApplication(port: Int) -> Application<RouterResponder<BasicRequestContext>> {
    let router = Router()
    let greetings = GreetingService(forecasts: ForecastService(baseURL: "http://127.0.0.1:\(port)"))

    router.get("/hello/{name}") { _, context in
        let name = try context.parameters.require("name")
        return try await greetings.greet(name: name)
    }
    // A deliberately slow greeting: it waits `ms` milliseconds (default 300) first.
    router.get("/slow/{name}") { request, context in
        let name = try context.parameters.require("name")
        try await Task.sleep(for: .milliseconds(request.uri.queryParameters.get("ms", as: Int.self) ?? 300))
        return try await greetings.greet(name: name)
    }
    // Work of a chosen shape, for benchmarks: /work?cpu=MICROSECONDS&alloc=COUNT&wait=MILLISECONDS.
    router.get("/work") { request, _ in
        let query = request.uri.queryParameters
        func value(_ name: String, max: Int) -> Int { min(max, Swift.max(0, query.get(name, as: Int.self) ?? 0)) }
        return try await WorkSimulator().perform(
            cpuMicros: value("cpu", max: 1_000_000),
            allocations: value("alloc", max: 1_000_000),
            waitMillis: value("wait", max: 60_000)
        )
    }
    // The forecast alone, fetched through AsyncHTTPClient's EventLoopFuture API, or with ?via=urlsession through
    // URLSession.
    router.get("/forecast/{name}") { request, context in
        let name = try context.parameters.require("name")
        if request.uri.queryParameters.get("via") == "urlsession" {
            return try await greetings.forecasts.forecastThroughURLSession(for: name)
        }
        return try await greetings.forecasts.forecastThroughFutures(for: name)
    }
    router.get("/weather") { _, _ in
        WeatherStation().currentConditions()
    }
    router.get("/fail") { _, _ -> String in
        throw HTTPError(.internalServerError, message: "this route always fails")
    }
    router.get("/health") { _, _ in
        "ok"
    }
    return Application(
        router: router,
        configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "HelloServer"),
        onServerRunning: { _ in
            print("HelloServer listening on http://127.0.0.1:\(port)")
        }
    )
}
