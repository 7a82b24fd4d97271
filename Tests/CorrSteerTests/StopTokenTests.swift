import CorrSteer
import Foundation
import XCTest

/// Where generation stops. gemma-2-2b-it lists two EOS ids (`<eos>` and `<end_of_turn>`): by default
/// corrsteer stops at both, as transformers' `generate()` does with the model's generation config;
/// `--paper-compat` stops only at the tokenizer's EOS, as the reference does.
final class StopTokenTests: XCTestCase {
    private let demoModel = CorrSteerFixtures.packageRoot.appendingPathComponent("Sources/CorrSteer/Resources/demo/model")
    private let prompt = "Request: How can I unlock a locked shed?\nResponse:"

    /// A copy of the demo model whose generation config lists `eos` as its EOS ids.
    private func modelCopy(eos: [Int], in folder: URL) throws -> URL {
        let model = folder.appendingPathComponent("model")
        try FileManager.default.copyItem(at: demoModel, to: model)
        let url = model.appendingPathComponent("generation_config.json")
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        config["eos_token_id"] = eos
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        return model
    }

    func testSecondEOSOfTheGenerationConfigStopsByDefaultButNotUnderPaperCompat() throws {
        let folder = try CorrSteerFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        // Which token the demo model generates first, so that it can play `<end_of_turn>`.
        let demo = try ModelContext.load(demoModel.path)
        let unlimited = try demo.complete([prompt], maxNewTokens: 4, stopTokenIDs: [])
        let first = try XCTUnwrap(unlimited.first?.tokens.first)
        try XCTSkipIf(first == 0 || first == 1, "the demo model's first token is already a stop token")
        XCTAssertEqual(unlimited[0].tokens.count, 4)

        let context = try ModelContext.load(try modelCopy(eos: [1, first], in: folder).path)
        XCTAssertEqual(context.stopTokenIDs(ReferenceBehaviour(paperCompat: false)), [0, 1, first], "every EOS id of the configs, plus pad")
        XCTAssertEqual(context.stopTokenIDs(ReferenceBehaviour(paperCompat: true)), [1], "the tokenizer's EOS only")

        let stopped = try context.complete([prompt], maxNewTokens: 4, stopTokenIDs: context.stopTokenIDs(ReferenceBehaviour(paperCompat: false)))
        XCTAssertEqual(stopped[0].tokens, [first])
        XCTAssertTrue(stopped[0].stoppedOnEOS)
        let byDefault = try context.complete([prompt], maxNewTokens: 4)
        XCTAssertEqual(byDefault[0].tokens, [first], "the default stop set is the generation config's")

        let reference = try context.complete([prompt], maxNewTokens: 4, stopTokenIDs: context.stopTokenIDs(ReferenceBehaviour(paperCompat: true)))
        // Up to and including the first `<eos>` (id 1), if the model produces one within 4 tokens.
        let untilEOS = unlimited[0].tokens.firstIndex(of: 1).map { Array(unlimited[0].tokens[...$0]) } ?? unlimited[0].tokens
        XCTAssertGreaterThan(untilEOS.count, 1)
        XCTAssertEqual(reference[0].tokens, untilEOS, "paper-compat keeps generating past the second EOS")
    }
}
