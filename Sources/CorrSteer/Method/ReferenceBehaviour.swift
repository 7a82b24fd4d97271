import LanguageModels

/// Every behaviour of the reference implementation (`seonglae/CorrSteer`) that changes numbers and that
/// corrsteer does differently by default, resolved once from `--paper-compat` (docs/method.md §11.3).
/// Stages read these named decisions, never the flag itself, so the list of reference quirks lives here.
public struct ReferenceBehaviour: Equatable, Sendable {
    /// SAE layer L is read and steered at `blocks.L.hook_resid_pre` — the reference's off-by-one (its
    /// hook sits on the input of block L, while the SAEs were trained on the output); by default the
    /// site the SAE declares, or `resid_post` (method §2).
    public let readsSAEsAtBlockInput: Bool
    /// Layer 0 is left out unless `--layers` names it (the reference starts at 1).
    public let skipsLayerZero: Bool
    /// Llama Scope thresholds as SAELens 5 applies them (method §2).
    public let llamaScopeUsesSAELens5Threshold: Bool
    /// The reference's unsorted histogram edges for mutual information (method §11 bug 7).
    public let mutualInformationBinning: MutualInformationBinning
    /// `--decode` adds b_dec to the lowest layer of each plan only (method §11 bug 17).
    public let decoderBiasOnLowestLayerOnly: Bool
    /// Generation stops at the tokenizer's EOS only, not at every EOS of the generation config (method §3.2).
    public let stopsAtTokenizerEOSOnly: Bool
    /// Test splits are drawn with seed 42 whatever the run's seed (method §11 bug 9).
    public let testSplitSeed: Int?

    public init(paperCompat: Bool) {
        readsSAEsAtBlockInput = paperCompat
        skipsLayerZero = paperCompat
        llamaScopeUsesSAELens5Threshold = paperCompat
        mutualInformationBinning = paperCompat ? .paperUnsorted : .sorted
        decoderBiasOnLowestLayerOnly = paperCompat
        stopsAtTokenizerEOSOnly = paperCompat
        testSplitSeed = paperCompat ? 42 : nil
    }

    /// How `--decode` applies to a plan.
    public func decoderBiasMode(decode: Bool) -> DecoderBiasMode {
        decode ? (decoderBiasOnLowestLayerOnly ? .firstLayerOnly : .every) : .none
    }
}

extension CollectionConfiguration {
    /// The reference quirks this run reproduces.
    public var reference: ReferenceBehaviour { ReferenceBehaviour(paperCompat: paperCompat) }
}
