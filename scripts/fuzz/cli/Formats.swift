import Foundation

/// How a format's file is mutated.
enum Mutator {
    case json, jsonLines, safetensors, npz, csv

    /// One mutation: usually structure-aware, sometimes byte-level so malformed syntax is covered too.
    func mutate(_ input: [UInt8], using random: inout SeededRandom) -> [UInt8] {
        if random.chance(0.25) { return ByteMutations.mutate(input, using: &random) }
        switch self {
        case .json: return JSONMutations.mutate(input, using: &random)
        case .jsonLines: return JSONLinesMutations.mutate(input, using: &random)
        case .safetensors: return SafeTensorsMutations.mutate(input, using: &random)
        case .npz: return ZipMutations.mutate(input, using: &random)
        case .csv: return TextMutations.mutate(input, using: &random)
        }
    }
}

/// One fuzzed file: which file of the working setup is mutated, and the cheapest `corrsteer` command
/// that parses it. Paths are relative to the case folder, where the command runs.
struct FuzzFormat {
    let name: String
    /// The file the mutations edit.
    let target: String
    let mutator: Mutator
    /// Files and folders of the pristine setup copied into each case folder.
    let copies: [String]
    let arguments: [String]
    var stdin: String? = nil
    /// Run files carry checksums of other run files (stats/checkpoint.json); the fuzzer rewrites the
    /// recorded one so the mutated file reaches its parser instead of stopping at the checksum.
    var checksum: (file: String, path: [String])? = nil
}

/// The setup every case starts from: the demo bundle, SAE fixtures of each layout, tiny task files,
/// a finished run and two shard runs, made once per fuzzing session with the binary under test.
enum Setup {
    static let samples = 16
    static let checkpointFolder = String(format: "run/stats/checkpoint-%09d", samples)
    static let gemmaScope = "sae/layer_0/width_512/average_l0_33/params.npz"
    static let deflated = "deflated/layer_5/width_16k/average_l0_68/params.npz"

