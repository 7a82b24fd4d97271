import Foundation

/// Byte-pair encoding as Hugging Face `tokenizers` does it: a word is split into characters
/// (or bytes), unknown characters go to byte-fallback tokens or the unknown token, then the
/// lowest-ranked adjacent pair is merged until no pair merges, leftmost first among equal ranks.
final class BPEModel {
    /// What one initial symbol is: a byte (byte-level vocabularies, stored as raw bytes) or a
    /// Unicode scalar (everything else).
    enum SymbolUnit { case byte, scalar }

    let unit: SymbolUnit
    /// Model-space key bytes → id (raw bytes when `unit == .byte`).
    let encodeTable: ByteStringTable
    let merges: MergeTable
    let unknownID: Int32
    let fuseUnknown: Bool
    let byteFallbackIDs: [Int32]?
    let ignoreMerges: Bool
    let continuingSubwordPrefix: [UInt8]?
    let endOfWordSuffix: [UInt8]?
    /// Id of each single-byte key (ASCII scalars, or every byte in byte mode), -1 if absent.
    private let singleByteIDs: [Int32]

    /// Words shorter than this many bytes are cached (the reference caches below 256 too).
    static let cacheableLength = 256
    /// Words with more initial symbols than this merge with a heap; shorter ones by scanning.
    static let heapThreshold = 48

    init(unit: SymbolUnit, encodeTable: ByteStringTable, merges: MergeTable, unknownID: Int32, fuseUnknown: Bool,
         byteFallbackIDs: [Int32]?, ignoreMerges: Bool, continuingSubwordPrefix: [UInt8]?, endOfWordSuffix: [UInt8]?) {
        self.unit = unit
        self.encodeTable = encodeTable
        self.merges = merges
        self.unknownID = unknownID
        self.fuseUnknown = fuseUnknown
        self.byteFallbackIDs = byteFallbackIDs
        self.ignoreMerges = ignoreMerges
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.endOfWordSuffix = endOfWordSuffix
        let limit = unit == .byte ? 256 : 128
        singleByteIDs = (0..<256).map { byte in
            guard byte < limit else { return -1 }
            return encodeTable.value([UInt8(byte)])
        }
    }

    /// Appends the ids of one pre-tokenized word.
    func encodeWord(_ word: UnsafePointer<UInt8>, count: Int, into output: inout [Int32], workspace: EncodingWorkspace) {
        if count == 0 { return }
        if ignoreMerges {
            let id = encodeTable.value(word, count: count)
            if id >= 0 {
                output.append(id)
                return
            }
        }
        let cacheable = count < Self.cacheableLength
        if cacheable, workspace.wordCache.append(word, count: count, to: &output) { return }
        let start = output.count
        let scratch = workspace.bpe
        initialSymbols(word, count: count, scratch: scratch)
        let symbolCount = scratch.symbols.count
        if symbolCount > Self.heapThreshold {
            mergeWithHeap(scratch)
        } else {
            mergeByScanning(scratch)
        }
        if symbolCount > Self.heapThreshold {
            var index = 0
            scratch.symbols.withUnsafeBufferPointer { symbols in
                scratch.next.withUnsafeBufferPointer { next in
                    while index >= 0 {
                        output.append(symbols[index])
                        index = Int(next[index])
                    }
                }
            }
        } else {
            output.append(contentsOf: scratch.symbols)
        }
        if cacheable {
            output.withUnsafeBufferPointer { ids in
                workspace.wordCache.insert(word, count: count, ids: UnsafeBufferPointer(rebasing: ids[start...]))
            }
        }
    }

    // MARK: Initial symbols

