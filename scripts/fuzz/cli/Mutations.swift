import Foundation

/// SplitMix64: small, fast and identical on every platform, so `--seed` reproduces a run anywhere
/// (Swift's `SystemRandomNumberGenerator` cannot be seeded).
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    /// A generator for one format: the same seed gives a format the same inputs whether it runs
    /// alone (`--format`) or among others.
    init(seed: UInt64, stream: String) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a, stable across processes (unlike `hashValue`)
        for byte in stream.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        state = seed ^ hash
    }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { bound <= 1 ? 0 : Int.random(in: 0..<bound, using: &self) }
    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &self) < probability }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

/// Values that tend to break size arithmetic, allocation and float handling.
enum Interesting {
    /// As JSON/CSV/Python-literal text.
    static let numbers = [
        "0", "-1", "1", "2", "255", "256", "65535", "65536", "2147483647", "2147483648", "-2147483649",
        "4294967295", "4294967296", "10000000000", "1000000000", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "18446744073709551615", "18446744073709551616", "1e308", "-1e308", "1e309",
        "1e-320", "0.5", "-0.0", "NaN", "Infinity", "-Infinity", "1.7976931348623157e308", "3.4e38",
        "274877906944", "99999999999999999999999999",
    ]
    /// Little-endian integer fields of binary headers, by width.
    static func integers(width: Int) -> [UInt64] {
        let common: [UInt64] = [0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff]
        let wide: [UInt64] = [0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 1 << 32, 10_000_000_000, 256 << 30,
                              0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff]
        switch width {
        case 1: return common.filter { $0 <= 0xff }
        case 2: return common
        case 4: return common + wide.filter { $0 <= 0xffff_ffff }
        default: return common + wide
        }
    }
    /// Strings that are odd as names, dtypes, paths or text.
    static let strings = [
        "", " ", "\u{0}", "\\", "\"", "../../../etc/passwd", "/", "NaN", "F64", "BF16", "I64", "U8", "BOOL",
        "F8_E4M3", "<f8", ">f4", "|b1", "<f4", "<f2", "é", "\u{FFFD}", "\u{202E}", "\u{1F600}", "\r\n", "%s%n",
        "jumprelu", "topk", "gated", "standard", "gemma2", "llama", "train", "test", "blocks.0.hook_resid_post",
    ]
}

/// Format-blind mutations of a byte string (AFL's havoc stage, roughly).
enum ByteMutations {
    static func mutate(_ input: [UInt8], using random: inout SeededRandom) -> [UInt8] {
        var bytes = input
        if bytes.isEmpty { return [UInt8(truncatingIfNeeded: random.next())] }
        switch random.below(9) {
        case 0:  // flip one to eight bits
            for _ in 0..<(1 + random.below(8)) {
                bytes[random.below(bytes.count)] ^= UInt8(1) << UInt8(random.below(8))
            }
        case 1:  // an interesting integer over 1, 2, 4 or 8 bytes
            let width = random.pick([1, 2, 4, 8])
            let at = random.below(max(1, bytes.count - width + 1))
            write(random.pick(Interesting.integers(width: width)), width: width, into: &bytes, at: at)
        case 2:  // an interesting number as text, over or into the bytes
            let text = Array(random.pick(Interesting.numbers).utf8)
            let at = random.below(bytes.count)
            let length = min(random.below(12), bytes.count - at)
            bytes.replaceSubrange(at..<(at + length), with: text)
        case 3:  // insert random bytes
            let count = 1 + random.below(16)
            bytes.insert(contentsOf: (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: random.below(bytes.count + 1))
        case 4:  // delete a range
            let at = random.below(bytes.count)
            bytes.removeSubrange(at..<min(bytes.count, at + 1 + random.below(64)))
        case 5:  // duplicate a range, sometimes many times
            let at = random.below(bytes.count)
            let chunk = Array(bytes[at..<min(bytes.count, at + 1 + random.below(256))])
            let copies = random.chance(0.1) ? 1 + random.below(1000) : 1
            bytes.insert(contentsOf: Array([[UInt8]](repeating: chunk, count: copies).joined()), at: random.below(bytes.count + 1))
        case 6:  // truncate
            bytes.removeSubrange(random.below(bytes.count)...)
        case 7:  // splice: copy one range of the input over another
            let from = random.below(bytes.count)
            let chunk = Array(bytes[from..<min(bytes.count, from + 1 + random.below(512))])
            let to = random.below(bytes.count)
            bytes.replaceSubrange(to..<min(bytes.count, to + chunk.count), with: chunk)
        default:  // set a range to one byte value (0, 0xff, a quote, a digit)
            let at = random.below(bytes.count)
            let value = random.pick([0, 0xff, 0x22, 0x39, 0x20, 0x7b] as [UInt8])
            for index in at..<min(bytes.count, at + 1 + random.below(32)) { bytes[index] = value }
        }
        return bytes
    }

    static func write(_ value: UInt64, width: Int, into bytes: inout [UInt8], at offset: Int) {
        for index in 0..<width where offset + index < bytes.count {
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))
        }
    }

    static func read(_ bytes: [UInt8], at offset: Int, width: Int) -> UInt64 {
        guard offset >= 0, offset + width <= bytes.count else { return 0 }
        return (0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }
}

/// Line-oriented text (CSV): rows and fields are the units, quotes and separators the hazards.
enum TextMutations {
    static func mutate(_ input: [UInt8], using random: inout SeededRandom) -> [UInt8] {
        var lines = String(decoding: input, as: UTF8.self).components(separatedBy: "\n")
        guard lines.count > 1 else { return ByteMutations.mutate(input, using: &random) }
        let index = random.below(lines.count)
        switch random.below(7) {
        case 0: lines.insert(lines[index], at: random.below(lines.count + 1))
        case 1: lines.remove(at: index)
        case 2: lines.swapAt(index, random.below(lines.count))
        case 3:  // an unbalanced or doubled quote, a stray separator or line break inside a row
            var line = Array(lines[index])
            line.insert(random.pick(["\"", ",", "\r", "\"\"", "\n", ",,,,,,,,"]).first ?? "\"", at: random.below(line.count + 1))
            lines[index] = String(line)
        case 4:  // one enormous field
            lines[index] += ",\"" + String(repeating: random.pick(["A", "\"\"", "é"]), count: 1 + random.below(200_000)) + "\""
        case 5:  // drop or add fields
            var fields = lines[index].components(separatedBy: ",")
            if random.chance(0.5), fields.count > 1 { fields.remove(at: random.below(fields.count)) } else { fields.append(random.pick(Interesting.strings)) }
            lines[index] = fields.joined(separator: ",")
        default:
            lines[index] = random.pick(Interesting.numbers) + "," + random.pick(Interesting.strings)
        }
        return Array(lines.joined(separator: "\n").utf8)
    }
}
