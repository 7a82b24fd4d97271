import Foundation

/// Builds small ZIP archives byte by byte, so hostile `.npz` inputs can be minimised in the test that
/// uses them instead of living as opaque fixtures. Deflated members use DEFLATE "stored" blocks
/// (BTYPE 00), which are valid DEFLATE streams that need no compressor.
struct ZipBuilder {
    struct Member {
        var name: String
        var data: [UInt8]
        var deflated = false
        /// Replaces the uncompressed size the central directory declares; values ≥ 0xFFFFFFFF go in a
        /// ZIP64 extra field.
        var declaredSize: UInt64?
    }

    var members: [Member] = []
    /// When set, the end record uses ZIP64 placeholders and a ZIP64 locator pointing here.
    var zip64LocatorOffset: UInt64?

    /// A `.npy` v1 file: magic, version, header length and header text exactly as given (no padding).
    static func npy(header: String, headerLength: UInt16? = nil, data: [UInt8] = []) -> [UInt8] {
        let text = Array(header.utf8)
        let length = headerLength ?? UInt16(text.count)
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + text + data
    }

    /// A well-formed `.npy` v1 header for a little-endian float32 array of `shape`.
    static func npyHeader(shape: String) -> String {
        var text = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        while (text.count + 11) % 64 != 0 { text += " " }
        return text + "\n"
    }

    static func deflateStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var start = 0
        repeat {
            let end = min(start + 0xFFFF, data.count)
            let length = UInt16(end - start)
            out += [end == data.count ? 1 : 0, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
            out += data[start..<end]
            start = end
        } while start < data.count
        return out
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for member in members {
            let payload = member.deflated ? Self.deflateStored(member.data) : member.data
            let name = Array(member.name.utf8)
            let declared = member.declaredSize ?? UInt64(member.data.count)
            let needsZip64 = declared >= 0xFFFF_FFFF
            let offset = UInt32(out.count)
            let method: UInt16 = member.deflated ? 8 : 0
            let crc = Self.crc32(member.data)
            out += le(UInt32(0x0403_4b50)) + le(UInt16(20)) + le(UInt16(0)) + le(method) + le(UInt32(0)) + le(crc)
            out += le(UInt32(payload.count)) + le(UInt32(truncatingIfNeeded: min(declared, 0xFFFF_FFFF)))
            out += le(UInt16(name.count)) + le(UInt16(0)) + name + payload
            let extra: [UInt8] = needsZip64 ? le(UInt16(1)) + le(UInt16(8)) + le(declared) : []
            central += le(UInt32(0x0201_4b50)) + le(UInt16(45)) + le(UInt16(45)) + le(UInt16(0)) + le(method) + le(UInt32(0))
            central += le(crc) + le(UInt32(payload.count)) + le(needsZip64 ? UInt32(0xFFFF_FFFF) : UInt32(declared))
            central += le(UInt16(name.count)) + le(UInt16(extra.count)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0))
            central += le(UInt32(0)) + le(offset) + name + extra
        }
        let directoryOffset = out.count
        out += central
        if let locator = zip64LocatorOffset {
            out += le(UInt32(0x0706_4b50)) + le(UInt32(0)) + le(locator) + le(UInt32(1))
            out += le(UInt32(0x0605_4b50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0xFFFF)) + le(UInt16(0xFFFF))
            out += le(UInt32(0xFFFF_FFFF)) + le(UInt32(0xFFFF_FFFF)) + le(UInt16(0))
        } else {
            let count = UInt16(members.count)
            out += le(UInt32(0x0605_4b50)) + le(UInt16(0)) + le(UInt16(0)) + le(count) + le(count)
            out += le(UInt32(central.count)) + le(UInt32(directoryOffset)) + le(UInt16(0))
        }
        return out
    }

    private func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}
