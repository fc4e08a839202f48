import AutoTraceELF
import CAutoTraceProbes
import Foundation
import Testing

@testable import AutoTraceCollector

/// The attach ring read the way `autotrace attach` reads it, through /proc/PID/mem — here this process's own, whose
/// ring the tests write with the runtime's C functions. One ring per process, so the tests run one after another.
@Suite(.serialized) struct AttachRingReaderTests {
    /// Writes one record the way the runtime does; `publish: false` leaves it claimed, as a writer mid-record would.
    @discardableResult
    static func write(spanID: UInt64, name: String = "GET /", publish: Bool = true) throws -> (
        UnsafeMutablePointer<autotrace_attach_slot_t>, UInt64
    ) {
        let ring = try #require(autotrace_attach_ring())
        var ticket: UInt64 = 0
        let slot = try #require(autotrace_attach_ring_claim(ring, &ticket))
        slot.pointee.site_kind_status = 7 | 2 << 32
        slot.pointee.trace_id_high = 1
        slot.pointee.trace_id_low = 2
        slot.pointee.span_id = spanID
        slot.pointee.start_unix_nanos = 10
        slot.pointee.end_unix_nanos = 20
        let bytes = Array(name.utf8)
        withUnsafeMutableBytes(of: &slot.pointee.name) { $0.copyBytes(from: bytes) }
        slot.pointee.name_length = UInt32(bytes.count)
        slot.pointee.attributes_length = 0
        if publish { autotrace_attach_ring_publish(slot, ticket) }
        return (slot, ticket)
    }

    /// A reader that finds the ring as `autotrace attach` does: from the `ring` probe's semaphore in the ELF notes.
    static func reader() throws -> AttachRingReader {
        let process = try TargetProcess(pid: getpid())
        let binary = try ELFFile(path: process.executable)
        let ring = try #require(binary.usdtProbes().first { $0.provider == "autotrace" && $0.name == "ring" })
        let listeners = try #require(process.runtimeAddress(of: ring.semaphoreAddress - 2, in: binary))
        return try #require(AttachRingReader(pid: getpid(), listenersAddress: listeners))
    }

    static func drain(_ reader: AttachRingReader) -> [(UInt64, String)] {
        var read: [(UInt64, String)] = []
        var assembler = SpanAssembler(siteTable: [])
        reader.drain { slot in
            let span = assembler.consume(slot)
            read.append((span.spanID.value, span.operationName))
        }
        return read
    }

    @Test func readsWhatWasWrittenSinceTheStartInOrder() throws {
        try Self.write(spanID: 99)  // before the attachment: not this reader's
        let reader = try Self.reader()
        reader.start()
        for id in 1...5 { try Self.write(spanID: UInt64(id), name: "span \(id)") }
        let read = Self.drain(reader)
        #expect(read.map(\.0) == [1, 2, 3, 4, 5])
        #expect(read.map(\.1) == (1...5).map { "span \($0)" })
        #expect(reader.spansEnded == 5 && reader.lost == 0 && reader.writerDropped == 0)
        #expect(Self.drain(reader).isEmpty, "each record is read once")
    }

    @Test func aRecordBeingWrittenHoldsBackTheOnesAfterItUntilItIsDone() throws {
        let reader = try Self.reader()
        reader.start()
        try Self.write(spanID: 1)
        let (slot, ticket) = try Self.write(spanID: 2, publish: false)
        try Self.write(spanID: 3)
        #expect(Self.drain(reader).map(\.0) == [1])
        autotrace_attach_ring_publish(slot, ticket)
        #expect(Self.drain(reader).map(\.0) == [2, 3])
        // A slot its writer never finishes is given up on after a while; the records after it still come.
        let (abandoned, abandonedTicket) = try Self.write(spanID: 4, publish: false)
        try Self.write(spanID: 5)
        var read: [UInt64] = []
        for _ in 0..<60 { read += Self.drain(reader).map(\.0) }
        #expect(read == [5] && reader.lost == 1)
        // Finished after all (a writer stopped for a long time): the slot is usable again once the ring comes round.
        autotrace_attach_ring_publish(abandoned, abandonedTicket)
    }

    @Test func aReaderAWholeRingBehindCountsWhatWasOverwritten() throws {
        let reader = try Self.reader()
        reader.start()
        let capacity = Int(try #require(autotrace_attach_ring()).pointee.capacity)
        for id in 1...(capacity + 10) { try Self.write(spanID: UInt64(id)) }
        let read = Self.drain(reader)
        #expect(read.count == capacity)
        #expect(read.first?.0 == 11 && read.last?.0 == UInt64(capacity + 10))
        #expect(reader.lost == 10 && reader.spansEnded == UInt64(capacity + 10))
    }

    /// Four threads write while the reader drains: every record read is whole (its name matches its id), and every
    /// record is read or counted.
    @Test func writersRacingTheReaderNeverYieldAHalfWrittenRecord() throws {
        let reader = try Self.reader()
        reader.start()
        let perThread = 20_000
        let writers = (0..<4).map { thread in
            Thread {
                let ring = autotrace_attach_ring()!
                for index in 0..<perThread {
                    let id = UInt64(thread * perThread + index + 1)
                    var ticket: UInt64 = 0
                    guard let slot = autotrace_attach_ring_claim(ring, &ticket) else { continue }
                    slot.pointee.span_id = id
                    let bytes = Array("record \(id)".utf8)
                    withUnsafeMutableBytes(of: &slot.pointee.name) { $0.copyBytes(from: bytes) }
                    slot.pointee.name_length = UInt32(bytes.count)
                    autotrace_attach_ring_publish(slot, ticket)
                }
            }
        }
        writers.forEach { $0.start() }
        var read = 0
        var torn = 0
        while writers.contains(where: { !$0.isFinished }) || reader.spansEnded < UInt64(4 * perThread) {
            for (id, name) in Self.drain(reader) {
                read += 1
                if name != "record \(id)" { torn += 1 }
            }
        }
        // Then until every ticket is read or passed over (a dropped one after the reader gives up on it).
        for _ in 0..<100 where UInt64(read) + reader.lost < UInt64(4 * perThread) {
            for (id, name) in Self.drain(reader) {
                read += 1
                if name != "record \(id)" { torn += 1 }
            }
        }
        #expect(torn == 0)
        #expect(UInt64(read) + reader.lost == UInt64(4 * perThread), "read \(read), lost \(reader.lost)")
        #expect(reader.writerDropped <= reader.lost)
    }
}
