import CorrSteer
import Foundation
import WeightFiles
import XCTest

/// A plan with a vector on the output of layer 0 (the demo's plan A has one) cannot go to llama.cpp
/// whole: `export` says which option writes the rest, and `--drop-unexportable` writes it and names
/// what it left out.
final class ExportDropTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("export-drop-\(UUID().uuidString)")
        let entries = [
            SteeringPlanEntry(layer: 0, site: "blocks.0.hook_resid_post", feature: 1, coefficient: 1, vector: [1, 2, 3, 4]),
            SteeringPlanEntry(layer: 2, site: "blocks.2.hook_resid_post", feature: 5, coefficient: 1, vector: [0.5, 0, -1, 2]),
        ]
        try FileManager.default.createDirectory(at: RunDirectory(scratch).plansDirectory, withIntermediateDirectories: true)
        try SteeringPlan(name: "A", strategy: .allLayers, model: "demo", entries: entries).save(to: RunDirectory(scratch).plan("A"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func testLayerZeroVectorStopsTheExportAndNamesTheOption() throws {
        let result = try CorrSteerBinary.run(["export", scratch.path, "--plan", "A"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("blocks.0.hook_resid_post"), result.stderr)
        XCTAssertTrue(result.stderr.contains("--drop-unexportable"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("export/A.gguf").path))
    }

    func testDropUnexportableWritesTheRest() throws {
        for format in ["gguf", "safetensors"] {
            let result = try CorrSteerBinary.run(["export", scratch.path, "--plan", "A", "--format", format, "--drop-unexportable"])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertTrue(result.stderr.contains("dropped") && result.stderr.contains("blocks.0.hook_resid_post"), result.stderr)
            XCTAssertTrue(result.stderr.contains("direction.2"), result.stderr)
            XCTAssertTrue(result.stdout.contains("export/A.\(format)"), result.stdout)
        }
        let file = try SafeTensorsFile(url: scratch.appendingPathComponent("export/A.safetensors"))
        XCTAssertEqual(file.names, ["direction.2"])
        XCTAssertEqual(try file.tensor("direction.2").floats(), [0.5, 0, -1, 2])
        XCTAssertEqual(file.metadata["controlvector.layer_count"], "1")
    }

    func testPlanWithOnlyUnexportableVectorsIsStillAnError() throws {
        let only = SteeringPlan(name: "S", entries: [
            SteeringPlanEntry(layer: 0, site: "blocks.0.hook_resid_post", feature: 1, coefficient: 1, vector: [1, 2, 3, 4]),
        ])
        XCTAssertThrowsError(try ControlVectorExport.directions(for: only, droppingUnexportable: true)) { error in
            XCTAssertTrue("\(error)".contains("blocks.0.hook_resid_post"), "\(error)")
        }
        XCTAssertEqual(ControlVectorExport.unexportableSites(in: only), ["blocks.0.hook_resid_post"])
    }
}
