import Foundation
import WeightFiles

/// The statistics file format (`stats/checkpoint-N/layer_L.safetensors`, docs/run-directory.md): writing,
/// and reading with every check a damaged or edited file fails.
extension FeatureStatistics {
    private static let scalarDoubles = ["sum_y", "sum_yy", "min_y", "max_y"]
    private static let scalarCounts = ["n", "count_success", "count_failure"]

    /// Writes the statistics as safetensors (F64 sums, I64 counts, 0-d scalars, `histogram_success` /
    /// `histogram_failure` [features, bins] when enabled) with `__metadata__` {format, version,
    /// feature_count, mi_binning} plus `metadata`, atomically (temporary file + rename).
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        typealias Entry = SafeTensorsWriter.Entry
        var entries: [Entry] = []
        for kind in Sum.allCases {
            entries.append(Entry(name: kind.tensorName, shape: [featureCount], doubles: Array(sum(kind))))
        }
        for kind in Count.allCases {
            entries.append(Entry(name: kind.tensorName, shape: [featureCount], int64s: Array(count(kind))))
        }
        let doubles = [rewardSum, rewardSquareSum, minimumReward, maximumReward]
        for (name, value) in zip(Self.scalarDoubles, doubles) { entries.append(Entry(name: name, shape: [], doubles: [value])) }
        let ints = [sampleCount, successCount, failureCount]
        for (name, value) in zip(Self.scalarCounts, ints) { entries.append(Entry(name: name, shape: [], int64s: [value])) }
        if let binning = options.mutualInformationBinning {
            let shape = [featureCount, binning.binCount]
            entries.append(Entry(name: "histogram_success", shape: shape, int64s: Array(histogram(success: true))))
            entries.append(Entry(name: "histogram_failure", shape: shape, int64s: Array(histogram(success: false))))
        }
        var header = metadata
        header["format"] = Self.formatName
        header["version"] = String(Self.formatVersion)
        header["feature_count"] = String(featureCount)
        header["mi_binning"] = options.mutualInformationBinning?.rawValue ?? "none"
        try SafeTensorsWriter.write(entries, metadata: header, to: url)
    }

    /// Reads statistics written by `save(to:)`; every missing or mis-shaped tensor is an error naming it.
    public static func load(from url: URL) throws -> FeatureStatistics {
        let path = url.path
        let file = try SafeTensorsFile(url: url)
        func fail(_ reason: String) -> FeatureStatisticsError { .invalidFile(path: path, reason: reason) }
        guard file.metadata["format"] == formatName else {
            throw fail("not a feature statistics file (metadata format is \(file.metadata["format"].map { "'\($0)'" } ?? "missing"), expected '\(formatName)')")
        }
        guard let version = file.metadata["version"].flatMap(Int.init), version == formatVersion else {
            throw fail("unsupported statistics version \(file.metadata["version"] ?? "missing") (this build reads \(formatVersion))")
        }
        guard let featureCount = file.metadata["feature_count"].flatMap(Int.init), featureCount > 0 else {
            throw fail("metadata feature_count is missing or not a positive integer")
        }
        let binningName = file.metadata["mi_binning"] ?? "none"
        let binning: MutualInformationBinning?
        if binningName == "none" { binning = nil } else {
            guard let value = MutualInformationBinning(rawValue: binningName) else {
                throw fail("metadata mi_binning '\(binningName)' is not one of none, sorted, paper-unsorted")
            }
            binning = value
        }
        func checkShape(_ name: String, _ shape: [Int]) throws {
            let info = try file.info(name)
            guard info.shape == shape else { throw fail("tensor '\(name)' has shape \(info.shape), expected \(shape)") }
        }
        // The first tensor's shape bounds feature_count by the file's real size before anything is allocated.
        try checkShape(Sum.x.tensorName, [featureCount])
        var result = FeatureStatistics(featureCount: featureCount, options: .init(mutualInformationBinning: binning))
        for kind in Sum.allCases {
            try checkShape(kind.tensorName, [featureCount])
            let values = try file.doubles(kind.tensorName)
            result.sums.replaceSubrange(kind.rawValue * result.stride ..< kind.rawValue * result.stride + featureCount, with: values)
        }
        for kind in Count.allCases {
            try checkShape(kind.tensorName, [featureCount])
            let values = try file.int64s(kind.tensorName)
            result.counts.replaceSubrange(kind.rawValue * result.stride ..< kind.rawValue * result.stride + featureCount, with: values)
        }
        var doubles: [Double] = []
        for name in scalarDoubles {
            try checkShape(name, [])
            doubles.append(try file.doubles(name)[0])
        }
        var ints: [Int64] = []
        for name in scalarCounts {
            try checkShape(name, [])
            ints.append(try file.int64s(name)[0])
        }
        (result.rewardSum, result.rewardSquareSum, result.minimumReward, result.maximumReward) = (doubles[0], doubles[1], doubles[2], doubles[3])
        (result.sampleCount, result.successCount, result.failureCount) = (ints[0], ints[1], ints[2])
        guard ints.allSatisfy({ $0 >= 0 }), result.successCount <= result.sampleCount,
              result.failureCount <= result.sampleCount - result.successCount else {
            throw fail("sample counts n=\(ints[0]), successes=\(ints[1]), failures=\(ints[2]) are inconsistent")
        }
        try result.checkConsistency(fail: fail)
        if let binning {
            let shape = [featureCount, binning.binCount]
            try checkShape("histogram_success", shape)
            try checkShape("histogram_failure", shape)
            result.histograms = try file.int64s("histogram_success") + file.int64s("histogram_failure")
            guard result.histograms.allSatisfy({ $0 >= 0 && $0 <= result.sampleCount }) else {
                throw fail("a histogram count is negative or exceeds n=\(result.sampleCount)")
            }
        }
        return result
    }

    /// Checks what every sum of real samples satisfies: finite sums, non-negative sums of squares,
    /// per-feature counts between 0 and the samples they count, rewards within their range. A file
    /// that fails these was damaged or edited, and selecting from it would report nonsense
    /// (negative activation frequencies, NaN correlations).
    private func checkConsistency(fail: (String) -> FeatureStatisticsError) throws {
        guard rewardSum.isFinite, rewardSquareSum.isFinite, rewardSquareSum >= 0 else {
            throw fail("reward sums sum_y=\(rewardSum), sum_yy=\(rewardSquareSum) are not finite or negative")
        }
        if sampleCount > 0 {
            guard minimumReward.isFinite, maximumReward.isFinite, minimumReward <= maximumReward else {
                throw fail("min_y=\(minimumReward), max_y=\(maximumReward) are not a finite range")
            }
        }
        for kind in Sum.allCases {
            let squares = kind == .xx || kind == .xxSuccess || kind == .xxFailure
            if let bad = sum(kind).first(where: { !$0.isFinite || (squares && $0 < 0) }) {
                throw fail("tensor '\(kind.tensorName)' holds \(bad), which no sum of finite activations gives")
            }
        }
        let limits: [(Count, Int64)] = [
            (.active, sampleCount), (.activeCorrect, successCount), (.activeIncorrect, failureCount),
            (.successActive, successCount), (.failureActive, failureCount),
        ]
        for (kind, limit) in limits {
            if let bad = count(kind).first(where: { $0 < 0 || $0 > limit }) {
                throw fail("tensor '\(kind.tensorName)' holds \(bad), outside 0...\(limit)")
            }
        }
    }
}
