import Foundation

/// One member of a ZIP archive, located through the central directory.
public struct ZipEntry: Sendable, Equatable {
    public enum Compression: Sendable, Equatable {
        case stored
        case deflated
        /// Any other method number; reading such a member is an error.
        case unsupported(UInt16)
    }

    public let name: String
    public let compression: Compression
    public let compressedSize: Int
    public let uncompressedSize: Int
    public let crc32: UInt32
    /// Byte offset of the member's local header in the file.
    public let localHeaderOffset: Int
    /// Byte offset of the member's (possibly compressed) data in the file.
    public let dataOffset: Int
    public let isEncrypted: Bool
}

/// The table of contents of a ZIP file (such as an `.npz`) that is already mapped into memory.
///
/// Sizes come from the central directory, which is authoritative: numpy writes every local header
/// with ZIP64 placeholders (0xFFFFFFFF) whatever the member size, so ZIP64 extra fields are read
/// wherever they appear. Only single-disk archives exist in practice and only those are accepted.
public struct ZipArchive: Sendable {
    public let path: String
    public let entries: [ZipEntry]

    private static let localHeaderSignature: UInt32 = 0x0403_4b50
    private static let centralHeaderSignature: UInt32 = 0x0201_4b50
    private static let endSignature: UInt32 = 0x0605_4b50
    private static let zip64EndSignature: UInt32 = 0x0606_4b50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4b50
    /// Largest expansion DEFLATE can achieve (RFC 1951: 258 bytes per length/distance pair of 2 bits).
    static let maxDeflateRatio: UInt64 = 1032

    public init(file: MappedFile) throws {
        path = file.path
        let reader = ByteReader(base: UnsafeRawPointer(file.bytes), count: file.size, path: file.path)
        let end = try Self.findEndRecord(reader)
        let directory = try Self.centralDirectoryLocation(reader, endOffset: end)
        var entries: [ZipEntry] = []
        entries.reserveCapacity(directory.count)
        var offset = directory.offset
        for index in 0..<directory.count {
            let (entry, next) = try Self.readCentralEntry(reader, at: offset, index: index, directoryEnd: directory.end)
            entries.append(entry)
            offset = next
        }
        self.entries = entries
    }

    public func entry(named name: String) -> ZipEntry? {
        entries.first { $0.name == name }
    }

    // MARK: - End of central directory

    private static func findEndRecord(_ r: ByteReader) throws -> Int {
        guard r.count >= 22 else {
            throw WeightFileError.truncated(path: r.path, reason: "\(r.count) bytes is too short for a ZIP archive (needs at least 22)")
        }
        // The record is 22 bytes plus a comment of at most 65535 bytes, at the very end of the file.
        let lowest = max(0, r.count - 22 - 0xFFFF)
        var offset = r.count - 22
        while offset >= lowest {
            if r.u32(offset) == endSignature, offset + 22 + Int(r.u16(offset + 20)) == r.count {
                return offset
            }
            offset -= 1
        }
        throw WeightFileError.truncated(
            path: r.path,
            reason: "no ZIP end-of-central-directory record in the last \(r.count - lowest) bytes; the file is cut short or is not an .npz/.zip")
    }

    private struct DirectoryLocation { let offset: Int; let count: Int; let end: Int }

