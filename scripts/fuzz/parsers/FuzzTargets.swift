import CorrSteer
import Foundation
import LanguageModels
import SparseAutoencoders
import Tasks
import Tokenization
import WeightFiles

/// The byte parsers, each fed one input in-process. Most readers take a path (they memory-map or
/// read beside-files), so the input is written to a fixed file of a per-process scratch folder that
/// also holds the companions a reader needs (the weights beside an SAE config, a tokenizer.json
/// beside a tokenizer_config.json). Errors are the expected outcome; only crashes, hangs and huge
/// allocations are findings.
enum FuzzTarget: String, CaseIterable {
    case safetensors, npy, npz, zip
    case torchPT = "torch-pt"
    case gemmaScope = "gemma-scope"
    case tokenizerJSON = "tokenizer-json"
    case tokenizerConfig = "tokenizer-config"
    case modelConfig = "model-config"
    case generationConfig = "generation-config"
    case modelWeights = "model-weights"
    case saeConfig = "sae-config"
    case llamaScopeConfig = "llama-scope-config"
    case taskJSONL = "task-jsonl"
    case taskCSV = "task-csv"
    case manifest, checkpoint, statistics, features, plan, predictions, metrics

    /// Files of the repository a fresh corpus starts from (libfuzzer.sh copies them).
    var seeds: [String] {
        let demo = "Sources/CorrSteer/Resources/demo"
        switch self {
        case .safetensors: return ["Tests/Fixtures/sae/expected", "Tests/Fixtures/corrsteer/statistics_inputs.safetensors", "scripts/fuzz/seeds/run/S.safetensors"]
        case .statistics: return ["scripts/fuzz/seeds/run/statistics.safetensors"]
        case .npy: return ["Tests/Fixtures/sae/npz/plain.npy"]
        case .npz, .zip: return ["Tests/Fixtures/sae/npz", "Tests/Fixtures/sae/gemma_scope"]
        case .torchPT: return ["Tests/Fixtures/torch_pt"]
        case .gemmaScope: return ["Tests/Fixtures/sae/gemma_scope", "Tests/Fixtures/sae/gemma_scope_tree/layer_0"]
        case .tokenizerJSON: return ["\(demo)/model/tokenizer.json", "scripts/fuzz/seeds/tokenizer/tokenizer.json", "Tests/Fixtures/tokenization/variants", "Tests/Fixtures/tokenization/gemma-2-like/tokenizer.json"]
        case .tokenizerConfig: return ["\(demo)/model/tokenizer_config.json", "Tests/Fixtures/tokenization/gemma-2-like/tokenizer_config.json"]
        case .modelConfig: return ["\(demo)/model/config.json", "Tests/Fixtures/models/llama3-tiny-f32/config.json"]
        case .generationConfig: return ["\(demo)/model/generation_config.json", "Tests/Fixtures/models/llama3-tiny-f32/generation_config.json"]
        case .modelWeights: return ["\(demo)/model/model.safetensors"]
        case .saeConfig: return ["Tests/Fixtures/sae/saelens/standard/cfg.json", "Tests/Fixtures/sae/saelens/topk/cfg.json", "Tests/Fixtures/sae/saelens/gated/cfg.json"]
        case .llamaScopeConfig: return ["Tests/Fixtures/sae/llama_scope/Llama3_1-8B-Base-L5R-8x/hyperparams.json"]
        case .taskJSONL: return ["\(demo)/task/demo.jsonl"]
        case .taskCSV: return ["scripts/fuzz/seeds/data/xstest/xstest_prompts.csv", "scripts/fuzz/seeds/data/simpleqa/simple_qa_test_set.csv"]
        case .manifest: return ["scripts/fuzz/seeds/run/manifest.json"]
        case .checkpoint: return ["scripts/fuzz/seeds/run/checkpoint.json"]
        case .features: return ["scripts/fuzz/seeds/run/features.json"]
        case .plan: return ["scripts/fuzz/seeds/run/S.json", "scripts/fuzz/seeds/run/A.json"]
        case .metrics: return ["scripts/fuzz/seeds/run/metrics.json"]
        case .predictions: return ["scripts/fuzz/seeds/run/predictions.jsonl", "Tests/Fixtures/corrsteer/metrics_baseline.jsonl"]
        }
    }

