import Testing

@testable import AutoTraceCollector

/// The network capture's HTTP/1.1 framing, fed the way the kernel hands it bytes: each read or write as its length
/// and a captured prefix of at most 2048 bytes.
@Suite struct HTTPStreamParserTests {
    typealias Event = HTTPStreamParser.Event

    /// Feeds `chunks` (whole bytes, captured up to `capture`) at nanos 1, 2, 3…; returns every event.
    func feed(
        _ chunks: [[UInt8]],
        capture: Int = 2048,
        responses method: String? = nil,
        parser: inout HTTPStreamParser
    ) -> [Event] {
        var events: [Event] = []
        for (index, chunk) in chunks.enumerated() {
            events += parser.consume(
                Array(chunk.prefix(capture))[...],
                length: UInt64(chunk.count),
                nanos: UInt64(index + 1)
            ) { head in
                method == nil && head.method != nil ? .ofRequest(head) : .ofResponse(head, requestMethod: method)
            }
        }
        return events
    }

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func heads(_ events: [Event]) -> [HTTPMessageHead] {
        events.compactMap { if case .head(let head, _) = $0 { head } else { nil } }
    }

    @Test func pipelinedKeepAliveRequestsSplitAnywhere() {
        let stream = bytes(
            "GET /a?x=1 HTTP/1.1\r\nHost: h\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n"
                + "POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                + "GET /c HTTP/1.1\r\n\r\n"
        )
        // Every split into two reads gives the same three requests.
        for split in 1..<stream.count {
            var parser = HTTPStreamParser()
            let events = feed([Array(stream[..<split]), Array(stream[split...])], parser: &parser)
            #expect(heads(events).map(\.target) == ["/a?x=1", "/b", "/c"], "split at \(split)")
            #expect(events.filter { if case .end = $0 { true } else { false } }.count == 3)
            #expect(heads(events).first?.header("traceparent")?.hasPrefix("00-0af7") == true)
        }
    }

    @Test func aLargeBodyIsSkippedByItsLengthBeyondTheCapture() {
        var parser = HTTPStreamParser()
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 100_000)
        let events = feed(
            [
                bytes("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n") + body.prefix(30_000),
                Array(body[30_000...]),
                bytes("HTTP/1.1 204 No Content\r\n\r\n"),
            ],
            responses: "GET",
            parser: &parser
        )
        #expect(
            events == [
                .head(HTTPMessageHead(bytes("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")[...])!, startNanos: 1),
                .end(nanos: 2),
                .head(HTTPMessageHead(bytes("HTTP/1.1 204 No Content\r\n\r\n")[...])!, startNanos: 3),
                .end(nanos: 3),
            ]
        )
    }

    @Test func chunkedResponsesEndAtTheLastChunk() {
        var parser = HTTPStreamParser()
        let events = feed(
            [
                bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"),
                bytes("lo\r\n3;ext=1\r\nabc\r\n0\r\n"),
                bytes("Trailer: x\r\n\r\n"),
            ],
            responses: "GET",
            parser: &parser
        )
        #expect(events.last == .end(nanos: 3))
        #expect(heads(events).map(\.status) == [200])
    }

    @Test func aHeadBeyondTheCaptureIsCountedLostUntilTheNextMessage() {
        var parser = HTTPStreamParser()
        let longHeader = "X-Padding: " + String(repeating: "p", count: 3000) + "\r\n"
        let events = feed(
            [bytes("GET /long HTTP/1.1\r\n" + longHeader + "\r\n"), bytes("GET /next HTTP/1.1\r\n\r\n")],
            parser: &parser
        )
        #expect(events.first == .lost(.notCaptured))
        #expect(heads(events).map(\.target) == ["/next"])
    }

    @Test func responsesWithoutLengthEndWhenTheConnectionCloses() {
        var parser = HTTPStreamParser()
        let events = feed([bytes("HTTP/1.0 200 OK\r\n\r\nsome body")], responses: "GET", parser: &parser)
        #expect(heads(events).count == 1)
        #expect(parser.close(nanos: 9) == [.end(nanos: 9)])
        var cut = HTTPStreamParser()
        _ = feed([bytes("POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")], parser: &cut)
        #expect(cut.close(nanos: 5) == [.lost(.closedEarly)])
    }

    @Test func headResponsesAndNonHTTPBytes() {
        var parser = HTTPStreamParser()
        let events = feed([bytes("HTTP/1.1 200 OK\r\nContent-Length: 512\r\n\r\n")], responses: "HEAD", parser: &parser)
        #expect(events.count == 2)  // head and end: no body follows a HEAD's response
        var garbage = HTTPStreamParser()
        #expect(feed([bytes("\u{16}\u{03}\u{01} TLS hello\r\n\r\n")], parser: &garbage) == [.lost(.notHTTP)])
    }

    @Test func socketAddressesReadAsTheKernelWritesThem() {
        #expect(SocketEndpoint(procNet: "0100007F:1F90") == SocketEndpoint(address: "127.0.0.1", port: 8080))
        #expect(
            SocketEndpoint(procNet: "00000000000000000000000001000000:0050") == SocketEndpoint(address: "::1", port: 80)
        )
        #expect(
            SocketEndpoint(procNet: "0000000000000000FFFF00000100007F:0050")
                == SocketEndpoint(address: "127.0.0.1", port: 80)
        )
        #expect(
            SocketEndpoint(family: 2, address: [10, 0, 0, 7] + [UInt8](repeating: 0, count: 12), port: 8080)?.address
                == "10.0.0.7"
        )
        let v6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
        #expect(SocketEndpoint(family: 10, address: v6, port: 443) == SocketEndpoint(address: "2001:db8::1", port: 443))
        #expect(SocketEndpoint(family: 1, address: v6, port: 0) == nil)
    }
}
