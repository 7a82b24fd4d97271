import Foundation
import Tensors

/// A Hugging Face checkpoint folder: `model.safetensors`, or shards listed in
/// `model.safetensors.index.json`. Shards are opened on first use.
public final class SafeTensorsCheckpoint: @unchecked Sendable {
    public let directory: URL
    private let shardOfTensor: [String: String]
    private var openShards: [String: SafeTensorsFile] = [:]
    private let lock = NSLock()

    /// Tensor names across all shards, sorted.
    public let names: [String]

    public init(directory: URL) throws {
        self.directory = directory
        let fm = FileManager.default
        let indexURL = directory.appendingPathComponent("model.safetensors.index.json")
        let singleURL = directory.appendingPathComponent("model.safetensors")
        if fm.fileExists(atPath: indexURL.path) {
            let data: Data
            do { data = try Data(contentsOf: indexURL) } catch {
                throw WeightFileError.unreadable(path: indexURL.path, reason: error.localizedDescription)
            }
            guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw WeightFileError.malformedHeader(path: indexURL.path, offset: 0, reason: "not a JSON object")
            }
            guard let weightMap = object["weight_map"] as? [String: String] else {
                throw WeightFileError.malformedHeader(path: indexURL.path, offset: 0, reason: "missing \"weight_map\" (tensor name → shard file)")
            }
            for shard in Set(weightMap.values) where !fm.fileExists(atPath: directory.appendingPathComponent(shard).path) {
                throw WeightFileError.unreadable(path: directory.appendingPathComponent(shard).path, reason: "shard listed in \(indexURL.lastPathComponent) is missing")
            }
            shardOfTensor = weightMap
        } else if fm.fileExists(atPath: singleURL.path) {
            let file = try SafeTensorsFile(url: singleURL)
            shardOfTensor = Dictionary(uniqueKeysWithValues: file.names.map { ($0, "model.safetensors") })
            openShards["model.safetensors"] = file
        } else {
            throw WeightFileError.unreadable(
                path: directory.path, reason: "no model.safetensors or model.safetensors.index.json in this folder")
        }
        names = shardOfTensor.keys.sorted()
    }

    public func contains(_ name: String) -> Bool { shardOfTensor[name] != nil }

    /// The file that holds `name`.
    public func file(containing name: String) throws -> SafeTensorsFile {
        guard let shard = shardOfTensor[name] else {
            throw WeightFileError.missingTensor(path: directory.path, tensor: name)
        }
        lock.lock()
        defer { lock.unlock() }
        if let open = openShards[shard] { return open }
        let file = try SafeTensorsFile(url: directory.appendingPathComponent(shard))
        guard file.contains(name) else {
            throw WeightFileError.missingTensor(path: file.path, tensor: name)
        }
        openShards[shard] = file
        return file
    }

    public func info(_ name: String) throws -> SafeTensorInfo { try file(containing: name).info(name) }

    public func tensor(_ name: String) throws -> Tensor { try file(containing: name).tensor(name) }
}
