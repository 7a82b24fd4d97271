import CZlib
import Foundation

/// safetensors: an 8-byte little-endian header length, a JSON header of tensor entries
/// `{dtype, shape, data_offsets}`, then the data. Mutations edit the header's meaning and usually keep
/// the length field consistent, so the reader gets past it to the offset and shape arithmetic.
enum SafeTensorsMutations {
    static let dtypes = ["F32", "F16", "BF16", "F64", "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64", "BOOL",
                         "F8_E4M3", "F8_E5M2", "f32", "", "F128"]

    static func mutate(_ input: [UInt8], using random: inout SeededRandom) -> [UInt8] {
        let declared = ByteMutations.read(input, at: 0, width: 8)
        guard input.count >= 8, declared <= UInt64(input.count - 8),
              let tree = JSONTree.parse(Array(input[8..<(8 + Int(declared))]).trimmingTrailingSpaces) else {
            return ByteMutations.mutate(input, using: &random)
        }
        var output = input
        let data = Array(input[(8 + Int(declared))...])
        switch random.below(8) {
        case 0:  // the length field alone
            ByteMutations.write(random.pick(Interesting.integers(width: 8)), width: 8, into: &output, at: 0)
            return output
        case 1:  // the data alone: cut short or grown
            return Array(input[..<(8 + Int(declared))]) + (random.chance(0.5) ? Array(data.prefix(random.below(data.count + 1))) : data + data)
        case 2: return header(JSONMutations.mutate(tree, using: &random), data: data, keepLength: random.chance(0.15) ? declared : nil)
        default: return header(mutateEntry(tree, using: &random), data: data, keepLength: random.chance(0.1) ? declared : nil)
        }
    }

    /// One tensor entry's dtype, a shape dimension or a data offset.
    private static func mutateEntry(_ tree: JSONTree, using random: inout SeededRandom) -> JSONTree {
        guard case .object(var members) = tree else { return tree }
        let tensors = members.indices.filter { if case .object = members[$0].value { return members[$0].key != "__metadata__" } else { return false } }
        guard !tensors.isEmpty else { return tree }
        let memberIndex = random.pick(tensors)
        guard case .object(var fields) = members[memberIndex].value, !fields.isEmpty else { return tree }
        let fieldIndex = random.below(fields.count)
        switch fields[fieldIndex].value {
        case .string: fields[fieldIndex].value = .string(random.pick(dtypes))
        case .array(var items):
            switch random.below(4) {
            case 0 where !items.isEmpty: items.remove(at: random.below(items.count))
            case 1: items.append(.number(random.pick(Interesting.numbers)))
            case 2 where items.count >= 2: items.swapAt(0, 1)  // end before begin
            default:
                if items.isEmpty { items = [.number("0")] }
                items[random.below(items.count)] = .number(random.chance(0.7) ? random.pick(Interesting.numbers) : String(random.below(1 << 20)))
            }
            fields[fieldIndex].value = .array(items)
        default: fields[fieldIndex].value = .number(random.pick(Interesting.numbers))
        }
        members[memberIndex].value = .object(fields)
        return .object(members)
    }

    /// A file with this header; the length field follows it unless `keepLength` is given.
    private static func header(_ tree: JSONTree, data: [UInt8], keepLength: UInt64?) -> [UInt8] {
        var text = Array(tree.text.utf8)
        while text.count % 8 != 0 { text.append(0x20) }  // writers pad to 8 bytes with spaces
        var output = [UInt8](repeating: 0, count: 8)
        ByteMutations.write(keepLength ?? UInt64(text.count), width: 8, into: &output, at: 0)
        return output + text + data
    }
}

