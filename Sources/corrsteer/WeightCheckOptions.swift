import ArgumentParser
import WeightFiles

/// `--allow-nonfinite`, shared by every command that loads a model or an SAE.
struct WeightCheckOptions: ParsableArguments {
    @Flag(name: .customLong("allow-nonfinite"),
          help: "Load model and SAE weights even when they hold NaN or ±Inf (normally an error naming the tensor).")
    var allowNonFinite = false

    /// Parsing is the one point every command passes before loading anything, so the process-wide
    /// switch the loaders read is set here.
    mutating func validate() throws {
        WeightValueCheck.allowsNonFinite = allowNonFinite
    }
}
