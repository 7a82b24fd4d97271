/// A value built by the restricted unpickler. Lists and dicts are boxes because pickle memoizes a
/// container before filling it, and a later BINGET must see the filled one.
///
/// Every container records its nesting depth, which is capped: a value is freed recursively, so a
/// pickle of a million nested tuples (a few bytes each) would otherwise overflow the stack.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case tuple([PickleValue], depth: Int)
    case list(PickleList)
    case dict(PickleDict)
    /// A `module name` reference that passed the allowlist; only `reduce` gives it meaning.
    case global(module: String, name: String)
    /// Whatever the caller's persistent-load or reduce hooks build (a tensor, a storage).
    case opaque(any Sendable)

    var depth: Int {
        switch self {
        case let .tuple(_, depth): depth
        case let .list(box): box.depth
        case let .dict(box): box.depth
        default: 0
        }
    }

    var kind: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case let .global(module, name): "\(module).\(name)"
        case .opaque: "object"
        }
    }
}

/// Python's pickler fills a list or dict right after creating it, before it becomes anyone's child, so
/// a box is sealed once it is nested: its depth can then no longer grow behind its parents' backs.
class PickleBox {
    var depth = 1
    var isSealed = false
}

final class PickleList: PickleBox { var items: [PickleValue] = [] }

final class PickleDict: PickleBox {
    /// Insertion order kept, as Python dicts keep it.
    var entries: [(key: PickleValue, value: PickleValue)] = []
}

/// What a restricted pickle may do beyond building plain values. Nothing in a pickle is executed:
/// a GLOBAL outside `allowedGlobals` is an error, and REDUCE/BINPERSID only reach these hooks.
struct PickleRules {
    var allowedGlobals: Set<String>
    /// BINPERSID: the persistent id (already built) → the object it stands for.
    var persistentLoad: (PickleValue) throws(PickleError) -> PickleValue
    /// REDUCE of an allowed global with its argument tuple.
    var reduce: (_ module: String, _ name: String, _ arguments: [PickleValue]) throws(PickleError) -> PickleValue
}

/// Why a pickle was refused, with the byte offset inside the pickle stream.
struct PickleError: Error {
    let offset: Int
    let reason: String
}

/// Runs the protocol 2–4 pickle opcodes that `torch.save` emits for a dict of tensors and plain
/// values; any other opcode is refused. Every length is checked against the bytes left, so memory
/// stays proportional to the input.
struct PickleMachine {
    private let bytes: UnsafeRawBufferPointer
    private let rules: PickleRules
    private var position = 0
    private var opcodeOffset = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    /// Far deeper than any checkpoint (a torch state dict nests 4 deep) and far from the stack's limit.
    static let maxDepth = 200

    /// Strings come from the file; clipped so an error line stays short.
    private static func clip(_ text: String) -> String { text.count > 80 ? String(text.prefix(80)) + "…" : text }

    init(bytes: UnsafeRawBufferPointer, rules: PickleRules) {
        self.bytes = bytes
        self.rules = rules
    }

    /// The object the pickle builds (everything up to STOP).
    static func load(_ bytes: UnsafeRawBufferPointer, rules: PickleRules) throws(PickleError) -> PickleValue {
        var machine = PickleMachine(bytes: bytes, rules: rules)
        return try machine.run()
    }