/// `.npz` = ZIP of `.npy` members. Two kinds of mutation: an integer field of a ZIP record (sizes,
/// offsets, counts, ZIP64 records), or a rebuilt, self-consistent archive (CRCs and sizes right,
/// members re-deflated) whose one `.npy` header was edited, so the reader reaches the array parser.
enum ZipMutations {
    /// Integer fields of each ZIP record kind: (offset in the record, width).
    private static let recordFields: [UInt32: [(Int, Int)]] = [
        0x0403_4b50: [(6, 2), (8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2)],  // local header
        0x0201_4b50: [(10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (32, 2), (34, 2), (42, 4)],  // central header
        0x0605_4b50: [(4, 2), (6, 2), (8, 2), (10, 2), (12, 4), (16, 4), (20, 2)],  // end of central directory
        0x0606_4b50: [(4, 8), (16, 4), (20, 4), (24, 8), (32, 8), (40, 8), (48, 8)],  // ZIP64 end record
        0x0706_4b50: [(4, 4), (8, 8), (16, 4)],  // ZIP64 end locator
    ]

    static func mutate(_ input: [UInt8], using random: inout SeededRandom) -> [UInt8] {
        if random.chance(0.45), let members = Member.read(input) {
            var members = members
            let index = random.below(members.count)
            members[index].data = NpyMutations.mutate(members[index].data, using: &random)
            return write(members, zip64: random.chance(0.3))
        }
        var fields: [(Int, Int)] = []
        var offset = 0
        while offset + 4 <= input.count {
            if let layout = recordFields[UInt32(ByteMutations.read(input, at: offset, width: 4))] {
                fields += layout.map { (offset + $0.0, $0.1) }
            }
            offset += 1
        }
        guard !fields.isEmpty, random.chance(0.8) else { return ByteMutations.mutate(input, using: &random) }
        let (at, width) = random.pick(fields)
        var output = input
        let old = ByteMutations.read(input, at: at, width: width)
        let value = random.chance(0.75) ? random.pick(Interesting.integers(width: width)) : old &+ UInt64(random.below(9)) &- 4
        ByteMutations.write(value, width: width, into: &output, at: at)
        return output
    }

    struct Member {
        var name: [UInt8]
        var deflated: Bool
        var data: [UInt8]

        /// The members listed by the central directory, inflated (nil when the archive is not readable
        /// enough to rebuild, e.g. after an earlier mutation).
        static func read(_ bytes: [UInt8]) -> [Member]? {
            guard let end = stride(from: bytes.count - 22, through: 0, by: -1).first(where: { ByteMutations.read(bytes, at: $0, width: 4) == 0x0605_4b50 }) else { return nil }
            let count = Int(ByteMutations.read(bytes, at: end + 10, width: 2))
            var cursor = Int(ByteMutations.read(bytes, at: end + 16, width: 4))
            var members: [Member] = []
            for _ in 0..<count {
                guard ByteMutations.read(bytes, at: cursor, width: 4) == 0x0201_4b50 else { return nil }
                let method = ByteMutations.read(bytes, at: cursor + 10, width: 2)
                let compressed = Int(ByteMutations.read(bytes, at: cursor + 20, width: 4))
                let size = Int(ByteMutations.read(bytes, at: cursor + 24, width: 4))
                let nameLength = Int(ByteMutations.read(bytes, at: cursor + 28, width: 2))
                let skip = nameLength + Int(ByteMutations.read(bytes, at: cursor + 30, width: 2)) + Int(ByteMutations.read(bytes, at: cursor + 32, width: 2))
                let local = Int(ByteMutations.read(bytes, at: cursor + 42, width: 4))
                guard cursor + 46 + nameLength <= bytes.count, method == 0 || method == 8 else { return nil }
                let name = Array(bytes[(cursor + 46)..<(cursor + 46 + nameLength)])
                let start = local + 30 + Int(ByteMutations.read(bytes, at: local + 26, width: 2)) + Int(ByteMutations.read(bytes, at: local + 28, width: 2))
                guard start >= 0, start + compressed <= bytes.count else { return nil }
                let stored = Array(bytes[start..<(start + compressed)])
                guard let data = method == 8 ? Deflate.inflate(stored, size: size) : stored else { return nil }
                members.append(Member(name: name, deflated: method == 8, data: data))
                cursor += 46 + skip
            }
            return members.isEmpty ? nil : members
        }
    }

    /// A well-formed archive of `members` (deflated ones re-deflated), optionally with ZIP64 end records.
    static func write(_ members: [Member], zip64: Bool) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        func put(_ value: UInt64, _ width: Int, _ target: inout [UInt8]) {
            target += (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
        }
        for member in members {
            let stored = member.deflated ? Deflate.deflate(member.data) : member.data
            let crc = UInt64(member.data.withUnsafeBufferPointer(CRC32.of))
            let offset = out.count
            let common: [(UInt64, Int)] = [(20, 2), (0, 2), (member.deflated ? 8 : 0, 2), (0, 2), (0x21, 2), (crc, 4),
                                           (UInt64(stored.count), 4), (UInt64(member.data.count), 4), (UInt64(member.name.count), 2), (0, 2)]
            put(0x0403_4b50, 4, &out)
            for (value, width) in common { put(value, width, &out) }
            out += member.name + stored
            put(0x0201_4b50, 4, &central)
            put(20, 2, &central)
            for (value, width) in common { put(value, width, &central) }
            for (value, width) in [(0, 2), (0, 2), (0, 2), (0, 4), (UInt64(offset), 4)] as [(UInt64, Int)] { put(value, width, &central) }
            central += member.name
        }
        let centralOffset = out.count
        out += central
        if zip64 {
            let recordOffset = out.count
            put(0x0606_4b50, 4, &out)
            for (value, width) in [(44, 8), (45, 2), (45, 2), (0, 4), (0, 4), (UInt64(members.count), 8), (UInt64(members.count), 8),
                                   (UInt64(central.count), 8), (UInt64(centralOffset), 8)] as [(UInt64, Int)] { put(value, width, &out) }
            put(0x0706_4b50, 4, &out)
            for (value, width) in [(0, 4), (UInt64(recordOffset), 8), (1, 4)] as [(UInt64, Int)] { put(value, width, &out) }
        }
        put(0x0605_4b50, 4, &out)
        let count: UInt64 = zip64 ? 0xffff : UInt64(members.count)
        for (value, width) in [(0, 2), (0, 2), (count, 2), (count, 2), (UInt64(central.count), 4),
                               (zip64 ? 0xffff_ffff : UInt64(centralOffset), 4), (0, 2)] as [(UInt64, Int)] { put(value, width, &out) }
        return out
    }
}

/// `.npy`: magic, version, header length (2 bytes in v1, 4 in v2/3), a Python dict literal
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (n, m), }` padded with spaces, then the data.
enum NpyMutations {
    static let shapes = ["()", "(0,)", "(-1, 4)", "(4294967296, 4294967296)", "(274877906944,)", "(1, 2, 3, 4, 5)",
                         "(10000000000, 64)", "(9223372036854775807, 2)", "(64, 0)", "(3,)", "[3, 4]", "(1e3,)", "(2,"]
    static let descrs = ["'<f8'", "'>f4'", "'<f2'", "'|u1'", "'<i8'", "'<c8'", "'O'", "'<f4'", "''", "b'<f4'", "[('a', '<f4')]"]

    static func mutate(_ input: [UInt8], using random: inout SeededRandom) -> [UInt8] {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard input.count >= 12, Array(input[0..<6]) == magic else { return ByteMutations.mutate(input, using: &random) }
        let wide = input[6] >= 2
        let textStart = wide ? 12 : 10
        let length = textStart + Int(ByteMutations.read(input, at: 8, width: wide ? 4 : 2))
        guard length <= input.count else { return ByteMutations.mutate(input, using: &random) }
        var text = String(decoding: input[textStart..<length], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        var data = Array(input[length...])
        var output = Array(input[0..<textStart])
        switch random.below(7) {
        case 0:  // the header length field alone (0 and 1 are the classic out-of-range cases)
            var copy = input
            ByteMutations.write(random.pick([0, 1, 2, 9, 10, 0xffff, 0xffff_ffff] + Interesting.integers(width: wide ? 4 : 2)), width: wide ? 4 : 2, into: &copy, at: 8)
            return copy
        case 1: text = replacing(text, key: "shape", with: random.pick(shapes))
        case 2: text = replacing(text, key: "descr", with: random.pick(descrs))
        case 3: text = replacing(text, key: "fortran_order", with: random.pick(["True", "1", "None", "'False'"]))
        case 4: data = Array(data.prefix(random.below(data.count + 1)))
        case 5: output[6] = UInt8(random.pick([0, 1, 2, 3, 4, 255]))  // the version byte (changes the length field's width)
        default: text = String(decoding: ByteMutations.mutate(Array(text.utf8), using: &random), as: UTF8.self)
        }
        // Re-pad to a multiple of 64 as numpy does, so only the edited field is wrong. The version byte
        // decides the width of the length field, as a reader would take it.
        let widened = output[6] == 2 || output[6] == 3
        var header = Array(text.utf8)
        while ((widened ? 12 : 10) + header.count + 1) % 64 != 0 { header.append(0x20) }
        header.append(0x0a)
        output = Array(output[0..<8]) + [UInt8](repeating: 0, count: widened ? 4 : 2)
        ByteMutations.write(UInt64(header.count), width: widened ? 4 : 2, into: &output, at: 8)
        return output + header + data
    }

    /// `text` with the value of `'key': …` (up to the next `, '` or `}`) replaced.
    private static func replacing(_ text: String, key: String, with value: String) -> String {
        guard let keyRange = text.range(of: "'\(key)':") else { return text }
        let rest = text[keyRange.upperBound...]
        let end = rest.range(of: ", '")?.lowerBound ?? rest.lastIndex(of: "}") ?? rest.endIndex
        return String(text[..<keyRange.upperBound]) + " " + value + String(text[end...])
    }
}