    static let formats: [FuzzFormat] = {
        let forward = ["forward", "--model", "model", "--tokens", "2,3,4,5", "--out", "out.safetensors"]
        let tokenizerFiles = ["model/tokenizer.json", "model/tokenizer_config.json", "model/special_tokens_map.json"]
        let tokenize = ["tokenize", "--tokenizer", "model/tokenizer.json"]
        let tokenizeInput = "{\"text\":\"Hello, world! <start_of_turn>user\\nRefuse this. 123\"}\n{\"text\":\"\"}\n"
        func encode(_ sae: String, layer: String?, width: Int) -> [String] {
            ["sae-encode", "--sae", sae] + (layer.map { ["--layer", $0] } ?? []) + ["--in", "x\(width).safetensors", "--out", "z.safetensors"]
        }
        let custom = ["tasks", "--data", "data", "--task", "custom", "--task-file", "task/demo.jsonl", "--custom-kind", "exact", "--show", "1"]
        let select = ["select", "run"]
        let export = ["export", "run", "--plan", "S", "--format", "safetensors", "--output", "exported.safetensors"]
        return [
            FuzzFormat(name: "model-config", target: "model/config.json", mutator: .json, copies: ["model"], arguments: forward),
            FuzzFormat(name: "generation-config", target: "model/generation_config.json", mutator: .json, copies: ["model"], arguments: forward),
            FuzzFormat(name: "model-safetensors", target: "model/model.safetensors", mutator: .safetensors, copies: ["model"], arguments: forward),
            FuzzFormat(name: "tokenizer-json", target: "model/tokenizer.json", mutator: .json, copies: tokenizerFiles, arguments: tokenize, stdin: tokenizeInput),
            FuzzFormat(name: "tokenizer-config", target: "model/tokenizer_config.json", mutator: .json, copies: tokenizerFiles, arguments: tokenize, stdin: tokenizeInput),
            FuzzFormat(name: "special-tokens-map", target: "model/special_tokens_map.json", mutator: .json, copies: tokenizerFiles, arguments: tokenize, stdin: tokenizeInput),
            FuzzFormat(name: "gemma-scope-npz", target: gemmaScope, mutator: .npz, copies: [gemmaScope, "x64.safetensors"], arguments: encode("sae", layer: "0", width: 64)),
            FuzzFormat(name: "gemma-scope-npz-deflated", target: deflated, mutator: .npz, copies: [deflated, "x48.safetensors"], arguments: encode("deflated", layer: "5", width: 48)),
            FuzzFormat(name: "saelens-cfg", target: "saelens/cfg.json", mutator: .json, copies: ["saelens", "x32.safetensors"], arguments: encode("saelens", layer: nil, width: 32)),
            FuzzFormat(name: "saelens-safetensors", target: "saelens/sae_weights.safetensors", mutator: .safetensors, copies: ["saelens", "x32.safetensors"], arguments: encode("saelens", layer: nil, width: 32)),
            FuzzFormat(name: "llamascope-hyperparams", target: "llamascope/hyperparams.json", mutator: .json, copies: ["llamascope", "x64.safetensors"], arguments: encode("llamascope", layer: nil, width: 64)),
            FuzzFormat(name: "llamascope-safetensors", target: "llamascope/checkpoints/final.safetensors", mutator: .safetensors, copies: ["llamascope", "x64.safetensors"], arguments: encode("llamascope", layer: nil, width: 64)),
            FuzzFormat(name: "task-jsonl", target: "task/demo.jsonl", mutator: .jsonLines, copies: ["task", "data"], arguments: custom),
            FuzzFormat(name: "task-csv-xstest", target: "data/xstest/xstest_prompts.csv", mutator: .csv, copies: ["data"], arguments: ["tasks", "--data", "data", "--task", "xstest", "--show", "1"]),
            FuzzFormat(name: "task-csv-simpleqa", target: "data/simpleqa/simple_qa_test_set.csv", mutator: .csv, copies: ["data"], arguments: ["tasks", "--data", "data", "--task", "simpleqa", "--show", "1"]),
            FuzzFormat(name: "manifest", target: "run/manifest.json", mutator: .json, copies: ["run"], arguments: select),
            FuzzFormat(name: "checkpoint", target: "run/stats/checkpoint.json", mutator: .json, copies: ["run"], arguments: select),
            FuzzFormat(name: "statistics", target: checkpointFolder + "/layer_1.safetensors", mutator: .safetensors, copies: ["run"], arguments: select,
                       checksum: ("run/stats/checkpoint.json", ["checksums", "layer_1.safetensors"])),
            FuzzFormat(name: "collection", target: "shard0/collection.jsonl", mutator: .jsonLines, copies: ["shard0", "shard1"],
                       arguments: ["merge", "shard0", "shard1", "--out", "merged"], checksum: ("shard0/stats/checkpoint.json", ["collection_log_checksum"])),
            FuzzFormat(name: "features", target: "run/features.json", mutator: .json, copies: ["run"], arguments: ["features", "run"]),
            FuzzFormat(name: "plan", target: "run/plans/S.json", mutator: .json, copies: ["run"], arguments: export),
            FuzzFormat(name: "plan-vectors", target: "run/plans/S.safetensors", mutator: .safetensors, copies: ["run"], arguments: export),
            FuzzFormat(name: "predictions", target: "run/eval/S/predictions.jsonl", mutator: .jsonLines, copies: ["run"], arguments: ["report", "run"]),
            FuzzFormat(name: "metrics", target: "run/eval/S/metrics.json", mutator: .json, copies: ["run"], arguments: ["report", "run"]),
        ]
    }()