    private func initialSymbols(_ word: UnsafePointer<UInt8>, count: Int, scratch: BPEScratch) {
        scratch.symbols.removeAll(keepingCapacity: true)
        if unit == .byte {
            // Byte-level vocabularies contain every byte; an absent one goes to the unknown token.
            var pendingUnknown = false
            for i in 0..<count {
                let id = singleByteIDs[Int(word[i])]
                if id >= 0 {
                    if pendingUnknown { scratch.symbols.append(unknownID); pendingUnknown = false }
                    scratch.symbols.append(id)
                } else if unknownID >= 0 {
                    if pendingUnknown && !fuseUnknown { scratch.symbols.append(unknownID) }
                    pendingUnknown = true
                }
            }
            if pendingUnknown { scratch.symbols.append(unknownID) }
            return
        }
        var pendingUnknown = false
        var index = 0
        let decorated = continuingSubwordPrefix != nil || endOfWordSuffix != nil
        while index < count {
            let length = UTF8Scalars.length(lead: word[index])
            var id: Int32
            if decorated {
                scratch.key.removeAll(keepingCapacity: true)
                if index > 0, let prefix = continuingSubwordPrefix { scratch.key.append(contentsOf: prefix) }
                scratch.key.append(contentsOf: UnsafeBufferPointer(start: word + index, count: length))
                if index + length >= count, let suffix = endOfWordSuffix { scratch.key.append(contentsOf: suffix) }
                id = encodeTable.value(scratch.key)
            } else if length == 1 {
                id = singleByteIDs[Int(word[index])]
            } else {
                id = encodeTable.value(word + index, count: length)
            }
            if id >= 0 {
                if pendingUnknown { scratch.symbols.append(unknownID); pendingUnknown = false }
                scratch.symbols.append(id)
            } else if let fallback = byteFallbackIDs, appendFallback(fallback, word + index, length, decorated, scratch) {
                // The reference adds byte tokens without flushing a pending unknown token.
            } else if unknownID >= 0 {
                if pendingUnknown && !fuseUnknown { scratch.symbols.append(unknownID) }
                pendingUnknown = true
            }
            index += length
        }
        if pendingUnknown { scratch.symbols.append(unknownID) }
    }

    /// Byte-fallback tokens for one character, all or nothing.
    private func appendFallback(_ table: [Int32], _ character: UnsafePointer<UInt8>, _ length: Int,
                                _ decorated: Bool, _ scratch: BPEScratch) -> Bool {
        if decorated {
            for byte in scratch.key where table[Int(byte)] < 0 { return false }
            for byte in scratch.key { scratch.symbols.append(table[Int(byte)]) }
            return true
        }
        for i in 0..<length where table[Int(character[i])] < 0 { return false }
        for i in 0..<length { scratch.symbols.append(table[Int(character[i])]) }
        return true
    }

    // MARK: Merging

    /// Short words: repeatedly merge the lowest-ranked pair (leftmost among ties).
    private func mergeByScanning(_ scratch: BPEScratch) {
        var count = scratch.symbols.count
        if count < 2 { return }
        let merges = self.merges
        scratch.symbols.withUnsafeMutableBufferPointer { symbols in
            scratch.pairRanks.removeAll(keepingCapacity: true)
            for i in 0..<(count - 1) { scratch.pairRanks.append(merges.lookup(symbols[i], symbols[i + 1])) }
            scratch.pairRanks.withUnsafeMutableBufferPointer { ranks in
                while count > 1 {
                    var best = UInt64.max
                    var position = -1
                    for i in 0..<(count - 1) where ranks[i] < best {
                        best = ranks[i]
                        position = i
                    }
                    if position < 0 { break }
                    symbols[position] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
                    // Remove symbol position+1 and the pair rank that started there.
                    var j = position + 1
                    while j < count - 1 {
                        symbols[j] = symbols[j + 1]
                        j += 1
                    }
                    j = position + 1
                    while j < count - 2 {
                        ranks[j] = ranks[j + 1]
                        j += 1
                    }
                    count -= 1
                    if position > 0 { ranks[position - 1] = merges.lookup(symbols[position - 1], symbols[position]) }
                    if position < count - 1 { ranks[position] = merges.lookup(symbols[position], symbols[position + 1]) }
                }
            }
        }
        scratch.symbols.removeLast(scratch.symbols.count - count)
    }