/// Raw deflate (ZIP method 8) through zlib.
enum Deflate {
    static func deflate(_ input: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        guard deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return input }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 16)
        var source = input
        let produced: Int = source.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = uInt(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = uInt(outBuffer.count)
                return CZlib.deflate(&stream, Z_FINISH) == Z_STREAM_END ? Int(stream.total_out) : -1
            }
        }
        return produced >= 0 ? Array(output.prefix(produced)) : input
    }

    /// nil unless the stream inflates to exactly `size` bytes (sizes over 64 MiB are not attempted).
    static func inflate(_ input: [UInt8], size: Int) -> [UInt8]? {
        guard size <= 64 << 20 else { return nil }
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: max(size, 1))
        var source = input
        let status: Int32 = source.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = uInt(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = uInt(outBuffer.count)
                return CZlib.inflate(&stream, Z_FINISH)
            }
        }
        return status == Z_STREAM_END && Int(stream.total_out) == size ? Array(output.prefix(size)) : nil
    }
}

extension Array where Element == UInt8 {
    var trimmingTrailingSpaces: [UInt8] {
        var copy = self
        while copy.last == 0x20 { copy.removeLast() }
        return copy
    }
}

/// zlib's CRC-32: ZIP members and the run files' `crc32:` checksums use it.
enum CRC32 {
    static func of(_ buffer: UnsafeBufferPointer<UInt8>) -> UInt {
        UInt(crc32(0, buffer.baseAddress, uInt(buffer.count)))
    }
}
