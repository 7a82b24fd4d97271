#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A contiguous block of bytes that a tensor views: either allocated here (and freed with the storage)
/// or borrowed from an owner that keeps it alive, such as a memory-mapped file.
public final class TensorStorage: @unchecked Sendable {
    public let bytes: UnsafeMutableRawPointer
    public let byteCount: Int
    private let owner: AnyObject?
    private let ownsBytes: Bool

    /// Allocates `byteCount` zeroed bytes, 64-byte aligned for the SIMD kernels.
    public init(zeroedByteCount byteCount: Int) {
        let size = max(byteCount, 1)
        self.bytes = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        self.bytes.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        self.byteCount = byteCount
        self.owner = nil
        self.ownsBytes = true
    }

    /// Views bytes that `owner` keeps alive (for example a mapped file).
    public init(borrowing bytes: UnsafeMutableRawPointer, byteCount: Int, owner: AnyObject) {
        self.bytes = bytes
        self.byteCount = byteCount
        self.owner = owner
        self.ownsBytes = false
    }

    deinit {
        if ownsBytes { bytes.deallocate() }
    }
}