    /// Builds the pristine setup in `folder` from the repository at `repo`.
    static func prepare(in folder: URL, repo: URL, runner: CommandRunner) throws {
        let files = FileManager.default
        try files.createDirectory(at: folder, withIntermediateDirectories: true)
        let demo = "Sources/CorrSteer/Resources/demo"
        let sources: [(String, String)] = [
            ("\(demo)/model", "model"), ("\(demo)/sae", "sae"), ("\(demo)/task", "task"),
            ("Tests/Fixtures/sae/gemma_scope/compressed", "deflated"), ("Tests/Fixtures/sae/saelens/standard", "saelens"),
            ("Tests/Fixtures/sae/llama_scope/Llama3_1-8B-Base-L5R-8x", "llamascope"), ("scripts/fuzz/seeds/data", "data"),
        ]
        for (source, name) in sources {
            try files.copyItem(at: repo.appendingPathComponent(source), to: folder.appendingPathComponent(name))
        }
        for width in [32, 48, 64] {
            try SafeTensorsWriter.rows(width: width).write(to: folder.appendingPathComponent("x\(width).safetensors"))
        }
        // Absolute paths: the manifest records them, and the cases that copy only the run resolve them.
        let collect = ["collect", "--model", folder.path + "/model", "--sae", folder.path + "/sae", "--task", "custom",
                       "--task-file", folder.path + "/task/demo.jsonl", "--custom-kind", "exact", "--samples", String(samples), "--quiet"]
        let steps: [[String]] = [
            collect + ["--out", "run"], ["select", "run", "--top-k", "3"], ["evaluate", "run", "--strategies", "S", "--test-limit", "4", "--val-limit", "2"],
            collect + ["--shard", "0/2", "--out", "shard0"], collect + ["--shard", "1/2", "--out", "shard1"],
        ]
        for arguments in steps {
            let outcome = runner.run(arguments, in: folder, stdin: nil)
            guard outcome.kind == .accepted else {
                throw SetupError("`corrsteer \(arguments.prefix(2).joined(separator: " "))` failed on the pristine setup (\(outcome.kind.rawValue)): \(outcome.stderr.prefix(500))")
            }
        }
    }

    /// Every format's command must accept its unmutated file; otherwise the fuzzer would only be
    /// measuring a broken setup.
    static func check(_ formats: [FuzzFormat], pristine: URL, work: URL, runner: CommandRunner) throws {
        for format in formats {
            let folder = work.appendingPathComponent("check")
            try makeCase(format, pristine: pristine, at: folder)
            try install(Array(try Data(contentsOf: pristine.appendingPathComponent(format.target))), for: format, in: folder)
            let outcome = runner.run(format.arguments, in: folder, stdin: format.stdin)
            guard outcome.kind == .accepted else {
                throw SetupError("\(format.name): the unmutated file is not accepted (\(outcome.kind.rawValue)): \(outcome.stderr.prefix(500))")
            }
        }
    }

    /// A fresh case folder holding the copies `format` needs.
    static func makeCase(_ format: FuzzFormat, pristine: URL, at folder: URL) throws {
        let files = FileManager.default
        try? files.removeItem(at: folder)
        for item in format.copies {
            let destination = folder.appendingPathComponent(item)
            try files.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            try files.copyItem(at: pristine.appendingPathComponent(item), to: destination)
        }
    }

    /// Writes `bytes` as the format's target in the case folder, then repairs the checksum that guards it.
    static func install(_ bytes: [UInt8], for format: FuzzFormat, in folder: URL) throws {
        try Data(bytes).write(to: folder.appendingPathComponent(format.target))
        guard let (file, path) = format.checksum else { return }
        let url = folder.appendingPathComponent(file)
        guard let tree = JSONTree.parse(Array(try Data(contentsOf: url))) else { return }
        let crc = bytes.withUnsafeBufferPointer { UInt32(truncatingIfNeeded: CRC32.of($0)) }
        let updated = setting(tree, at: path[...], to: .string(String(format: "crc32:%08x", crc)))
        try Data(updated.text.utf8).write(to: url)
    }

    private static func setting(_ tree: JSONTree, at path: ArraySlice<String>, to value: JSONTree) -> JSONTree {
        guard let key = path.first else { return value }
        guard case .object(var members) = tree, let index = members.firstIndex(where: { $0.key == key }) else { return tree }
        members[index].value = setting(members[index].value, at: path.dropFirst(), to: value)
        return .object(members)
    }
}

struct SetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Input rows for `sae-encode`: one float32 tensor `x` of shape [2, width].
enum SafeTensorsWriter {
    static func rows(width: Int) -> Data {
        let header = Array("{\"x\":{\"dtype\":\"F32\",\"shape\":[2,\(width)],\"data_offsets\":[0,\(8 * width)]}}".utf8)
        let padded = header + Array(repeating: UInt8(ascii: " "), count: (8 - header.count % 8) % 8)
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(padded.count) >> (8 * UInt64($0))) } + padded
        for index in 0..<(2 * width) {
            withUnsafeBytes(of: Float(index % 7) * 0.25 - 0.5) { bytes += $0 }
        }
        return Data(bytes)
    }
}
