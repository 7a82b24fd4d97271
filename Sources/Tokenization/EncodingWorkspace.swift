import Foundation

/// Buffers and the word cache one encoding thread reuses from text to text.
final class EncodingWorkspace {
    var pieces = Pieces()
    var segments: [Segment] = []
    var wordCache = WordCache()
    let bpe = BPEScratch()
    var ids: [Int32] = []
    private var spare: [Pieces] = [Pieces(), Pieces()]

    func takeSparePieces() -> Pieces {
        spare.popLast() ?? Pieces()
    }

    func returnSparePieces(_ pieces: Pieces) {
        spare.append(pieces)
    }
}

/// A small lock-protected pool of workspaces, so concurrent callers never share one.
final class WorkspacePool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [EncodingWorkspace] = []

    func withWorkspace<Result>(_ body: (EncodingWorkspace) -> Result) -> Result {
        lock.lock()
        let workspace = free.popLast() ?? EncodingWorkspace()
        lock.unlock()
        defer {
            lock.lock()
            if free.count < 64 { free.append(workspace) }
            lock.unlock()
        }
        return body(workspace)
    }
}
