import Foundation
import LanguageModels
import Tensors
import XCTest

/// Hook sites against transformers forward (pre-)hooks, and what observers receive.
final class HookTests: XCTestCase {
    func testSiteNamesRoundTrip() {
        XCTAssertEqual(HookSite.residPre(layer: 3).name, "blocks.3.hook_resid_pre")
        XCTAssertEqual(HookSite.residPost(layer: 12).name, "blocks.12.hook_resid_post")
        XCTAssertEqual(HookSite(name: "blocks.0.hook_resid_pre"), .residPre(layer: 0))
        XCTAssertEqual(HookSite(name: "blocks.25.hook_resid_post"), .residPost(layer: 25))
        for bad in ["blocks.x.hook_resid_pre", "blocks.1.hook_mlp_out", "block.1.hook_resid_pre", "blocks.-1.hook_resid_pre",
                    "blocks.01.hook_resid_pre", "blocks.1.hook_resid_pre.x", ""] {
            XCTAssertNil(HookSite(name: bad), bad)
        }
    }

    func testAddingAVectorMatchesTransformersHooks() throws {
        for name in ["gemma2-tiny-f32", "llama3-tiny-f32"] {
            let model = try Fixtures.model(name)
            let reference = try Fixtures.reference(name)
            let sequences = reference.sequences
            var k = 0
            while let siteName = reference.meta("hook.\(k).site") {
                let site = try XCTUnwrap(HookSite(name: siteName))
                let positions: HookPositions = reference.meta("hook.\(k).positions") == "all" ? .all : .generation
                var vectors: [Int: [Float]] = [:]
                for b in sequences.indices { vectors[b] = try reference.floats("hook.\(k).vector.\(b)") }
                let hook = AdditionHook(site: site, positions: positions, vectors: vectors)
                let logits = try model.forward(tokens: sequences, hooks: [hook], logits: .allPositions)
                var worst: Float = 0
                for b in sequences.indices {
                    let expected = try reference.floats("hook.\(k).logits.\(b)")
                    worst = max(worst, maxRelativeError(logits[b].floats(), expected))
                    // The hook must matter: the steered reference differs from the plain one.
                    XCTAssertGreaterThan(maxAbsoluteError(expected, try reference.floats("logits.\(b)")), 1e-2)
                }
                print("hooks \(name) case \(k) (\(siteName), \(positions)): max rel error \(worst)")
                XCTAssertLessThanOrEqual(worst, 1e-4, "\(name) hook case \(k)")
                k += 1
            }
            XCTAssertEqual(k, 3)
        }
    }

    func testObserverGetsOneMatrixPerPassWithTags() throws {
        let model = try Fixtures.model("gemma2-tiny-f32")
        let prompts = [[2, 10, 11, 12], [2, 13], [2, 14, 15]]
        final class Spy: ResidualHook {
            let requests: [HookSite: HookPositions] = [.residPost(layer: 1): .generation]
            var calls: [(count: Int, tags: [RowTag], rows: [Float])] = []
            func observe(site: HookSite, rows: UnsafePointer<Float>, count: Int, width: Int, tags: [RowTag]) {
                calls.append((count, tags, Array(UnsafeBufferPointer(start: rows, count: count * width))))
            }
        }
        let spy = Spy()
        let results = try Generator(model: model).generate(
            GenerationRequest(prompts: prompts, maxNewTokens: 3, stopTokenIDs: []), hooks: [spy])
        XCTAssertEqual(spy.calls.count, 3)  // prefill + 2 decode steps (the 3rd token is never fed back)
        XCTAssertEqual(spy.calls[0].tags, [RowTag(sequence: 0, position: 3, step: 0), RowTag(sequence: 1, position: 1, step: 0),
                                           RowTag(sequence: 2, position: 2, step: 0)])
        XCTAssertEqual(spy.calls[2].tags, [RowTag(sequence: 0, position: 5, step: 2), RowTag(sequence: 1, position: 3, step: 2),
                                           RowTag(sequence: 2, position: 4, step: 2)])
        // Each observed row equals the all-positions residual of the full generated sequence.
        let recorder = ResidualRecorder(sites: [.residPost(layer: 1)], positions: .all)
        let full = prompts.indices.map { prompts[$0] + results[$0].tokens.dropLast() }
        _ = try model.forward(tokens: full, hooks: [recorder])
        let d = model.config.hiddenSize
        for call in spy.calls {
            for (i, tag) in call.tags.enumerated() {
                let expected = try XCTUnwrap(recorder.matrix(site: .residPost(layer: 1), sequence: tag.sequence)).values
                let row = Array(expected[(tag.position * d)..<((tag.position + 1) * d)])
                XCTAssertLessThanOrEqual(maxRelativeError(Array(call.rows[(i * d)..<((i + 1) * d)]), row), 1e-4)
            }
        }
    }

    func testHooksRunInOrderAndLaterHooksSeeEarlierAdditions() throws {
        let model = try Fixtures.model("llama3-tiny-f32")
        let d = model.config.hiddenSize
        let site = HookSite.residPre(layer: 2)
        final class Observer: ResidualHook {
            let requests: [HookSite: HookPositions]
            var rows: [Float] = []
            init(_ site: HookSite) { requests = [site: .all] }
            func observe(site: HookSite, rows: UnsafePointer<Float>, count: Int, width: Int, tags: [RowTag]) {
                self.rows = Array(UnsafeBufferPointer(start: rows, count: count * width))
            }
        }
        let before = Observer(site), after = Observer(site)
        let adder = AdditionHook(site: site, positions: .all, vector: (0..<d).map { Float($0) })
        _ = try model.forward(tokens: [[1, 5, 6]], hooks: [before, adder, after])
        for i in 0..<(3 * d) { XCTAssertEqual(after.rows[i] - before.rows[i], Float(i % d), accuracy: 1e-3) }
    }
}
