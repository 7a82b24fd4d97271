import LanguageModels

/// The steering of each slot of a `SlotBatch`, written by the scheduler's thread before each pass and
/// read by the hooks during it (the same thread: no locking).
final class SlotSteering {
    var vectors: [[HookSite: [Float]]?]

    init(slots: Int) {
        vectors = Array(repeating: nil, count: slots)
    }
}

/// Adds each slot's own vectors at every residual-stream site (per-row steering: rows of one pass carry
/// different plans). Sites without vectors for a slot cost a dictionary lookup.
final class SlotSteeringHook: ResidualHook {
    let requests: [HookSite: HookPositions]
    private let steering: SlotSteering

    init(layers: Int, positions: HookPositions, steering: SlotSteering) {
        let sites = (0..<layers).flatMap { [HookSite.residPre(layer: $0), .residPost(layer: $0)] }
        requests = Dictionary(uniqueKeysWithValues: sites.map { ($0, positions) })
        self.steering = steering
    }

    func addition(site: HookSite, sequence: Int) -> [Float]? {
        steering.vectors[sequence]?[site]
    }
}