    /// Long words (Gemma encodes a whole prompt as one word): a min-heap of candidate merges
    /// keyed by (rank, position) over a doubly linked list, so merging is O(n log n).
    private func mergeWithHeap(_ scratch: BPEScratch) {
        let count = scratch.symbols.count
        let merges = self.merges
        scratch.previous.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        scratch.pairRanks.removeAll(keepingCapacity: true)
        for i in 0..<count {
            scratch.previous.append(Int32(i - 1))
            scratch.next.append(i + 1 < count ? Int32(i + 1) : -1)
        }
        var heap = MinHeap(storage: scratch.heap)
        scratch.symbols.withUnsafeMutableBufferPointer { symbols in
            // pairRanks[i]: the merge of the pair starting at symbol i, kept current as symbols merge.
            for i in 0..<(count - 1) {
                let entry = merges.lookup(symbols[i], symbols[i + 1])
                scratch.pairRanks.append(entry)
                if entry != UInt64.max { heap.push(entry & 0xFFFF_FFFF_0000_0000 | UInt64(i)) }
            }
            scratch.pairRanks.append(UInt64.max)
            scratch.pairRanks.withUnsafeMutableBufferPointer { pairs in
                scratch.previous.withUnsafeMutableBufferPointer { previous in
                    scratch.next.withUnsafeMutableBufferPointer { next in
                        while let top = heap.pop() {
                            let position = Int(top & 0xFFFF_FFFF)
                            let entry = pairs[position]
                            // A stale entry: the symbol is gone or its pair changed since it was queued.
                            if symbols[position] < 0 || entry == UInt64.max || entry >> 32 != top >> 32 { continue }
                            let right = Int(next[position])
                            symbols[position] = Int32(truncatingIfNeeded: entry & 0xFFFF_FFFF)
                            symbols[right] = -1
                            pairs[right] = UInt64.max
                            let after = Int(next[right])
                            next[position] = Int32(after)
                            if after >= 0 { previous[after] = Int32(position) }
                            let before = Int(previous[position])
                            if before >= 0 {
                                let candidate = merges.lookup(symbols[before], symbols[position])
                                pairs[before] = candidate
                                if candidate != UInt64.max { heap.push(candidate & 0xFFFF_FFFF_0000_0000 | UInt64(before)) }
                            }
                            if after >= 0 {
                                let candidate = merges.lookup(symbols[position], symbols[after])
                                pairs[position] = candidate
                                if candidate != UInt64.max { heap.push(candidate & 0xFFFF_FFFF_0000_0000 | UInt64(position)) }
                            } else {
                                pairs[position] = UInt64.max
                            }
                        }
                    }
                }
            }
        }
        scratch.heap = heap.storage
    }
}

/// Binary min-heap of packed `(rank << 32) | position` keys.
struct MinHeap {
    var storage: [UInt64]

    init(storage: [UInt64]) {
        self.storage = storage
        self.storage.removeAll(keepingCapacity: true)
    }

    mutating func push(_ value: UInt64) {
        storage.append(value)
        var child = storage.count - 1
        storage.withUnsafeMutableBufferPointer { heap in
            while child > 0 {
                let parent = (child - 1) >> 1
                if heap[parent] <= value { break }
                heap[child] = heap[parent]
                child = parent
            }
            heap[child] = value
        }
    }

    mutating func pop() -> UInt64? {
        guard let last = storage.popLast() else { return nil }
        if storage.isEmpty { return last }
        let top = storage[0]
        let count = storage.count
        storage.withUnsafeMutableBufferPointer { heap in
            var parent = 0
            while true {
                var child = 2 * parent + 1
                if child >= count { break }
                if child + 1 < count && heap[child + 1] < heap[child] { child += 1 }
                if heap[child] >= last { break }
                heap[parent] = heap[child]
                parent = child
            }
            heap[parent] = last
        }
        return top
    }
}

/// Reusable buffers for merging one word.
final class BPEScratch {
    var symbols: [Int32] = []
    var previous: [Int32] = []
    var next: [Int32] = []
    var pairRanks: [UInt64] = []
    var heap: [UInt64] = []
    var key: [UInt8] = []
}

/// Word → ids memo for one worker. Cleared when full rather than evicting piecemeal.
struct WordCache {
    private var table = ByteStringTable(minimumCapacity: 1024)
    private var ids: [Int32] = []
    static let capacity = 20_000

    /// Appends the cached ids of the word and returns true, or returns false on a miss.
    @inline(__always)
    func append(_ word: UnsafePointer<UInt8>, count: Int, to output: inout [Int32]) -> Bool {
        let start = table.value(word, count: count)
        if start < 0 { return false }
        ids.withUnsafeBufferPointer { ids in
            let length = Int(ids[Int(start)])
            if length == 1 {
                output.append(ids[Int(start) + 1])
            } else if length > 1 {
                output.append(contentsOf: UnsafeBufferPointer(rebasing: ids[(Int(start) + 1)...(Int(start) + length)]))
            }
        }
        return true
    }

    mutating func insert(_ word: UnsafePointer<UInt8>, count: Int, ids wordIDs: UnsafeBufferPointer<Int32>) {
        if table.count >= Self.capacity {
            table.removeAll()
            ids.removeAll(keepingCapacity: true)
        }
        let start = Int32(ids.count)
        ids.append(Int32(wordIDs.count))
        ids.append(contentsOf: wordIDs)
        table.insert(word, count: count, value: start)
    }
}
