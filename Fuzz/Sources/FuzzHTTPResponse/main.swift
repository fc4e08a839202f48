import FuzzSupport

@testable import AutoTrace

/// The OTLP exporter's HTTP/1.1 response parser on anything a peer could send, arriving in pieces.
///
/// Input layout: a byte whose low bit picks small caps (then the next two bytes size them) or the defaults; a byte
/// giving the number of split points (0-7) and that many piece lengths; the rest is the response. The pieces are
/// consumed in turn (an empty piece too), then `finish()` if no response came.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let small = input.byte() & 1 == 1
    let headCap = Int(input.byte()) * 4
    let bodyCap = Int(input.byte()) * 16
    var parser = small ? HTTPResponseParser(maxHeadBytes: headCap, maxBodyBytes: bodyCap) : HTTPResponseParser()
    let maxBody = small ? bodyCap : HTTPResponseParser.defaultMaxBodyBytes
    var pieces = (0..<input.choose(8)).map { _ in Int(input.byte()) }
    var stream = input.rest()
    pieces.append(stream.count)
    do throws(HTTPConnection.Failure) {
        var response: HTTPResponse?
        for length in pieces where response == nil {
            response = try parser.consume(stream.prefix(length))
            stream = stream.dropFirst(length)
        }
        let complete: HTTPResponse
        if let response { complete = response } else { complete = try parser.finish() }
        precondition(
            complete.body.count <= maxBody,
            "a body of \(complete.body.count) bytes passed a cap of \(maxBody)"
        )
        // Once complete, later bytes are ignored and the same response is returned.
        let again = try parser.consume(stream.isEmpty ? [0x48] : stream)
        precondition(again?.status == complete.status && again?.body == complete.body, "a different second answer")
    } catch {
        _ = error.message
    }
    return 0
}
