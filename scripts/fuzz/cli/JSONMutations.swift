import Foundation

/// JSON as written: object keys keep their order and numbers their spelling, so an unmutated
/// document re-serialises to the same meaning and a mutation changes exactly one thing.
/// (`JSONSerialization` reorders keys by a per-process hash seed, which would break `--seed`.)
indirect enum JSONTree: Equatable {
    case null, bool(Bool), number(String), string(String)
    case array([JSONTree])
    case object([(key: String, value: JSONTree)])

    static func == (lhs: JSONTree, rhs: JSONTree) -> Bool { lhs.text == rhs.text }

    var text: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number(let spelling): return spelling
        case .string(let value): return Self.quote(value)
        case .array(let items): return "[" + items.map(\.text).joined(separator: ",") + "]"
        case .object(let members): return "{" + members.map { Self.quote($0.key) + ":" + $0.value.text }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Parses one JSON value (nil if `bytes` is not JSON, e.g. after a byte-level mutation).
    static func parse(_ bytes: [UInt8]) -> JSONTree? {
        var parser = Parser(bytes: bytes)
        guard let value = parser.value() else { return nil }
        parser.skipSpace()
        return parser.index == bytes.count ? value : nil
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        var depth = 0

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x0a, 0x0d, 0x09].contains(bytes[index]) { index += 1 }
        }

        mutating func value() -> JSONTree? {
            skipSpace()
            guard index < bytes.count, depth < 512 else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1; depth += 1; defer { depth -= 1 }
                var members: [(key: String, value: JSONTree)] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard case .string(let key)? = string(), expect(":"), let item = value() else { return nil }
                    members.append((key, item))
                    if expect(",") { continue }
                    return expect("}") ? .object(members) : nil
                }
            case UInt8(ascii: "["):
                index += 1; depth += 1; defer { depth -= 1 }
                var items: [JSONTree] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                while true {
                    guard let item = value() else { return nil }
                    items.append(item)
                    if expect(",") { continue }
                    return expect("]") ? .array(items) : nil
                }
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal("true", .bool(true))
            case UInt8(ascii: "f"): return literal("false", .bool(false))
            case UInt8(ascii: "n"): return literal("null", .null)
            default:
                let start = index
                while index < bytes.count, "+-0123456789.eE".utf8.contains(bytes[index]) { index += 1 }
                return index > start ? .number(String(decoding: bytes[start..<index], as: UTF8.self)) : nil
            }
        }

        mutating func expect(_ character: Character) -> Bool {
            skipSpace()
            guard index < bytes.count, let ascii = character.asciiValue, bytes[index] == ascii else { return false }
            index += 1
            return true
        }

        mutating func literal(_ word: String, _ value: JSONTree) -> JSONTree? {
            let end = index + word.utf8.count
            guard end <= bytes.count, Array(bytes[index..<end]) == Array(word.utf8) else { return nil }
            index = end
            return value
        }

        /// Decodes through Foundation so escapes (\u surrogate pairs included) are handled exactly.
        mutating func string() -> JSONTree? {
            let start = index
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            index += 1
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
            }
            guard index < bytes.count else { return nil }
            index += 1
            let literal = Data(bytes[start..<index])
            guard let decoded = try? JSONSerialization.jsonObject(with: literal, options: .fragmentsAllowed) as? String else { return nil }
            return .string(decoded)
        }
    }
}

/// Structure-aware JSON mutations: one node of the document changes, everything else stays valid.
enum JSONMutations {
    /// A path to a node: object member positions and array indices.
    typealias Path = [Int]

    static func mutate(_ input: [UInt8], using random: inout SeededRandom) -> [UInt8] {
        guard let tree = JSONTree.parse(input) else { return ByteMutations.mutate(input, using: &random) }
        return Array(mutate(tree, using: &random).text.utf8)
    }

