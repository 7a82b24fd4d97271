import CorrSteer
import Foundation
import LanguageModels
import XCTest

/// With a plan, the residual stream equals the unsteered one plus the plan's vector at exactly the
/// declared site and positions; everything upstream, and every position the plan does not touch, is
/// unchanged (issue: steering and evaluation).
final class SteeringHookTests: XCTestCase {
    private static let model: LanguageModel? = {
        var root = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path) { root.deleteLastPathComponent() }
        return try? LanguageModel.load(directory: root.appendingPathComponent("Sources/CorrSteer/Resources/demo/model"))
    }()

    private let prompt = [2, 17, 250, 31, 99, 5, 64, 300, 12, 7, 41]

    private func allSites(_ model: LanguageModel) -> [HookSite] {
        (0..<model.config.layerCount).flatMap { [HookSite.residPre(layer: $0), .residPost(layer: $0)] }
    }

    private func vector(_ model: LanguageModel) -> [Float] {
        (0..<model.config.hiddenSize).map { Float(($0 * 7919) % 13) / 4 - 1.5 }
    }

    /// Records every site with `recordPositions`, with an optional steering hook installed first.
    private func record(_ model: LanguageModel, plan: SteeringPlan?, positions: PositionMode,
                        recordPositions: HookPositions, newTokens: Int) throws -> ResidualRecorder {
        let recorder = ResidualRecorder(sites: allSites(model), positions: recordPositions)
        var hooks: [ResidualHook] = []
        if let plan { hooks.append(try SteeringHook(plan: plan, positions: positions)) }
        hooks.append(recorder)
        // A single allowed token forces the same continuation with and without steering.
        let request = GenerationRequest(prompts: [prompt], maxNewTokens: newTokens, stopTokenIDs: [],
                                        sampling: .greedy, allowedTokenIDs: [42])
        _ = try Generator(model: model).generate(request, hooks: hooks)
        return recorder
    }

    private func check(site steered: HookSite, positions: PositionMode) throws {
        let model = try XCTUnwrap(Self.model, "demo model must load")
        let v = vector(model)
        let plan = SteeringPlan(name: "test", entries: [
            SteeringPlanEntry(layer: steered.layer, site: steered.name, feature: 0, coefficient: 1, vector: v),
        ])
        // Every position is recorded, so "nowhere else" is checked too.
        let recordPositions: HookPositions = .all
        let newTokens = 3
        let plain = try record(model, plan: nil, positions: positions, recordPositions: recordPositions, newTokens: newTokens)
        let steeredRun = try record(model, plan: plan, positions: positions, recordPositions: recordPositions, newTokens: newTokens)
        let width = model.config.hiddenSize
        let order = allSites(model)
        let steeredIndex = try XCTUnwrap(order.firstIndex(of: steered))
        for (index, site) in order.enumerated() {
            let a = try XCTUnwrap(plain.matrix(site: site, sequence: 0))
            let b = try XCTUnwrap(steeredRun.matrix(site: site, sequence: 0))
            XCTAssertEqual(a.rows, b.rows)
            let tags = try XCTUnwrap(plain.tags[site]?[0])
            for row in 0..<a.rows {
                let isGenerationRow = tags[row].step > 0 || tags[row].position == prompt.count - 1
                for i in 0..<width {
                    let x = a.values[row * width + i], y = b.values[row * width + i]
                    if index < steeredIndex {
                        XCTAssertEqual(x, y, "\(site) row \(row) is upstream of \(steered) and must not change")
                    } else if index == steeredIndex {
                        let touched = positions == .all || isGenerationRow
                        XCTAssertEqual(y, touched ? x + v[i] : x, accuracy: 1e-5 * (1 + abs(x)),
                                       "\(site) row \(row) (\(touched ? "steered" : "untouched")) feature \(i)")
                    } else if positions == .generation && !isGenerationRow {
                        // Causal attention: a prompt position never sees the steered last position.
                        XCTAssertEqual(x, y, "\(site) row \(row) precedes every steered position")
                    }
                }
                if index > steeredIndex && index == steeredIndex + 1 && isGenerationRow {
                    XCTAssertNotEqual(Array(a.values[row * width..<(row + 1) * width]),
                                      Array(b.values[row * width..<(row + 1) * width]), "steering reaches \(site)")
                }
            }
        }
    }

    func testPostSiteGenerationPositions() throws { try check(site: .residPost(layer: 1), positions: .generation) }
    func testPostSiteAllPositions() throws { try check(site: .residPost(layer: 1), positions: .all) }
    func testPreSiteGenerationPositions() throws { try check(site: .residPre(layer: 2), positions: .generation) }
    func testPreSiteAllPositions() throws { try check(site: .residPre(layer: 2), positions: .all) }
}