    /// Parses `input`; a thrown error is a clean rejection.
    func run(_ input: Data) throws {
        let folder = Scratch.folder
        func file(_ name: String) -> URL {
            let url = folder.appendingPathComponent(name)
            try? input.write(to: url)
            return url
        }
        switch self {
        case .safetensors, .statistics:
            let url = file("input.safetensors")
            if self == .statistics { _ = try FeatureStatistics.load(from: url); return }
            let tensors = try SafeTensorsFile(url: url)
            for name in tensors.names { _ = try tensors.tensor(name) }
        case .npy:
            _ = try NpyFile(url: file("input.npy")).tensor()
        case .npz:
            let archive = try NpzArchive(url: file("input.npz"))
            for name in archive.names { _ = try archive.tensor(name) }
        case .torchPT:
            let checkpoint = try TorchPickleFile(url: file("input.pt"))
            for name in checkpoint.names { _ = try checkpoint.tensor(name) }
        case .zip:
            let archive = try ZipArchive(file: try MappedFile(path: file("input.zip").path))
            _ = archive.entries.map(\.name).compactMap(archive.entry(named:))
        case .gemmaScope:
            _ = file("gemma/layer_0/width_16k/average_l0_1/params.npz")
            _ = try SparseAutoencoder.load(path: folder.appendingPathComponent("gemma"), layer: 0)
        case .tokenizerJSON, .tokenizerConfig:
            _ = file(self == .tokenizerJSON ? "tokenizer/tokenizer.json" : "tokenizer-config/tokenizer_config.json")
            let json = folder.appendingPathComponent(self == .tokenizerJSON ? "tokenizer/tokenizer.json" : "tokenizer-config/tokenizer.json")
            let tokenizer = try Tokenizer(contentsOf: json)
            let ids = tokenizer.encode("Hello, world! <start_of_turn>user\nRefuse this. 123 é 😀")
            _ = tokenizer.decode(ids + [0, 1, -1, Int(Int32.max)], skipSpecialTokens: true)
            _ = try? tokenizer.renderChat([.user("hi"), .assistant("ok")], addGenerationPrompt: true)
        case .modelConfig:
            _ = try ModelConfiguration(json: input)
        case .generationConfig:
            _ = try ModelConfiguration(json: Scratch.demoConfig, generationJSON: input)
        case .modelWeights:
            _ = file("model/model.safetensors")
            _ = try LanguageModel.load(directory: folder.appendingPathComponent("model"))
        case .saeConfig:
            _ = file("saelens/cfg.json")
            _ = try SparseAutoencoder.load(path: folder.appendingPathComponent("saelens"))
        case .llamaScopeConfig:
            _ = file("llamascope/hyperparams.json")
            _ = try SparseAutoencoder.load(path: folder.appendingPathComponent("llamascope"))
        case .taskJSONL:
            var options = TaskOptions()
            options.customTaskFile = file("task.jsonl")
            options.customKind = .exact
            _ = try TaskCatalog.load(task: "custom", dataDirectory: folder, options: options)
        case .taskCSV:
            // One input, every CSV reader: the table parser is shared, the column checks are not.
            var failure: Error?
            var accepted = false
            for (task, path) in [("xstest", "data/xstest/xstest_prompts.csv"), ("simpleqa", "data/simpleqa/simple_qa_test_set.csv"),
                                 ("harmbench", "data/harmbench/harmbench_behaviors_text_all.csv")] {
                _ = file(path)
                do { _ = try TaskCatalog.load(task: task, dataDirectory: folder.appendingPathComponent("data")); accepted = true } catch { failure = error }
            }
            if let failure, !accepted { throw failure }
        case .manifest:
            _ = file("run/manifest.json")
            _ = try RunManifest.load(from: RunDirectory(folder.appendingPathComponent("run")))
        case .checkpoint:
            _ = file("run/stats/checkpoint.json")
            _ = try StatisticsCheckpoint.load(from: RunDirectory(folder.appendingPathComponent("run")))
        case .features:
            _ = try FeatureCandidates.load(from: file("run/features.json"))
        case .plan:
            _ = try SteeringPlan.load(from: file("run/plans/S.json"))
        case .predictions:
            _ = try PredictionsFile.read(from: file("run/predictions.jsonl"))
        case .metrics:
            _ = try VariantMetrics.load(from: file("run/metrics.json"))
        }
    }
}

/// The per-process scratch folder, with the companion files copied in once.
enum Scratch {
    static let repo = URL(fileURLWithPath: ProcessInfo.processInfo.environment["CORRSTEER_FUZZ_REPO"] ?? FileManager.default.currentDirectoryPath)
    static let demoConfig = (try? Data(contentsOf: repo.appendingPathComponent("Sources/CorrSteer/Resources/demo/model/config.json"))) ?? Data("{}".utf8)

    static let folder: URL = {
        // /dev/shm keeps the per-input writes off the disk when it exists.
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
        let folder = base.appendingPathComponent("corrsteer-fuzz-parsers-\(getpid())")
        let demo = "Sources/CorrSteer/Resources/demo/model"
        let companions: [(String, String)] = [
            // A 16-token tokenizer: the config is what is fuzzed, and loading the demo one would cost 10×.
            ("scripts/fuzz/seeds/tokenizer/tokenizer.json", "tokenizer-config/tokenizer.json"),
            ("\(demo)/config.json", "model/config.json"), ("\(demo)/generation_config.json", "model/generation_config.json"),
            ("Tests/Fixtures/sae/saelens/standard/sae_weights.safetensors", "saelens/sae_weights.safetensors"),
            ("Tests/Fixtures/sae/llama_scope/Llama3_1-8B-Base-L5R-8x/checkpoints/final.safetensors", "llamascope/checkpoints/final.safetensors"),
            ("scripts/fuzz/seeds/run/S.safetensors", "run/plans/S.safetensors"),
        ]
        for directory in ["tokenizer", "gemma/layer_0/width_16k/average_l0_1", "run/stats", "run/plans", "data/xstest", "data/simpleqa", "data/harmbench"] {
            try? FileManager.default.createDirectory(at: folder.appendingPathComponent(directory), withIntermediateDirectories: true)
        }
        for (source, destination) in companions {
            let target = folder.appendingPathComponent(destination)
            try? FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? FileManager.default.copyItem(at: repo.appendingPathComponent(source), to: target)
        }
        atexit { try? FileManager.default.removeItem(at: Scratch.folder) }
        return folder
    }()
}