    static func mutate(_ tree: JSONTree, using random: inout SeededRandom) -> JSONTree {
        var paths: [Path] = []
        collect(tree, at: [], into: &paths)
        // Numbers carry sizes, counts and ids, the likeliest to break a reader: prefer them.
        let numbers = paths.filter { if case .number = node(tree, at: $0) { return true } else { return false } }
        let path = !numbers.isEmpty && random.chance(0.5) ? random.pick(numbers) : random.pick(paths)
        let old = node(tree, at: path) ?? .null
        let replacement: JSONTree?
        switch random.below(10) {
        case 0, 1, 2: replacement = .number(random.pick(Interesting.numbers))
        case 3: replacement = .string(random.pick(Interesting.strings))
        case 4:  // another type altogether
            replacement = random.pick([JSONTree.null, .bool(true), .array([]), .object([]), .string("1"), .array([old, old])])
        case 5: replacement = nil  // remove the member or element
        case 6:  // a long string: error messages that quote input must stay short
            replacement = .string(String(repeating: random.pick(["x", "\"", "\n", "é"]), count: 10_000 + random.below(100_000)))
        case 7:  // grow an array or object by repeating its content
            switch old {
            case .array(let items) where !items.isEmpty:
                replacement = .array(Array(repeating: items, count: 2 + random.below(50)).flatMap { $0 })
            case .object(let members) where !members.isEmpty:
                replacement = .object(members + [random.pick(members)])  // a duplicate key
            default: replacement = .array([old])
            }
        case 8:  // deep nesting: recursive readers run out of stack
            let depth = random.chance(0.5) ? 100 + random.below(1000) : 10_000 + random.below(100_000)
            let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            replacement = .number(text)  // spliced in verbatim
        default:  // a value taken from elsewhere in the document
            replacement = node(tree, at: random.pick(paths))
        }
        return replacing(tree, at: path[...], with: replacement) ?? .null
    }

    private static func collect(_ tree: JSONTree, at path: Path, into paths: inout [Path]) {
        paths.append(path)
        switch tree {
        case .array(let items): for (index, item) in items.enumerated() { collect(item, at: path + [index], into: &paths) }
        case .object(let members): for (index, member) in members.enumerated() { collect(member.value, at: path + [index], into: &paths) }
        default: break
        }
    }

    private static func node(_ tree: JSONTree, at path: Path) -> JSONTree? {
        var current = tree
        for step in path {
            switch current {
            case .array(let items) where step < items.count: current = items[step]
            case .object(let members) where step < members.count: current = members[step].value
            default: return nil
            }
        }
        return current
    }

    /// The tree with the node at `path` replaced (nil replacement: removed; at the root: `null`).
    private static func replacing(_ tree: JSONTree, at path: ArraySlice<Int>, with replacement: JSONTree?) -> JSONTree? {
        guard let step = path.first else { return replacement }
        switch tree {
        case .array(var items) where step < items.count:
            if let new = replacing(items[step], at: path.dropFirst(), with: replacement) { items[step] = new } else { items.remove(at: step) }
            return .array(items)
        case .object(var members) where step < members.count:
            if let new = replacing(members[step].value, at: path.dropFirst(), with: replacement) {
                members[step].value = new
            } else {
                members.remove(at: step)
            }
            return .object(members)
        default: return tree
        }
    }
}

/// JSON Lines: one record's fields, or the lines themselves.
enum JSONLinesMutations {
    static func mutate(_ input: [UInt8], using random: inout SeededRandom) -> [UInt8] {
        var lines = input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
        guard !lines.isEmpty else { return ByteMutations.mutate(input, using: &random) }
        let index = random.below(max(1, lines.count - 1))  // the last "line" is usually the empty tail
        switch random.below(8) {
        case 0: lines.insert(lines[index], at: random.below(lines.count))
        case 1: lines.remove(at: index)
        case 2: lines.swapAt(index, random.below(lines.count))
        case 3: lines.insert(random.pick([[], Array("{}".utf8), Array("[]".utf8), Array("null".utf8), Array("{\"a\":".utf8)]), at: index)
        default: lines[index] = JSONMutations.mutate(lines[index], using: &random)
        }
        return Array(lines.joined(separator: [UInt8(ascii: "\n")]))
    }
}
