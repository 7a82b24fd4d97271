import CorrSteer
import Foundation
import WeightFiles
import XCTest

final class ControlVectorExportTests: XCTestCase {
    /// The plan of scripts/fixtures/corrsteer_gguf.py.
    static func fixturePlan() throws -> (plan: SteeringPlan, modelHint: String) {
        let inputs = try CorrSteerFixtures.json("controlvector_inputs.json")
        let entries = inputs["entries"]!.array.map { e in
            SteeringPlanEntry(layer: e["layer"]!.int, site: e["site"]!.string!, feature: e["feature"]!.int,
                              coefficient: double(e["coefficient"]), vector: doubles(e["vector"]).map { Float($0) })
        }
        return (SteeringPlan(name: "A", entries: entries), inputs["model_hint"]!.string!)
    }

    /// Same bytes as gguf-py's GGUFWriter for the same control vector.
    func testGGUFMatchesGGUFPyByteForByte() throws {
        let (plan, hint) = try Self.fixturePlan()
        let (metadata, tensors) = try ControlVectorExport.gguf(for: plan, modelHint: hint)
        let ours = try GGUFWriter.encode(metadata: metadata, tensors: tensors)
        let reference = try Data(contentsOf: CorrSteerFixtures.url("controlvector.gguf"))
        XCTAssertEqual(ours.count, reference.count)
        XCTAssertTrue(ours == reference, "first differing byte: \(zip(ours, reference).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)")
    }

    func testGGUFHeaderParsesStructurally() throws {
        let (plan, hint) = try Self.fixturePlan()
        let directory = try CorrSteerFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("A.gguf")
        try ControlVectorExport.write(plan, format: .gguf, modelHint: hint, to: url)
        let file = try GGUFTestReader(Data(contentsOf: url))
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.metadata.map(\.key), ["general.architecture", "controlvector.model_hint", "controlvector.layer_count"])
        XCTAssertEqual(file.metadata[0].value, .string("controlvector"))
        XCTAssertEqual(file.metadata[1].value, .string("gemma2"))
        XCTAssertEqual(file.metadata[2].value, .uint32(3))
        XCTAssertEqual(file.tensors.map(\.name), ["direction.3", "direction.7", "direction.12"])
        XCTAssertEqual(file.tensors.map(\.dimensions), [[16], [16], [16]])
        XCTAssertEqual(file.tensors.map(\.type), [0, 0, 0])
        XCTAssertEqual(file.dataStart % 32, 0)
        for tensor in file.tensors { XCTAssertEqual(tensor.offset % 32, 0) }
        // direction.12 is the sum of the two layer-12 vectors; direction.7 comes from resid_pre of block 8.
        let expected12 = zip(plan.entries[2].vector, plan.entries[3].vector).map { $0 + $1 }
        XCTAssertEqual(file.floats(file.tensors[2]), expected12)
        XCTAssertEqual(file.floats(file.tensors[1]), plan.entries[1].vector)
    }

    func testSafetensorsExport() throws {
        let (plan, hint) = try Self.fixturePlan()
        let directory = try CorrSteerFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("A.safetensors")
        try ControlVectorExport.write(plan, format: .safetensors, modelHint: hint, to: url)
        let file = try SafeTensorsFile(url: url)
        XCTAssertEqual(Set(file.names), ["direction.3", "direction.7", "direction.12"])
        XCTAssertEqual(file.metadata["controlvector.model_hint"], "gemma2")
        XCTAssertEqual(file.metadata["corrsteer.sites"],
                       #"{"direction.3":["blocks.3.hook_resid_post"],"direction.7":["blocks.8.hook_resid_pre"],"direction.12":["blocks.12.hook_resid_post"]}"#)
        XCTAssertEqual(try file.tensor("direction.3").floats(), plan.entries[0].vector)
    }

    func testLayerMapping() throws {
        XCTAssertEqual(try ControlVectorExport.llamaCppLayer(forSite: "blocks.5.hook_resid_post"), 5)
        XCTAssertEqual(try ControlVectorExport.llamaCppLayer(forSite: "blocks.5.hook_resid_pre"), 4)
        let cases = [
            ("blocks.0.hook_resid_post", "it is the output of layer 0, and llama.cpp has no control vector for layer 0 (direction.0 is rejected)"),
            ("blocks.1.hook_resid_pre", "it is the output of layer 0, and llama.cpp has no control vector for layer 0 (direction.0 is rejected)"),
            ("blocks.3.hook_mlp_out", "llama.cpp control vectors act only on blocks.L.hook_resid_post / hook_resid_pre"),
            ("resid", "llama.cpp control vectors act only on blocks.L.hook_resid_post / hook_resid_pre"),
        ]
        for (site, reason) in cases {
            let error = thrownError { try ControlVectorExport.llamaCppLayer(forSite: site) }
            XCTAssertEqual("\(error!)", "cannot export site \(site) as a llama.cpp control vector: \(reason)")
        }
        let empty = thrownError { try ControlVectorExport.directions(for: SteeringPlan(name: "P", entries: [])) }
        XCTAssertEqual("\(empty!)", "plan P has no steering vectors to export")
    }

    func testWriterRejectsBadTensors() {
        let cases: [(GGUFTensor, String)] = [
            (GGUFTensor(name: "x", shape: [3], floats: [1, 2]), "GGUF: tensor 'x': 8 bytes do not match shape [3]"),
            (GGUFTensor(name: String(repeating: "n", count: 64), shape: [1], floats: [1]), "must be 1…63 bytes"),
            (GGUFTensor(name: "x", shape: [], floats: [1]), "must have 1…4 positive dimensions"),
        ]
        for (tensor, message) in cases {
            let error = thrownError { try GGUFWriter.encode(metadata: [], tensors: [tensor]) }
            XCTAssertTrue("\(error!)".contains(message), "\(error!)")
        }
        let duplicate = thrownError { try GGUFWriter.encode(metadata: [("a", .bool(true)), ("a", .bool(false))], tensors: []) }
        XCTAssertEqual("\(duplicate!)", "GGUF: metadata key 'a' appears twice")
    }
}

