import ArgumentParser
import CorrSteer
import Foundation
import Tensors

extension PrecisionChoice: ExpressibleByArgument {}

/// `--precision auto|exact|fast` for the commands that run a model (`forward` keeps `exact`: it is the
/// parity tool). The default is `CORRSTEER_PRECISION` when set, else `auto`.
struct PrecisionOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "bf16-weight products: auto (the faster of exact and fast on this CPU, measured once and cached), exact (f32 activations) or fast (bf16 activations).",
        valueName: "auto|exact|fast"))
    var precision: PrecisionChoice = PrecisionOption.environmentDefault ?? .auto

    static var environmentDefault: PrecisionChoice? {
        ProcessInfo.processInfo.environment["CORRSTEER_PRECISION"].flatMap(PrecisionChoice.init(rawValue:))
    }

    /// Decides the precision of this process and says so once on stderr (unless `--quiet`).
    @discardableResult
    func apply(_ output: QuietOption) -> PrecisionDecision {
        let decision = PrecisionSetup.apply(precision)
        output.note(decision.summary)
        return decision
    }
}
