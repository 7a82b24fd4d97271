import CZlib
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Pulls the uncompressed bytes of one DEFLATE-compressed ZIP member out in order, checking the
/// member's CRC-32 and size once the end is reached. The compressed bytes are read in place
/// (from the mapped file), so nothing but the caller's output buffers is allocated.
final class InflateStream {
    private let stream: UnsafeMutablePointer<z_stream>
    private let inputStart: UnsafeRawPointer
    private var input: UnsafeRawPointer
    private var inputLeft: Int
    private let entry: ZipEntry
    private let path: String
    private var crc: UInt = 0
    private(set) var produced = 0
    private var ended = false

    /// zlib counts with 32-bit fields, so input is handed over in pieces of at most this size.
    private static let maxPiece = 1 << 30

    init(entry: ZipEntry, file: MappedFile) throws {
        self.entry = entry
        self.path = file.path
        inputStart = UnsafeRawPointer(file.bytes + entry.dataOffset)
        input = inputStart
        inputLeft = entry.compressedSize
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // Negative window bits: a raw DEFLATE stream, as ZIP stores it (no zlib header).
        let status = inflateInit2_(stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            throw WeightFileError.unreadable(path: path, reason: "zlib could not start inflating member '\(entry.name)' (status \(status))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        releaseInputPages()
    }

    /// The compressed bytes were only needed once: drop their mapped pages from the resident set
    /// (the mapping is read-only and file-backed, so a later read simply faults them in again).
    private func releaseInputPages() {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: inputStart)
        let first = (start + page - 1) / page * page
        let last = (start + entry.compressedSize) / page * page
        guard last > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(pointer, last - first, Int32(MADV_DONTNEED))
    }

    /// Fills exactly `count` bytes at `destination` (or discards them when it is nil).
    func read(into destination: UnsafeMutableRawPointer?, count: Int) throws {
        var scratch: UnsafeMutableRawPointer?
        defer { scratch?.deallocate() }
        var done = 0
        while done < count {
            guard !ended else {
                throw WeightFileError.truncated(
                    path: path,
                    reason: "member '\(entry.name)' inflates to \(produced) bytes, fewer than the \(produced + count - done) its contents need")
            }
            let piece = min(count - done, Self.maxPiece)
            let target: UnsafeMutableRawPointer
            if let destination {
                target = destination + done
            } else {
                if scratch == nil { scratch = .allocate(byteCount: min(count, 1 << 20), alignment: 16) }
                target = scratch!
            }
            let length = destination == nil ? min(piece, 1 << 20) : piece
            let got = try inflate(into: target, count: length)
            crc = crc32(crc, target.assumingMemoryBound(to: UInt8.self), UInt32(got))
            done += got
            produced += got
        }
    }

    /// Confirms the stream ended where the central directory says and that the CRC matches.
    func finish() throws {
        if !ended {
            var probe: UInt8 = 0
            let extra = try withUnsafeMutableBytes(of: &probe) { try inflate(into: $0.baseAddress!, count: 1) }
            guard extra == 0, ended else {
                throw WeightFileError.malformedHeader(
                    path: path, offset: entry.dataOffset, reason: "member '\(entry.name)' holds more data than its contents need")
            }
        }
        guard produced == entry.uncompressedSize else {
            throw WeightFileError.malformedHeader(
                path: path, offset: entry.localHeaderOffset,
                reason: "member '\(entry.name)' inflates to \(produced) bytes but the directory says \(entry.uncompressedSize)")
        }
        guard UInt32(truncatingIfNeeded: crc) == entry.crc32 else {
            throw WeightFileError.malformedHeader(
                path: path, offset: entry.localHeaderOffset,
                reason: "member '\(entry.name)' fails its CRC-32 check (the download is damaged)")
        }
    }

    /// One call into zlib, producing up to `count` bytes; returns how many it produced.
    private func inflate(into target: UnsafeMutableRawPointer, count: Int) throws -> Int {
        var got = 0
        while got < count, !ended {
            if stream.pointee.avail_in == 0, inputLeft > 0 {
                let piece = min(inputLeft, Self.maxPiece)
                stream.pointee.next_in = UnsafeMutablePointer(mutating: input.assumingMemoryBound(to: UInt8.self))
                stream.pointee.avail_in = UInt32(piece)
                input += piece
                inputLeft -= piece
            }
            let before = stream.pointee.avail_in
            stream.pointee.next_out = (target + got).assumingMemoryBound(to: UInt8.self)
            stream.pointee.avail_out = UInt32(count - got)
            let status = CZlib.inflate(stream, Z_NO_FLUSH)
            got = count - Int(stream.pointee.avail_out)
            switch status {
            case Z_STREAM_END:
                ended = true
            case Z_OK:
                break
            case Z_BUF_ERROR where inputLeft == 0 && stream.pointee.avail_in == 0 && before == 0:
                throw WeightFileError.truncated(
                    path: path, reason: "member '\(entry.name)' ends in the middle of its compressed data")
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "status \(status)"
                throw WeightFileError.malformedHeader(
                    path: path, offset: entry.dataOffset, reason: "member '\(entry.name)' is not valid DEFLATE data: \(message)")
            }
        }
        return got
    }
}