/// A minimal GGUF v3 reader for checking our own output's structure.
struct GGUFTestReader {
    struct TensorInfo {
        var name: String
        var dimensions: [Int]
        var type: UInt32
        var offset: Int
    }

    let data: Data
    var version: UInt32 = 0
    var metadata: [(key: String, value: GGUFValue)] = []
    var tensors: [TensorInfo] = []
    var dataStart = 0
    private var position = 0

    init(_ data: Data) throws {
        self.data = data
        guard data.prefix(4) == Data("GGUF".utf8) else { throw GGUFWriterError.invalid("bad magic") }
        position = 4
        version = read()
        let tensorCount: UInt64 = read(), keyCount: UInt64 = read()
        for _ in 0 ..< keyCount {
            let key = readString()
            let type: UInt32 = read()
            metadata.append((key, try readValue(type)))
        }
        for _ in 0 ..< tensorCount {
            let name = readString()
            let rank: UInt32 = read()
            let dimensions = (0 ..< rank).map { _ -> Int in let d: UInt64 = read(); return Int(d) }
            let type: UInt32 = read()
            let offset: UInt64 = read()
            tensors.append(TensorInfo(name: name, dimensions: dimensions.reversed(), type: type, offset: Int(offset)))
        }
        dataStart = (position + 31) / 32 * 32
        guard data.count >= dataStart + (tensors.last.map { $0.offset + $0.dimensions.reduce(4, *) } ?? 0) else {
            throw GGUFWriterError.invalid("file shorter than its tensors")
        }
    }

    func floats(_ tensor: TensorInfo) -> [Float] {
        let start = dataStart + tensor.offset
        return (0 ..< tensor.dimensions.reduce(1, *)).map { i in
            Float(bitPattern: data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self) })
        }
    }

    private mutating func read<T: FixedWidthInteger>() -> T {
        let value = data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: T.self) }
        position += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    private mutating func readString() -> String {
        let length: UInt64 = read()
        let text = String(decoding: data[position ..< position + Int(length)], as: UTF8.self)
        position += Int(length)
        return text
    }

    private mutating func readValue(_ type: UInt32) throws -> GGUFValue {
        switch type {
        case 4: return .uint32(read())
        case 8: return .string(readString())
        default: throw GGUFWriterError.invalid("value type \(type) not expected in a control vector")
        }
    }
}
