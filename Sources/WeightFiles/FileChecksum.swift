import CZlib
import Foundation

/// CRC-32 (zlib's, the same as Python's `zlib.crc32`) of files and bytes, written as "crc32:xxxxxxxx".
/// It guards run state against corruption and accidental edits, not against a forger.
public enum FileChecksum {
    public static func of(_ data: Data) -> String {
        var crc: UInt = crc32(0, nil, 0)
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let length = min(bytes.count - offset, 1 << 30)
                crc = crc32(crc, bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: Bytef.self), uInt(length))
                offset += length
            }
        }
        return format(crc)
    }

    /// Streams the file in 4 MiB pieces, so checking a large statistics file needs no large buffer.
    public static func of(fileAt url: URL) throws -> String {
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw WeightFileError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        defer { try? handle.close() }
        var crc: UInt = crc32(0, nil, 0)
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 4 << 20) ?? Data() } catch {
                throw WeightFileError.unreadable(path: url.path, reason: error.localizedDescription)
            }
            if chunk.isEmpty { break }
            chunk.withUnsafeBytes { bytes in
                crc = crc32(crc, bytes.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(bytes.count))
            }
        }
        return format(crc)
    }

    private static func format(_ crc: UInt) -> String {
        let hex = String(crc & 0xffff_ffff, radix: 16)
        return "crc32:" + String(repeating: "0", count: 8 - hex.count) + hex
    }
}
