import Foundation

/// How a collection holds its SAE encoders, decided from the sizes before any generation starts, so that
/// a run that cannot fit says so at once instead of thrashing for hours (issue: Llama-3.1-8B with all 32
/// Llama Scope SAEs on one 24 GiB machine).
///
/// - `resident`: every encoder stays in memory (or mapped) for the whole run and encodes the rows of each
///   forward pass as they come. Fastest when it fits.
/// - `streamed`: the rows of a batch are kept while the model generates; after the batch each layer's SAE
///   is opened, encodes all of that layer's rows and is closed again, so one encoder is in memory at a
///   time. Mapped encoder files are read again from the page cache (or the disk) once per batch, which
///   larger batches amortise. The statistics are the same bits as `resident` (rows replayed in order,
///   row-independent products; tested).
public struct CollectionMemoryPlan: Codable, Equatable, Sendable {
    public enum Residency: String, Codable, Sendable, CaseIterable {
        case resident, streamed
    }

    /// What the user asked for (`--memory-plan`).
    public enum Request: String, Codable, Sendable, CaseIterable {
        case auto, resident, streamed
    }

    public var residency: Residency
    public var reason: String
    /// Memory the plan may use: physical memory less a reserve for the system (1 GiB, or 5 % when larger).
    public var budgetBytes: Int
    public var modelBytes: Int
    /// All encoders together, and the largest one.
    public var encoderBytes: Int
    public var largestEncoderBytes: Int
    /// Streaming statistics of every layer (features, shuffled-label copies, residual means).
    public var statisticsBytes: Int
    /// Streamed plan: the captured rows of one batch (hidden size × rows × layers, f32) and the codes of one
    /// encoding chunk.
    public var captureBytes: Int
    public var estimatedPeakBytes: Int

    enum CodingKeys: String, CodingKey {
        case residency, reason
        case budgetBytes = "budget_bytes", modelBytes = "model_bytes", encoderBytes = "encoder_bytes"
        case largestEncoderBytes = "largest_encoder_bytes", statisticsBytes = "statistics_bytes"
        case captureBytes = "capture_bytes", estimatedPeakBytes = "estimated_peak_bytes"
    }

    /// Buffers, KV cache and code the estimate does not itemise (including the scratch blocks `ScratchPool`
    /// keeps mapped between batches, at most 512 MB).
    static let overheadBytes = 768 << 20

    /// The sizes a plan is chosen from.
    public struct Sizes: Sendable {
        public var modelBytes: Int
        public var encoderBytes: [Int]
        public var statisticsBytes: Int
        /// Captured rows per batch in the streamed plan, and their width (the hidden size).
        public var capturedRowsPerBatch: Int
        public var hiddenSize: Int
        public var widestSAE: Int

        public init(modelBytes: Int, encoderBytes: [Int], statisticsBytes: Int, capturedRowsPerBatch: Int,
                    hiddenSize: Int, widestSAE: Int) {
            self.modelBytes = modelBytes
            self.encoderBytes = encoderBytes
            self.statisticsBytes = statisticsBytes
            self.capturedRowsPerBatch = capturedRowsPerBatch
            self.hiddenSize = hiddenSize
            self.widestSAE = widestSAE
        }
    }

