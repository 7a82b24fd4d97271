import Foundation
import WeightFiles

/// One scored sample of the collection, as a line of `collection.jsonl`.
public struct CollectedSample: Codable, Equatable, Sendable {
    /// Position in this run's slice of the train split.
    public var index: Int
    public var id: String
    public var output: String
    public var reward: Double
}

/// `collection.jsonl`: append-only while collecting; on resume cut back to the checkpoint, since
/// samples after it are not in the saved statistics and will be generated again.
struct CollectionLog {
    let url: URL

    func read() throws -> [CollectedSample] {
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw RunError.invalidRun(path: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        var samples: [CollectedSample] = []
        let decoder = JSONDecoder()
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            // A kill during an append can leave a torn last line; it lies after the checkpoint anyway.
            guard let sample = try? decoder.decode(CollectedSample.self, from: Data(line)) else { break }
            samples.append(sample)
        }
        return samples
    }

    /// Keeps the first `count` samples.
    func truncate(to count: Int) throws -> [CollectedSample] {
        let kept = Array(try read().prefix(count))
        guard kept.count == count else {
            throw RunError.invalidRun(path: url.path, reason: "holds \(kept.count) samples but the checkpoint counts \(count)")
        }
        try AtomicFile.write(Self.encode(kept), to: url)
        return kept
    }

    func append(_ samples: [CollectedSample]) throws {
        try AppendOnlyFile.append(Self.encode(samples), to: url)
    }

    static func encode(_ samples: [CollectedSample]) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for sample in samples {
            // Encoding a plain struct of strings and numbers cannot fail.
            data.append((try? encoder.encode(sample)) ?? Data())
            data.append(UInt8(ascii: "\n"))
        }
        return data
    }
}

/// Appends whole lines to JSONL logs; readers stop at a torn last line, so a kill mid-append is harmless.
enum AppendOnlyFile {
    static func append(_ data: Data, to url: URL) throws {
        if !FileManager.default.fileExists(atPath: url.path) {
            try AtomicFile.write(Data(), to: url)
        }
        do {
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: data)
        } catch {
            throw RunError.cannotWrite(path: url.path, reason: error.localizedDescription)
        }
    }
}