    private static func centralDirectoryLocation(_ r: ByteReader, endOffset e: Int) throws -> DirectoryLocation {
        let disk = r.u16(e + 4), directoryDisk = r.u16(e + 6)
        var countOnDisk = UInt64(r.u16(e + 8)), total = UInt64(r.u16(e + 10))
        var size = UInt64(r.u32(e + 12)), offset = UInt64(r.u32(e + 16))
        let needsZip64 = total == 0xFFFF || countOnDisk == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF
        if needsZip64 {
            let locator = e - 20
            guard locator >= 0, r.u32(locator) == zip64LocatorSignature else {
                throw WeightFileError.malformedHeader(
                    path: r.path, offset: e,
                    reason: "end-of-central-directory record uses ZIP64 placeholders but no ZIP64 locator precedes it")
            }
            // Compared as UInt64 before any conversion: the offset is 64 bits of untrusted input, and
            // `offset + 56` on a converted value near Int.max would wrap (unchecked builds do not trap).
            let recordOffset = r.u64(locator + 8)
            guard recordOffset <= UInt64(locator), UInt64(locator) - recordOffset >= 56,
                  r.u32(Int(recordOffset)) == zip64EndSignature else {
                throw WeightFileError.malformedHeader(
                    path: r.path, offset: locator,
                    reason: "ZIP64 locator points to byte \(recordOffset), where there is no ZIP64 end record (it must lie before byte \(locator))")
            }
            let record = Int(recordOffset)
            guard r.u32(record + 16) == 0, r.u32(record + 20) == 0, r.u32(locator + 16) <= 1 else {
                throw WeightFileError.malformedHeader(path: r.path, offset: record, reason: "multi-disk (split) ZIP archives are not supported")
            }
            countOnDisk = r.u64(record + 24)
            total = r.u64(record + 32)
            size = r.u64(record + 40)
            offset = r.u64(record + 48)
        } else if disk != 0 || directoryDisk != 0 {
            throw WeightFileError.malformedHeader(path: r.path, offset: e, reason: "multi-disk (split) ZIP archives are not supported")
        }
        guard countOnDisk == total else {
            throw WeightFileError.malformedHeader(path: r.path, offset: e, reason: "multi-disk (split) ZIP archives are not supported")
        }
        guard offset <= UInt64(r.count), size <= UInt64(r.count) - offset, total <= size / 46 else {
            throw WeightFileError.truncated(
                path: r.path,
                reason: "central directory (\(total) entries, \(size) bytes at byte \(offset)) does not fit in the \(r.count)-byte file")
        }
        return DirectoryLocation(offset: Int(offset), count: Int(total), end: Int(offset + size))
    }

    // MARK: - Entries

    private static func readCentralEntry(
        _ r: ByteReader, at o: Int, index: Int, directoryEnd: Int
    ) throws -> (ZipEntry, Int) {
        guard o + 46 <= directoryEnd, r.u32(o) == centralHeaderSignature else {
            throw WeightFileError.malformedHeader(path: r.path, offset: o, reason: "central directory entry \(index) has no valid signature")
        }
        let flags = r.u16(o + 8)
        let method = r.u16(o + 10)
        let crc = r.u32(o + 16)
        var compressed = UInt64(r.u32(o + 20)), uncompressed = UInt64(r.u32(o + 24))
        let nameLength = Int(r.u16(o + 28)), extraLength = Int(r.u16(o + 30)), commentLength = Int(r.u16(o + 32))
        let startDisk = r.u16(o + 34)
        var localOffset = UInt64(r.u32(o + 42))
        let next = o + 46 + nameLength + extraLength + commentLength
        guard next <= directoryEnd else {
            throw WeightFileError.malformedHeader(path: r.path, offset: o, reason: "central directory entry \(index) runs past the end of the directory")
        }
        let name = r.string(o + 46, count: nameLength)
        var fields = Zip64Fields(uncompressed: uncompressed == 0xFFFF_FFFF, compressed: compressed == 0xFFFF_FFFF,
                                 offset: localOffset == 0xFFFF_FFFF, disk: startDisk == 0xFFFF)
        if fields.any {
            try readZip64Extra(r, extraAt: o + 46 + nameLength, length: extraLength, member: name, fields: &fields,
                               uncompressed: &uncompressed, compressed: &compressed, offset: &localOffset)
        }
        guard r.count >= 30, localOffset <= UInt64(r.count - 30) else {
            throw WeightFileError.truncated(path: r.path, reason: "member '\(name)' starts at byte \(localOffset), past the end of the \(r.count)-byte file")
        }
        let local = Int(localOffset)
        guard r.u32(local) == localHeaderSignature else {
            throw WeightFileError.malformedHeader(path: r.path, offset: local, reason: "member '\(name)': no local file header at the offset the central directory gives")
        }
        let localNameLength = Int(r.u16(local + 26)), localExtraLength = Int(r.u16(local + 28))
        let dataOffset = local + 30 + localNameLength + localExtraLength
        guard localNameLength == nameLength, r.string(local + 30, count: localNameLength) == name else {
            throw WeightFileError.malformedHeader(path: r.path, offset: local, reason: "member '\(name)': local header names a different file")
        }
        guard compressed <= UInt64(r.count), dataOffset <= r.count - Int(compressed) else {
            throw WeightFileError.truncated(
                path: r.path,
                reason: "member '\(name)' needs \(compressed) bytes from byte \(dataOffset), past the end of the \(r.count)-byte file")
        }
        guard uncompressed <= UInt64(Int.max / 2) else {
            throw WeightFileError.malformedHeader(path: r.path, offset: o, reason: "member '\(name)' claims an impossible size of \(uncompressed) bytes")
        }
        let compression: ZipEntry.Compression
        switch method {
        case 0: compression = .stored
        case 8: compression = .deflated
        default: compression = .unsupported(method)
        }
        // Readers allocate the declared size up front, so it must be one the compressed bytes can
        // produce: DEFLATE's best case is a 258-byte match per 2 bits, about 1032:1, plus a few
        // bytes for a tiny stream. (Both sides are at most the file size × 1032: no overflow.)
        if compression == .deflated, uncompressed > compressed * Self.maxDeflateRatio + 1024 {
            throw WeightFileError.malformedHeader(
                path: r.path, offset: o,
                reason: "member '\(name)' declares \(uncompressed) bytes, more than its \(compressed) compressed bytes can inflate to (DEFLATE expands at most \(Self.maxDeflateRatio):1)")
        }
        if compression == .stored, compressed != uncompressed {
            throw WeightFileError.malformedHeader(
                path: r.path, offset: o, reason: "stored member '\(name)' has compressed size \(compressed) but uncompressed size \(uncompressed)")
        }
        let entry = ZipEntry(
            name: name, compression: compression, compressedSize: Int(compressed), uncompressedSize: Int(uncompressed),
            crc32: crc, localHeaderOffset: local, dataOffset: dataOffset, isEncrypted: flags & 1 != 0)
        return (entry, next)
    }

