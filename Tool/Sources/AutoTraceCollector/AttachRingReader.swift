import CAutoTraceProbes

/// Reads the spans a woven process writes into its attach ring while `autotrace:ring`'s semaphore is raised, from
/// outside the process (`/proc/PID/mem`): the process pays a copy into memory per span instead of a trap. Nothing
/// here can disturb the process: it only reads, and a slot it copies while the process rewrites it is recognised by
/// the sequence numbers at the slot's two ends and read again.
final class AttachRingReader {
    typealias Header = autotrace_attach_ring_t
    typealias Slot = autotrace_attach_slot_t

    private let memory: ProcessMemory
    /// Where the process publishes the ring's address (`autotrace_listeners.attach_ring`).
    private let ringPointerAddress: UInt64
    private var ring: (address: UInt64, capacity: UInt64)?
    /// The ticket of the next record to read.
    private var cursor: UInt64 = 0
    /// The ring's tickets and drops when the attachment began: earlier records belong to an earlier attachment.
    private var ticketsAtStart: UInt64 = 0
    private var droppedAtStart: UInt64 = 0
    /// Drains for which the slot at the cursor has not been complete: its writer lost it, or is still writing it.
    private var stalledDrains = 0
    /// Slots read per `pread`.
    private let buffer = UnsafeMutableBufferPointer<Slot>.allocate(capacity: 64)

    /// Spans that ended in the process since the attachment began (tickets taken).
    private(set) var spansEnded: UInt64 = 0
    /// Records passed over unread: overwritten by a later lap before the collector came to them (it fell a whole
    /// ring behind), or never written.
    private(set) var lost: UInt64 = 0
    /// Records the process could not write because their slot was still being written a lap behind (part of `lost`
    /// once the reader has passed them).
    private(set) var writerDropped: UInt64 = 0
    /// Records whose attributes were cut at `AUTOTRACE_ATTACH_ATTRIBUTES_MAX`.
    private(set) var attributesTruncated: UInt64 = 0

    /// A slot still incomplete after this many drains was claimed by a writer that then dropped it.
    private static let drainsBeforeSkipping = 50

    /// `listenersAddress`: where `autotrace_listeners` is in the process (the `ring` probe's semaphore address − 2).
    init?(pid: Int32, listenersAddress: UInt64) {
        guard let memory = ProcessMemory(pid: pid) else { return nil }
        self.memory = memory
        ringPointerAddress = listenersAddress + UInt64(MemoryLayout<autotrace_listeners_t>.offset(of: \.attach_ring)!)
    }

    deinit { buffer.deallocate() }

    /// Call before the semaphore is raised: a ring an earlier attachment made is read from where it stands now.
    func start() {
        guard locateRing(), let header = header() else { return }
        cursor = header.next_ticket
        ticketsAtStart = header.next_ticket
        droppedAtStart = header.dropped
    }

    /// Hands every complete record written since the last drain to `deliver`, oldest first.
    func drain(_ deliver: (UnsafePointer<Slot>) -> Void) {
        guard locateRing(), let ring, let header = header() else { return }
        spansEnded = header.next_ticket &- ticketsAtStart
        writerDropped = header.dropped &- droppedAtStart
        let next = header.next_ticket
        if next > cursor + ring.capacity {
            lost += next - ring.capacity - cursor
            cursor = next - ring.capacity
            stalledDrains = 0
        }
        let slotsStart = ring.address + UInt64(MemoryLayout<Header>.size)
        let stride = MemoryLayout<Slot>.stride
        while cursor < next {
            let index = cursor % ring.capacity
            let count = Int(min(next - cursor, ring.capacity - index, UInt64(buffer.count)))
            let bytes = UnsafeMutableRawBufferPointer(
                rebasing: UnsafeMutableRawBufferPointer(buffer)[..<(count * stride)]
            )
            guard memory.read(into: bytes, from: slotsStart + index * UInt64(stride)) else { return }
            for offset in 0..<count {
                let expected = 2 * cursor + 2
                if buffer[offset].sequence == expected, buffer[offset].sequence_end == expected {
                    if buffer[offset].flags & UInt32(AUTOTRACE_ATTACH_ATTRIBUTES_TRUNCATED) != 0 {
                        attributesTruncated += 1
                    }
                    deliver(UnsafePointer(buffer.baseAddress! + offset))
                } else if buffer[offset].sequence > expected {
                    lost += 1  // a later lap's record is there already
                } else if stalledDrains < Self.drainsBeforeSkipping {
                    // Being written, or claimed by a writer that found the slot busy and dropped it (counted in
                    // the header): look again next time, and skip it once it has stayed incomplete too long.
                    stalledDrains += 1
                    return
                } else {
                    lost += 1
                }
                stalledDrains = 0
                cursor += 1
            }
        }
    }

    private func locateRing() -> Bool {
        if ring != nil { return true }
        guard let address = memory.load(UInt64.self, at: ringPointerAddress), address != 0,
            let header = memory.load(Header.self, at: address), header.magic == AUTOTRACE_ATTACH_RING_MAGIC,
            header.slot_size == UInt64(MemoryLayout<Slot>.stride), header.capacity > 0
        else { return false }
        ring = (address, header.capacity)
        return true
    }

    private func header() -> Header? {
        guard let ring else { return nil }
        return memory.load(Header.self, at: ring.address)
    }
}
