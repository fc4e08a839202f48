import CAutoTraceProbes
import Foundation

/// Reads the spans a woven process writes into its attach ring while `autotrace:ring`'s semaphore is raised. The
/// ring is shared memory: the collector maps the process's ring file (through `/proc/PID/fd`) and reads it in place,
/// so neither side makes a system call per span and the process is never entered. Reading cannot disturb the
/// process: the mapping is read-only, and a record a writer is changing is recognised by its sequence number.
final class AttachRingReader {
    typealias Header = autotrace_attach_ring_t
    typealias Slot = autotrace_attach_slot_t

    private let pid: Int32
    private let memory: ProcessMemory
    /// Where `autotrace_listeners` is in the process.
    private let listenersAddress: UInt64
    private var ring: UnsafePointer<Header>?
    private var mappedBytes = 0
    /// Slots, as mapped: the header is the process's to write, so it is not read again.
    private var capacity: UInt64 = 0
    /// The ticket of the next record to read.
    private var cursor: UInt64 = 0
    /// The ring's tickets and drops when the attachment began: earlier records belong to an earlier attachment.
    private var ticketsAtStart: UInt64 = 0
    private var droppedAtStart: UInt64 = 0
    /// Drains for which the record at the cursor has not been there: its writer lost it, or is still writing it.
    private var stalledDrains = 0
    private let record = UnsafeMutablePointer<Slot>.allocate(capacity: 1)

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

    /// A record still missing after this many drains was claimed by a writer that then dropped it.
    private static let drainsBeforeSkipping = 50

    /// `listenersAddress`: where `autotrace_listeners` is in the process (the `ring` probe's semaphore address − 2).
    init?(pid: Int32, listenersAddress: UInt64) {
        guard let memory = ProcessMemory(pid: pid) else { return nil }
        self.pid = pid
        self.memory = memory
        self.listenersAddress = listenersAddress
    }

    deinit {
        record.deallocate()
        if let ring { munmap(UnsafeMutableRawPointer(mutating: ring), mappedBytes) }
    }

    /// Call before the semaphore is raised: a ring an earlier attachment made is read from where it stands now.
    func start() {
        guard let ring = mappedRing() else { return }
        cursor = autotrace_attach_ring_tickets(ring)
        ticketsAtStart = cursor
        droppedAtStart = autotrace_attach_ring_dropped(ring)
    }

    /// Hands every record written since the last drain to `deliver`, oldest first.
    func drain(_ deliver: (UnsafePointer<Slot>) -> Void) {
        guard let ring = mappedRing() else { return }
        let next = autotrace_attach_ring_tickets(ring)
        spansEnded = next &- ticketsAtStart
        writerDropped = autotrace_attach_ring_dropped(ring) &- droppedAtStart
        if next > cursor + capacity {
            lost += next - capacity - cursor
            cursor = next - capacity
            stalledDrains = 0
        }
        while cursor < next {
            switch autotrace_attach_ring_read(ring, capacity, cursor, record) {
            case AUTOTRACE_ATTACH_READ_RECORD:
                if record.pointee.flags & UInt32(AUTOTRACE_ATTACH_ATTRIBUTES_TRUNCATED) != 0 {
                    attributesTruncated += 1
                }
                deliver(record)
            case AUTOTRACE_ATTACH_READ_OVERWRITTEN:
                lost += 1
            default:
                // Being written, or claimed by a writer that found the slot busy and dropped it (counted in the
                // header): look again next time, and pass it over once it has stayed missing too long.
                if stalledDrains < Self.drainsBeforeSkipping {
                    stalledDrains += 1
                    return
                }
                lost += 1
            }
            stalledDrains = 0
            cursor += 1
        }
    }

    /// The process's ring, mapped read-only here once it exists.
    private func mappedRing() -> UnsafePointer<Header>? {
        if let ring { return ring }
        let listeners = MemoryLayout<autotrace_listeners_t>.self
        guard
            let address = memory.load(UInt64.self, at: listenersAddress + UInt64(listeners.offset(of: \.attach_ring)!)),
            address != 0,
            let fd = memory.load(Int32.self, at: listenersAddress + UInt64(listeners.offset(of: \.attach_ring_fd)!))
        else { return nil }
        let file = open("/proc/\(pid)/fd/\(fd)", O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { return nil }
        defer { close(file) }
        var header = Header()
        var status = stat()
        // The header must describe exactly the file: a ring read past its end would fault the collector.
        guard pread(file, &header, MemoryLayout<Header>.size, 0) == MemoryLayout<Header>.size,
            header.magic == AUTOTRACE_ATTACH_RING_MAGIC, header.slot_size == UInt64(MemoryLayout<Slot>.size),
            header.capacity > 0, header.capacity < 1 << 32, fstat(file, &status) == 0,
            UInt64(status.st_size) == autotrace_attach_ring_size(header.capacity)
        else { return nil }
        let bytes = Int(autotrace_attach_ring_size(header.capacity))
        guard let mapped = mmap(nil, bytes, PROT_READ, MAP_SHARED, file, 0), mapped != MAP_FAILED else { return nil }
        mappedBytes = bytes
        capacity = header.capacity
        ring = UnsafePointer(mapped.assumingMemoryBound(to: Header.self))
        return ring
    }
}
