import LanguageModels

/// Adds a plan's vectors to the residual stream (method §6): at each entry's site, at the
/// generation positions (default) or at every position. Entries sharing a site add up.
public final class SteeringHook: ResidualHook {
    public let requests: [HookSite: HookPositions]
    private let vectors: [HookSite: [Float]]

    public init(plan: SteeringPlan, positions: PositionMode = .generation) throws {
        var sums: [HookSite: [Float]] = [:]
        for entry in plan.entries {
            guard let site = HookSite(name: entry.site) else {
                throw RunError.invalidSetting("plan '\(plan.name)': '\(entry.site)' is not a residual-stream site")
            }
            if var sum = sums[site] {
                guard sum.count == entry.vector.count else {
                    throw RunError.mismatch("plan '\(plan.name)': vectors at \(entry.site) differ in length")
                }
                for i in sum.indices { sum[i] += entry.vector[i] }
                sums[site] = sum
            } else {
                sums[site] = entry.vector
            }
        }
        vectors = sums
        let hookPositions = positions.hookPositions
        requests = Dictionary(uniqueKeysWithValues: sums.keys.map { ($0, hookPositions) })
    }

    /// Checks the plan fits `model` before any generation starts.
    public func validate(for model: LanguageModel) throws {
        for (site, vector) in vectors {
            guard site.layer < model.config.layerCount else {
                throw RunError.mismatch("steering site \(site.name) does not exist: the model has \(model.config.layerCount) layers")
            }
            guard vector.count == model.config.hiddenSize else {
                throw RunError.mismatch("steering vector at \(site.name) has \(vector.count) values; the model's hidden size is \(model.config.hiddenSize)")
            }
        }
    }

    public func addition(site: HookSite, sequence: Int) -> [Float]? { vectors[site] }
}
