import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

struct GreetingService: Sendable {
    let forecasts: ForecastService

    func greet(name: String) async throws -> String {
        let forecast = try await forecasts.forecast(for: name)
        return "\(salutation(for: name)) Today will be \(forecast).\n"
    }

    func salutation(for name: String) -> String {
        name.count > 12 ? "Hello, \(name.prefix(12))…!" : "Hello, \(name)!"
    }
}

/// Fetches the forecast from the weather route over HTTP.
struct ForecastService: Sendable {
    let baseURL: String

    func forecast(for name: String) async throws -> String {
        let request = HTTPClientRequest(url: "\(baseURL)/weather")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        guard response.status == .ok else {
            throw HTTPError(.badGateway, message: "the weather route answered \(response.status.code)")
        }
        return String(buffer: try await response.body.collect(upTo: 4096))
    }

    /// The same through AsyncHTTPClient's EventLoopFuture API, as code written before async/await calls it.
    func forecastThroughFutures(for name: String) async throws -> String {
        let response = try await HTTPClient.shared.get(
            url: "\(baseURL)/weather?for=\(name)",
            deadline: .now() + .seconds(5)
        ).get()
        guard response.status == .ok, let body = response.body else {
            throw HTTPError(.badGateway, message: "the weather route answered \(response.status.code)")
        }
        return String(buffer: body)
    }

    /// The same through Foundation's URLSession.
    func forecastThroughURLSession(for name: String) async throws -> String {
        guard let url = URL(string: "\(baseURL)/weather?for=\(name)") else { throw HTTPError(.badRequest) }
        let (data, response) = try await URLSession.shared.data(from: url)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else {
            throw HTTPError(.badGateway, message: "the weather route did not answer 200")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

struct WeatherStation {
    func currentConditions() -> String {
        let readings = (1...24).map(reading(hour:))
        return readings.reduce(0, +) / readings.count > 15 ? "sunny" : "cloudy"
    }

    func reading(hour: Int) -> Int {
        (hour * 7 + 3) % 31
    }
}

/// Work whose shape a request chooses, so that a benchmark can isolate what instrumentation adds to CPU work,
/// allocation and off-CPU waiting.
struct WorkSimulator {
    /// Spins for `cpuMicros` µs of wall time, makes `allocations` 1 KiB heap allocations, then sleeps `waitMillis` ms.
    func perform(cpuMicros: Int, allocations: Int, waitMillis: Int) async throws -> String {
        let deadline = ContinuousClock.now + .microseconds(cpuMicros)
        var spins = 0
        while ContinuousClock.now < deadline { spins += 1 }
        var checksum = 0
        for index in 0..<allocations {
            let block = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 1024)
            checksum &+= Int(block[index % block.count])
        }
        if waitMillis > 0 { try await Task.sleep(for: .milliseconds(waitMillis)) }
        return
            "cpu \(cpuMicros) µs (\(spins) spins), \(allocations) allocations (checksum \(checksum)), waited \(waitMillis) ms\n"
    }
}
