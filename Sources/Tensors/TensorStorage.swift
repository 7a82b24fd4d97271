#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A contiguous block of bytes that a tensor views: either allocated here (and freed with the storage)
/// or borrowed from an owner that keeps it alive, such as a memory-mapped file.
public final class TensorStorage: @unchecked Sendable {
    public let bytes: UnsafeMutableRawPointer
    public let byteCount: Int
    private let owner: AnyObject?
    private let ownsBytes: Bool
    /// Whether `bytes` is a read-only mapping of a file, whose pages the OS can drop and read again.
    private let mapsFile: Bool
    /// Copies of parts of these bytes in another layout (see `derivedCopy`), by key; guarded by `lock`.
    private var derived: [Int: DerivedBytes] = [:]
    private let lock = NSLock()

    /// Allocates `byteCount` zeroed bytes, 64-byte aligned for the SIMD kernels.
    public init(zeroedByteCount byteCount: Int) {
        let size = max(byteCount, 1)
        self.bytes = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        self.bytes.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        self.byteCount = byteCount
        self.owner = nil
        self.ownsBytes = true
        self.mapsFile = false
    }

    /// Views bytes that `owner` keeps alive. `mapsFile`: they are a read-only mapping of a file, so
    /// `releasePages` may hand their pages back to the OS.
    public init(borrowing bytes: UnsafeMutableRawPointer, byteCount: Int, owner: AnyObject, mapsFile: Bool = false) {
        self.bytes = bytes
        self.byteCount = byteCount
        self.owner = owner
        self.ownsBytes = false
        self.mapsFile = mapsFile
    }

    deinit {
        if ownsBytes { bytes.deallocate() }
        for copy in derived.values { copy.free() }
    }

    /// A copy of some of these bytes in another layout (for example a bf16 weight packed for the
    /// dot-product kernel), made by `fill` into `byteCount` fresh 64-byte aligned bytes the first time
    /// `key` is asked for, then kept and freed with the storage. Callers choose keys that name the part
    /// and the layout. Concurrent callers wait for one `fill`.
    public func derivedCopy(key: Int, byteCount: Int, fill: (UnsafeMutableRawPointer) -> Void) -> UnsafeRawPointer {
        lock.lock()
        defer { lock.unlock() }
        if let copy = derived[key] { return UnsafeRawPointer(copy.pointer) }
        let copy = DerivedBytes(byteCount: byteCount)
        fill(copy.pointer)
        derived[key] = copy
        return UnsafeRawPointer(copy.pointer)
    }

    /// The copy made for `key`, if one has been made.
    public func existingDerivedCopy(key: Int) -> UnsafeRawPointer? {
        lock.lock()
        defer { lock.unlock() }
        return derived[key].map { UnsafeRawPointer($0.pointer) }
    }

    /// Lets the OS drop the pages wholly inside `offset..<offset + count` from memory, for bytes that
    /// now live on in a derived copy: a mapped file's pages are read again from the file if anything
    /// touches them later. Does nothing for memory that is not a file mapping (there, dropping a page
    /// would lose it).
    public func releasePages(offset: Int, count: Int) {
        guard mapsFile, count > 0 else { return }
        let page = Int(getpagesize())
        let start = Int(bitPattern: bytes + offset), end = start + count
        let first = (start + page - 1) / page * page, last = end / page * page
        guard last > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(pointer, last - first, MADV_DONTNEED)
    }
}

/// The memory of a derived copy. Copies of a megabyte or more (packed weights) are streamed whole by
/// every product, so on Linux they live on 2 MB pages where the kernel grants them: a page walk per 2 MB
/// instead of per 4 KB of weights streamed.
private struct DerivedBytes {
    let pointer: UnsafeMutableRawPointer
    /// The length of the anonymous mapping `pointer` starts, or 0 when it came from `allocate`.
    private let mappedLength: Int

    init(byteCount: Int) {
        #if os(Linux)
        let hugePage = 2 << 20
        if byteCount >= 1 << 20 {
            let length = (byteCount + hugePage - 1) / hugePage * hugePage
            // Over-map by a huge page so the copy can start on a 2 MB boundary, then unmap the ends.
            if let raw = mmap(nil, length + hugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
               raw != MAP_FAILED {
                let start = (Int(bitPattern: raw) + hugePage - 1) / hugePage * hugePage
                let head = start - Int(bitPattern: raw)
                if head > 0 { munmap(raw, head) }
                let tail = hugePage - head
                if tail > 0, let end = UnsafeMutableRawPointer(bitPattern: start + length) { munmap(end, tail) }
                if let aligned = UnsafeMutableRawPointer(bitPattern: start) {
                    _ = madvise(aligned, length, MADV_HUGEPAGE)
                    pointer = aligned
                    mappedLength = length
                    return
                }
            }
        }
        #endif
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        mappedLength = 0
    }

    func free() {
        if mappedLength > 0 { munmap(pointer, mappedLength) } else { pointer.deallocate() }
    }
}