    private mutating func run() throws(PickleError) -> PickleValue {
        while true {
            opcodeOffset = position
            let op = try byte()
            switch op {
            case 0x80: // PROTO
                let version = try byte()
                guard (2...5).contains(version) else { throw fail("pickle protocol \(version) is not supported (torch.save writes 2)") }
            case 0x95: // FRAME: a length hint only
                _ = try take(8)
            case 0x2E: // STOP
                guard marks.isEmpty, stack.count == 1 else {
                    throw fail("STOP with \(stack.count) values on the stack and \(marks.count) open marks")
                }
                return stack[0]
            case 0x28: marks.append(stack.count) // MARK
            case 0x4E: stack.append(.none) // NONE
            case 0x88: stack.append(.bool(true)) // NEWTRUE
            case 0x89: stack.append(.bool(false)) // NEWFALSE
            case 0x4B: stack.append(.int(Int(try byte()))) // BININT1
            case 0x4D: stack.append(.int(Int(try uint(2)))) // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try uint(4))))) // BININT
            case 0x8A: stack.append(.int(try long1())) // LONG1
            case 0x47: // BINFLOAT: big-endian IEEE double
                let raw = try take(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                stack.append(.float(Double(bitPattern: raw)))
            case 0x58: stack.append(.string(try text(count: Int(try uint(4))))) // BINUNICODE
            case 0x8C: stack.append(.string(try text(count: Int(try byte())))) // SHORT_BINUNICODE
            case 0x8D: // BINUNICODE8
                let count = try uint(8)
                guard count <= UInt64(bytes.count) else { throw fail("string of \(count) bytes is longer than the pickle") }
                stack.append(.string(try text(count: Int(count))))
            case 0x29: stack.append(.tuple([], depth: 1)) // EMPTY_TUPLE
            case 0x85: stack.append(try tuple(try pop(1))) // TUPLE1
            case 0x86: stack.append(try tuple(try pop(2))) // TUPLE2
            case 0x87: stack.append(try tuple(try pop(3))) // TUPLE3
            case 0x74: stack.append(try tuple(try popToMark())) // TUPLE
            case 0x5D: stack.append(.list(PickleList())) // EMPTY_LIST
            case 0x7D: stack.append(.dict(PickleDict())) // EMPTY_DICT
            case 0x61: // APPEND
                let item = try pop(1)
                let target = try list(on: "APPEND")
                try nest(item, into: target)
                target.items += item
            case 0x65: // APPENDS
                let items = try popToMark()
                let target = try list(on: "APPENDS")
                try nest(items, into: target)
                target.items += items
            case 0x73: // SETITEM
                let pair = try pop(2)
                let target = try dict(on: "SETITEM")
                try nest(pair, into: target)
                target.entries.append((pair[0], pair[1]))
            case 0x75: // SETITEMS
                let items = try popToMark()
                guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number (\(items.count)) of keys and values") }
                let target = try dict(on: "SETITEMS")
                try nest(items, into: target)
                for i in stride(from: 0, to: items.count, by: 2) { target.entries.append((items[i], items[i + 1])) }
            case 0x71: try put(Int(try byte())) // BINPUT
            case 0x72: try put(Int(try uint(4))) // LONG_BINPUT
            case 0x94: try put(memo.count) // MEMOIZE
            case 0x68: try get(Int(try byte())) // BINGET
            case 0x6A: try get(Int(try uint(4))) // LONG_BINGET
            case 0x30: _ = try pop(1) // POP
            case 0x31: _ = try popToMark() // POP_MARK
            case 0x63: // GLOBAL: "module\nname\n"
                let module = try line(), name = try line()
                stack.append(try global(module, name))
            case 0x93: // STACK_GLOBAL
                let pair = try pop(2)
                guard case let .string(module) = pair[0], case let .string(name) = pair[1] else {
                    throw fail("STACK_GLOBAL needs two strings, found \(pair[0].kind) and \(pair[1].kind)")
                }
                stack.append(try global(module, name))
            case 0x52: // REDUCE
                let pair = try pop(2)
                guard case let .global(module, name) = pair[0] else { throw fail("REDUCE calls a \(pair[0].kind), not an allowed global") }
                guard case let .tuple(arguments, _) = pair[1] else { throw fail("REDUCE of \(module).\(name) with a \(pair[1].kind) instead of an argument tuple") }
                stack.append(try wrap { () throws(PickleError) in try rules.reduce(module, name, arguments) })
            case 0x51: // BINPERSID
                let id = try pop(1)[0]
                stack.append(try wrap { () throws(PickleError) in try rules.persistentLoad(id) })
            default:
                throw fail("opcode 0x\(String(op, radix: 16)) is not one torch.save writes for a dict of tensors; refusing to interpret it")
            }
        }
    }

    // MARK: - Operands

    private func fail(_ reason: String) -> PickleError { PickleError(offset: opcodeOffset, reason: reason) }

    /// Hook errors carry no offset of their own; they get the opcode's.
    private func wrap(_ body: () throws(PickleError) -> PickleValue) throws(PickleError) -> PickleValue {
        do { return try body() } catch { throw PickleError(offset: opcodeOffset, reason: error.reason) }
    }

    private mutating func byte() throws(PickleError) -> UInt8 {
        guard position < bytes.count else { throw PickleError(offset: position, reason: "the pickle ends before STOP") }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func take(_ count: Int) throws(PickleError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= bytes.count - position else {
            throw fail("operand of \(count) bytes runs past the end of the \(bytes.count)-byte pickle")
        }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
    }

    /// Little-endian unsigned integer of `count` bytes.
    private mutating func uint(_ count: Int) throws(PickleError) -> UInt64 {
        try take(count).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// LONG1: a length byte, then that many bytes of little-endian two's complement.
    private mutating func long1() throws(PickleError) -> Int {
        let count = Int(try byte())
        guard count <= 8 else { throw fail("LONG1 integer of \(count) bytes does not fit in 64 bits") }
        guard count > 0 else { return 0 }
        let raw = try take(count)
        var value = raw.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if count < 8, raw[count - 1] & 0x80 != 0 { value |= ~UInt64(0) << UInt64(count * 8) }
        return Int(Int64(bitPattern: value))
    }

    private mutating func text(count: Int) throws(PickleError) -> String {
        let raw = try take(count)
        guard let string = String(validating: raw, as: UTF8.self) else { throw fail("string of \(count) bytes is not valid UTF-8") }
        return string
    }

    /// GLOBAL's newline-terminated ASCII operands.
    private mutating func line() throws(PickleError) -> String {
        let start = position
        while position < bytes.count, bytes[position] != 0x0A {
            position += 1
            guard position - start <= 256 else { throw fail("GLOBAL name longer than 256 bytes") }
        }
        guard position < bytes.count else { throw fail("GLOBAL name is not terminated before the end of the pickle") }
        defer { position += 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
    }

    // MARK: - Stack, marks, memo

    private mutating func pop(_ count: Int) throws(PickleError) -> [PickleValue] {
        let floor = marks.last ?? 0
        guard stack.count - floor >= count else { throw fail("stack has fewer than \(count) values above the last mark") }
        defer { stack.removeLast(count) }
        return Array(stack.suffix(count))
    }

    private mutating func popToMark() throws(PickleError) -> [PickleValue] {
        guard let mark = marks.popLast() else { throw fail("no MARK to pop to") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    private func list(on opcode: String) throws(PickleError) -> PickleList {
        guard let top = stack.last, stack.count > (marks.last ?? 0) else { throw fail("\(opcode) with no list on the stack") }
        guard case let .list(list) = top else { throw fail("\(opcode) on a \(top.kind), not a list") }
        return list
    }

    private func dict(on opcode: String) throws(PickleError) -> PickleDict {
        guard let top = stack.last, stack.count > (marks.last ?? 0) else { throw fail("\(opcode) with no dict on the stack") }
        guard case let .dict(dict) = top else { throw fail("\(opcode) on a \(top.kind), not a dict") }
        return dict
    }

    /// Seals the boxes among `items` and returns the depth of a container holding them.
    private func nestedDepth(_ items: [PickleValue]) throws(PickleError) -> Int {
        var depth = 1
        for item in items {
            switch item {
            case let .list(box as PickleBox), let .dict(box as PickleBox): box.isSealed = true
            default: break
            }
            depth = max(depth, item.depth + 1)
        }
        guard depth <= Self.maxDepth else { throw fail("containers nest more than \(Self.maxDepth) deep") }
        return depth
    }

    private func tuple(_ items: [PickleValue]) throws(PickleError) -> PickleValue {
        .tuple(items, depth: try nestedDepth(items))
    }

    private func nest(_ items: [PickleValue], into box: PickleBox) throws(PickleError) {
        guard !box.isSealed else { throw fail("adds to a list or dict that is already inside another container") }
        box.depth = max(box.depth, try nestedDepth(items))
    }

    private mutating func put(_ index: Int) throws(PickleError) {
        guard let top = stack.last else { throw fail("memo PUT with an empty stack") }
        memo[index] = top
    }

    private mutating func get(_ index: Int) throws(PickleError) {
        guard let value = memo[index] else { throw fail("memo GET of slot \(index), which was never PUT") }
        stack.append(value)
    }

    private func global(_ module: String, _ name: String) throws(PickleError) -> PickleValue {
        guard rules.allowedGlobals.contains("\(module).\(name)") else {
            throw fail("refers to the Python global '\(Self.clip(module)).\(Self.clip(name))', which is not allowed in a weights file (allowed: \(rules.allowedGlobals.sorted().joined(separator: ", ")))")
        }
        return .global(module: module, name: name)
    }
}
