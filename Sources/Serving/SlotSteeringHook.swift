import LanguageModels

/// The steering of each slot of a `SlotBatch`, written by the scheduler's thread before each pass and
/// read by the hooks during it (the same thread: no locking).
final class SlotSteering {
    var slots: [SteeringVectors?]

    init(slots: Int) {
        self.slots = Array(repeating: nil, count: slots)
    }
}

/// Adds each slot's own vectors at every residual-stream site (per-row steering: rows of one pass carry
/// different plans). The scheduler installs one hook per position mode; each acts only on the slots of
/// its mode, so a pass mixes both and every row gets its vector once. Sites without vectors for a slot
/// cost a lookup.
final class SlotSteeringHook: ResidualHook {
    let requests: [HookSite: HookPositions]
    private let allPositions: Bool
    private let steering: SlotSteering

    init(layers: Int, positions: HookPositions, steering: SlotSteering) {
        let sites = (0..<layers).flatMap { [HookSite.residPre(layer: $0), .residPost(layer: $0)] }
        requests = Dictionary(uniqueKeysWithValues: sites.map { ($0, positions) })
        allPositions = positions == .all
        self.steering = steering
    }

    func addition(site: HookSite, sequence: Int) -> [Float]? {
        guard let slot = steering.slots[sequence], slot.allPositions == allPositions else { return nil }
        return slot.sites[site]
    }
}