    private struct Zip64Fields {
        var uncompressed: Bool, compressed: Bool, offset: Bool, disk: Bool
        var any: Bool { uncompressed || compressed || offset || disk }
        var byteCount: Int { (uncompressed ? 8 : 0) + (compressed ? 8 : 0) + (offset ? 8 : 0) + (disk ? 4 : 0) }
    }

    /// The ZIP64 extra field (id 1) holds, in this order, only the values whose 32-bit slot is 0xFFFFFFFF.
    private static func readZip64Extra(
        _ r: ByteReader, extraAt start: Int, length: Int, member: String, fields: inout Zip64Fields,
        uncompressed: inout UInt64, compressed: inout UInt64, offset: inout UInt64
    ) throws {
        var p = start
        while p + 4 <= start + length {
            let id = r.u16(p), size = Int(r.u16(p + 2))
            guard p + 4 + size <= start + length else { break }
            if id == 1 {
                guard size >= fields.byteCount - (fields.disk ? 4 : 0) else { break }
                var q = p + 4
                if fields.uncompressed { uncompressed = r.u64(q); q += 8 }
                if fields.compressed { compressed = r.u64(q); q += 8 }
                if fields.offset { offset = r.u64(q); q += 8 }
                if fields.disk, q + 4 <= p + 4 + size, r.u32(q) != 0 {
                    throw WeightFileError.malformedHeader(path: r.path, offset: q, reason: "member '\(member)' lies on another disk; split archives are not supported")
                }
                return
            }
            p += 4 + size
        }
        throw WeightFileError.malformedHeader(
            path: r.path, offset: start,
            reason: "member '\(member)' has ZIP64 placeholder sizes but no valid ZIP64 extra field to resolve them")
    }
}

/// Little-endian reads from a mapped byte range; callers check bounds before reading.
struct ByteReader {
    let base: UnsafeRawPointer
    let count: Int
    let path: String

    func u16(_ o: Int) -> UInt16 { UInt16(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
    func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
    func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
    func string(_ o: Int, count n: Int) -> String {
        guard o >= 0, n >= 0, o + n <= count else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: base + o, count: n), as: UTF8.self)
    }
}
