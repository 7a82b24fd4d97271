import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory. Tensors borrow its bytes, so pages are read from disk
/// only when a tensor is touched and large checkpoints cost no heap.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeMutableRawPointer
    public let size: Int

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw WeightFileError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw WeightFileError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        let size = Int(info.st_size)
        self.size = size
        if size == 0 {
            // mmap rejects empty files; keep a valid pointer so parsers can report "truncated".
            self.bytes = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64)
            return
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw WeightFileError.unreadable(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        self.bytes = mapped
    }

    /// Whether `bytes` is the mapping itself (an empty file has a one-byte placeholder instead).
    public var isMapping: Bool { size > 0 }

    deinit {
        if size == 0 { bytes.deallocate() } else { munmap(bytes, size) }
    }

    /// Little-endian unsigned integer at `offset`; the caller checks bounds.
    public func readUInt64(at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(start: bytes + offset, count: 8)) }
        return UInt64(littleEndian: value)
    }
}
