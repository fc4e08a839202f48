import Testing

@testable import AutoTrace

/// The exporter's HTTP/1.1 response parser on its own: valid answers, malformed ones, the caps, and random bytes.
@Suite struct HTTPResponseParserTests {
    /// Feeds `text` in one call, then one byte at a time, and expects the same outcome.
    func parse(_ text: String, maxHeadBytes: Int = 64 * 1024, maxBodyBytes: Int = 1 << 20, close: Bool = false)
        throws(HTTPConnection.Failure)
        -> HTTPResponse?
    {
        var whole = HTTPResponseParser(maxHeadBytes: maxHeadBytes, maxBodyBytes: maxBodyBytes)
        var response = try whole.consume(Array(text.utf8))
        if response == nil && close { response = try whole.finish() }
        var bytewise = HTTPResponseParser(maxHeadBytes: maxHeadBytes, maxBodyBytes: maxBodyBytes)
        var other: HTTPResponse?
        for byte in text.utf8 where other == nil { other = try bytewise.consume(CollectionOfOne(byte)) }
        if other == nil && close { other = try bytewise.finish() }
        #expect(other?.status == response?.status)
        #expect(other?.body == response?.body)
        return response
    }

    @Test func validResponses() throws {
        let fixed = try #require(try parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhello"))
        #expect(fixed.status == 200)
        #expect(fixed.body == Array("hello".utf8))
        #expect(fixed.header("x-a") == "b")

        let chunked = try #require(
            try parse(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA \r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n"
            )
        )
        #expect(chunked.body == Array("abc0123456789".utf8))

        let closeDelimited = try #require(try parse("HTTP/1.0 503 Busy\r\nRetry-After: 3\r\n\r\nlater", close: true))
        #expect(closeDelimited.status == 503)
        #expect(closeDelimited.header("retry-after") == "3")
        #expect(closeDelimited.body == Array("later".utf8))

        let interim = try #require(try parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"))
        #expect(interim.status == 204)
        #expect(interim.body.isEmpty)

        let bareLF = try #require(try parse("HTTP/1.1 200 OK\nContent-Length: 2, 2\n\nok"))
        #expect(bareLF.body == Array("ok".utf8))

        // Bytes after a complete response are ignored; the same response comes back.
        var parser = HTTPResponseParser()
        let first = try parser.consume(Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 500 X\r\n".utf8))
        #expect(first?.status == 200)
        #expect(try parser.consume(Array("garbage".utf8))?.status == 200)
        #expect(try parser.finish().status == 200)
    }

    static let malformed: [String] = [
        "HTPT/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 -200 OK\r\n\r\n",
        "HTTP/1.1 099 OK\r\n\r\n",
        "HTTP/2 200\r\n\r\n",
        "\r\nHTTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\n : empty name\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nabcde",
        "HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffffffff\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
    ]

    @Test(arguments: malformed)
    func malformedResponsesThrow(_ text: String) {
        var parser = HTTPResponseParser()
        do {
            _ = try parser.consume(Array(text.utf8))
            _ = try parser.finish()
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect(error.isMalformedResponse || error.message.contains("closed"), "\(error.message)")
        }
        // A parser that failed stays failed.
        #expect(throws: HTTPConnection.Failure.self) { _ = try parser.consume(Array("HTTP/1.1 200 OK\r\n\r\n".utf8)) }
    }

    @Test func capsBoundTheHeadAndTheBody() throws {
        let longHeader = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 2000) + "\r\n\r\n"
        #expect(throws: HTTPConnection.Failure.self) { _ = try parse(longHeader, maxHeadBytes: 1000) }
        let endlessHeader = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 2000)
        #expect(throws: HTTPConnection.Failure.self) { _ = try parse(endlessHeader, maxHeadBytes: 1000) }
        let manyInterim = String(repeating: "HTTP/1.1 100 Continue\r\n\r\n", count: 100)
        #expect(throws: HTTPConnection.Failure.self) { _ = try parse(manyInterim, maxHeadBytes: 1000) }

        #expect(throws: HTTPConnection.Failure.self) {
            _ = try parse("HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", maxBodyBytes: 100)
        }
        #expect(
            try parse(
                "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + String(repeating: "b", count: 100),
                maxBodyBytes: 100
            ) != nil
        )
        let chunks =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + String(repeating: "10\r\n0123456789abcdef\r\n", count: 10)
        #expect(throws: HTTPConnection.Failure.self) { _ = try parse(chunks + "0\r\n\r\n", maxBodyBytes: 150) }
        let closeDelimited = "HTTP/1.1 200 OK\r\n\r\n" + String(repeating: "c", count: 200)
        #expect(throws: HTTPConnection.Failure.self) { _ = try parse(closeDelimited, maxBodyBytes: 150, close: true) }

        // An endless body fed in large pieces: the parser never holds much more than the cap.
        var parser = HTTPResponseParser(maxBodyBytes: 1 << 16)
        _ = try parser.consume(Array("HTTP/1.1 200 OK\r\n\r\n".utf8))
        let piece = [UInt8](repeating: 0x78, count: 1 << 20)
        #expect(throws: HTTPConnection.Failure.self) {
            for _ in 0..<100 { _ = try parser.consume(piece) }
        }
        #expect(parser.bufferedByteCount == 0)
    }

    @Test func endOfStream() throws {
        var silent = HTTPResponseParser()
        do {
            _ = try silent.finish()
            Issue.record("a silent peer gave a response")
        } catch {
            #expect(!error.isMalformedResponse, "a closed keep-alive connection is worth one more try")
            #expect(error.message.contains("before answering"))
        }
        var cut = HTTPResponseParser()
        #expect(try cut.consume(Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".utf8)) == nil)
        #expect(throws: HTTPConnection.Failure.self) { _ = try cut.finish() }
    }

    /// Random bytes and mutations of valid responses, in random pieces: any outcome but a trap is fine.
    @Test func randomInputNeverTraps() {
        var generator = SystemRandomNumberGenerator()
        let seeds = [
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 X\r\nRetry-After: 5\r\n\r\n",
        ].map { Array($0.utf8) }
        let alphabet = Array("0123456789abcdefABCDEF-+;:, \r\n\tHTTP/1.".utf8) + [0, 0xFF, 0x80]
        for round in 0..<20_000 {
            var bytes = seeds[round % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[index] = alphabet.randomElement(using: &generator)!
                case 1: bytes.insert(alphabet.randomElement(using: &generator)!, at: index)
                default: if bytes.count > 1 { bytes.remove(at: index) }
                }
            }
            if round % 7 == 0 {
                bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
            }
            var parser = HTTPResponseParser(maxHeadBytes: 256, maxBodyBytes: 64)
            var offset = 0
            while offset < bytes.count {
                let length = Int.random(in: 1...8, using: &generator)
                let end = min(offset + length, bytes.count)
                guard (try? parser.consume(bytes[offset..<end])) != nil || true else { break }
                offset = end
            }
            _ = try? parser.finish()
            #expect(parser.bufferedByteCount <= 256 + 64 + 16 * 1024)
        }
    }
}
