import Foundation

/// Open-addressing hash table from byte strings to `Int32` values. Keys are stored back to back
/// in one arena, so a lookup costs one hash and (usually) one comparison, with no allocation.
struct ByteStringTable {
    private var slots: [Int32]
    private var slotTags: [UInt32]
    private var keyStarts: [Int32] = [0]
    private var values: [Int32] = []
    private var arena: [UInt8] = []
    private var mask: Int

    init(minimumCapacity: Int = 16) {
        var size = 16
        while size < minimumCapacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        slotTags = [UInt32](repeating: 0, count: size)
        mask = size - 1
    }

    var count: Int { values.count }
    var arenaSize: Int { arena.count }

    @inline(__always)
    static func hash(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: count)
        let raw = UnsafeRawPointer(bytes)
        var i = 0
        while i + 8 <= count {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
            i += 8
        }
        if i < count {
            var word: UInt64 = 0
            var shift: UInt64 = 0
            while i < count {
                word |= UInt64(bytes[i]) << shift
                shift += 8
                i += 1
            }
            h = (h ^ word) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
        }
        h = (h ^ (h >> 29)) &* 0xC4CE_B9FE_1A85_EC53
        return h ^ (h >> 32)
    }

    /// The value stored for the key, or -1.
    @inline(__always)
    func value(_ bytes: UnsafePointer<UInt8>, count: Int) -> Int32 {
        let h = Self.hash(bytes, count)
        let tag = UInt32(truncatingIfNeeded: h >> 32)
        return slots.withUnsafeBufferPointer { slots in
            slotTags.withUnsafeBufferPointer { tags in
                keyStarts.withUnsafeBufferPointer { starts in
                    arena.withUnsafeBufferPointer { arena in
                        var index = Int(truncatingIfNeeded: h) & mask
                        while true {
                            let entry = slots[index]
                            if entry < 0 { return -1 }
                            if tags[index] == tag {
                                let start = Int(starts[Int(entry)])
                                let length = Int(starts[Int(entry) + 1]) - start
                                if length == count && (count == 0 || memcmp(arena.baseAddress! + start, bytes, count) == 0) {
                                    return values[Int(entry)]
                                }
                            }
                            index = (index + 1) & mask
                        }
                    }
                }
            }
        }
    }

    func value(_ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBufferPointer { value($0.baseAddress ?? emptyBytePointer, count: $0.count) }
    }

    func value(_ bytes: ArraySlice<UInt8>) -> Int32 {
        bytes.withUnsafeBufferPointer { value($0.baseAddress ?? emptyBytePointer, count: $0.count) }
    }

    /// Inserts or replaces. Returns the previous value, or -1.
    @discardableResult
    mutating func insert(_ bytes: UnsafePointer<UInt8>, count: Int, value: Int32) -> Int32 {
        if (values.count + 1) * 2 > slots.count { grow() }
        let h = Self.hash(bytes, count)
        let tag = UInt32(truncatingIfNeeded: h >> 32)
        var index = Int(truncatingIfNeeded: h) & mask
        while true {
            let entry = slots[index]
            if entry < 0 { break }
            if slotTags[index] == tag {
                let start = Int(keyStarts[Int(entry)])
                let length = Int(keyStarts[Int(entry) + 1]) - start
                let same = length == count && arena.withUnsafeBufferPointer {
                    count == 0 || memcmp($0.baseAddress! + start, bytes, count) == 0
                }
                if same {
                    let previous = values[Int(entry)]
                    values[Int(entry)] = value
                    return previous
                }
            }
            index = (index + 1) & mask
        }
        slots[index] = Int32(values.count)
        slotTags[index] = tag
        arena.append(contentsOf: UnsafeBufferPointer(start: bytes, count: count))
        keyStarts.append(Int32(arena.count))
        values.append(value)
        return -1
    }

    @discardableResult
    mutating func insert(_ bytes: [UInt8], value: Int32) -> Int32 {
        bytes.withUnsafeBufferPointer { insert($0.baseAddress ?? emptyBytePointer, count: $0.count, value: value) }
    }

    mutating func removeAll() {
        for i in slots.indices { slots[i] = -1 }
        keyStarts.removeAll(keepingCapacity: true)
        keyStarts.append(0)
        values.removeAll(keepingCapacity: true)
        arena.removeAll(keepingCapacity: true)
    }

    private mutating func grow() {
        let size = slots.count * 2
        var newSlots = [Int32](repeating: -1, count: size)
        var newTags = [UInt32](repeating: 0, count: size)
        let newMask = size - 1
        arena.withUnsafeBufferPointer { arena in
            for entry in values.indices {
                let start = Int(keyStarts[entry])
                let length = Int(keyStarts[entry + 1]) - start
                let h = Self.hash((arena.baseAddress ?? emptyBytePointer) + start, length)
                var index = Int(truncatingIfNeeded: h) & newMask
                while newSlots[index] >= 0 { index = (index + 1) & newMask }
                newSlots[index] = Int32(entry)
                newTags[index] = UInt32(truncatingIfNeeded: h >> 32)
            }
        }
        slots = newSlots
        slotTags = newTags
        mask = newMask
    }
}

/// A valid pointer for empty buffers (memcmp and hashing never read through it).
let emptyBytePointer: UnsafePointer<UInt8> = {
    let pointer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    pointer.initialize(to: 0)
    return UnsafePointer(pointer)
}()

/// Open-addressing table from a pair of token ids to `(rank, merged id)`. Each slot holds the key
/// and its entry side by side, so a lookup touches one cache line.
struct MergeTable {
    private var slots: [UInt64]
    private var mask: Int
    private(set) var count = 0

    private static let empty = UInt64.max

    init(minimumCapacity: Int) {
        var size = 16
        while size < minimumCapacity * 2 { size <<= 1 }
        slots = [UInt64](repeating: Self.empty, count: size * 2)
        mask = size - 1
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        var h = key &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        return Int(truncatingIfNeeded: h) & mask
    }

    /// Later merges of the same pair replace earlier ones, as in the reference's map building.
    mutating func insert(left: Int32, right: Int32, rank: Int32, merged: Int32) {
        let key = Self.key(left, right)
        var index = Self.slot(key, mask)
        while slots[2 * index] != Self.empty && slots[2 * index] != key { index = (index + 1) & mask }
        if slots[2 * index] == Self.empty { count += 1 }
        slots[2 * index] = key
        slots[2 * index + 1] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
    }

    /// `(rank << 32) | merged` for the pair, or `UInt64.max` when the pair never merges.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> UInt64 {
        let key = Self.key(left, right)
        return slots.withUnsafeBufferPointer { slots in
            var index = Self.slot(key, mask)
            while true {
                let k = slots[2 * index]
                if k == key { return slots[2 * index + 1] }
                if k == Self.empty { return UInt64.max }
                index = (index + 1) & mask
            }
        }
    }
}