    /// Chooses the plan for `request` within `budgetBytes`; throws when even the streamed plan cannot fit,
    /// or when a forced plan cannot, naming what would.
    public static func choose(_ request: Request, sizes: Sizes, budgetBytes: Int = Self.defaultBudget()) throws -> CollectionMemoryPlan {
        let encoders = sizes.encoderBytes.reduce(0, +)
        let largest = sizes.encoderBytes.max() ?? 0
        let capture = sizes.capturedRowsPerBatch * sizes.hiddenSize * 4 * sizes.encoderBytes.count
            + FeatureCollector.deferredChunk * sizes.widestSAE * 4
        let common = sizes.modelBytes + sizes.statisticsBytes + overheadBytes
        let residentPeak = common + encoders
        let streamedPeak = common + largest + capture
        func plan(_ residency: Residency, _ reason: String) -> CollectionMemoryPlan {
            CollectionMemoryPlan(residency: residency, reason: reason, budgetBytes: budgetBytes, modelBytes: sizes.modelBytes,
                                 encoderBytes: encoders, largestEncoderBytes: largest, statisticsBytes: sizes.statisticsBytes,
                                 captureBytes: residency == .streamed ? capture : 0,
                                 estimatedPeakBytes: residency == .streamed ? streamedPeak : residentPeak)
        }
        let fits = "model \(gib(sizes.modelBytes)) + SAE encoders \(gib(encoders)) + statistics \(gib(sizes.statisticsBytes))"
        switch request {
        case .resident:
            guard residentPeak <= budgetBytes else {
                throw RunError.invalidSetting("memory plan resident needs about \(gib(residentPeak)) (\(fits)) but this machine allows \(gib(budgetBytes)); use \(RunSetting.memoryPlan) streamed (about \(gib(streamedPeak)))")
            }
            return plan(.resident, "asked for")
        case .streamed:
            guard streamedPeak <= budgetBytes else { throw tooLarge(streamedPeak, sizes: sizes, capture: capture, budget: budgetBytes) }
            return plan(.streamed, "asked for")
        case .auto:
            if residentPeak <= budgetBytes { return plan(.resident, "everything fits: \(fits) ≈ \(gib(residentPeak)) of \(gib(budgetBytes))") }
            guard streamedPeak <= budgetBytes else { throw tooLarge(streamedPeak, sizes: sizes, capture: capture, budget: budgetBytes) }
            return plan(.streamed, "\(fits) ≈ \(gib(residentPeak)) exceed \(gib(budgetBytes)); one encoder at a time needs ≈ \(gib(streamedPeak))")
        }
    }

    private static func tooLarge(_ peak: Int, sizes: Sizes, capture: Int, budget: Int) -> RunError {
        .invalidSetting("even one SAE encoder at a time needs about \(gib(peak)) (model \(gib(sizes.modelBytes)), largest encoder \(gib(sizes.encoderBytes.max() ?? 0)), statistics \(gib(sizes.statisticsBytes)), one batch of captured rows \(gib(capture))) but this machine allows \(gib(budget)); lower \(RunSetting.batchSize) or \(RunSetting.maxNewTokens), pass fewer \(RunSetting.layers), or use a machine with more memory")
    }

    /// Physical memory less a reserve for the system: 1 GiB, or 5 % when that is larger.
    public static func defaultBudget() -> Int {
        let total = physicalMemory()
        return total - max(1 << 30, total / 20)
    }

    static func physicalMemory() -> Int {
        #if os(Linux)
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) {
            for line in text.split(separator: "\n") where line.hasPrefix("MemTotal:") {
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if fields.count >= 2, let kb = Int(fields[1]) { return kb * 1024 }
            }
        }
        #endif
        return Int(ProcessInfo.processInfo.physicalMemory)
    }

    static func gib(_ bytes: Int) -> String { String(format: "%.1f GiB", Double(bytes) / Double(1 << 30)) }

    /// One line for stderr.
    public var summary: String {
        "memory plan \(residency.rawValue): \(reason)"
    }

    /// Bytes of the statistics a collection keeps for these layer widths (see `FeatureStatistics`,
    /// `ControlStatistics`).
    public static func statisticsBytes(widths: [Int], hiddenSize: Int, histograms: Bool) -> Int {
        let perFeature = (FeatureStatistics.Sum.allCases.count + FeatureStatistics.Count.allCases.count) * 8
        let histogram = histograms ? 2 * 23 * 8 : 0
        let copies = 1 + ControlStatistics.permutationCount  // the features and each shuffled-label copy
        return widths.reduce(0) { $0 + $1 * (copies * perFeature + histogram) + hiddenSize * perFeature }
    }
}
