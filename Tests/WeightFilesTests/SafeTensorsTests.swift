import Foundation
import Tensors
import WeightFiles
import XCTest

final class SafeTensorsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Builds a file by hand so each test controls the exact header bytes.
    private func file(header: String, data: Data, declaredLength: UInt64? = nil, name: String = "t.safetensors") throws -> URL {
        var bytes = Data()
        let headerBytes = Data(header.utf8)
        withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(headerBytes)
        bytes.append(data)
        let url = directory.appendingPathComponent(name)
        try bytes.write(to: url)
        return url
    }

    private func expectError(_ url: URL, contains fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensorsFile(url: url), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(fragment), "'\(text)' should mention '\(fragment)'", file: file, line: line)
            XCTAssertTrue(text.contains(url.path), "'\(text)' should name the file", file: file, line: line)
        }
    }

    func testRoundTripOfEveryFloatDTypeAndRawDTypes() throws {
        let url = directory.appendingPathComponent("round.safetensors")
        let values: [Float] = [1, -2, 0.5, 3.25, 1e-3, 7]
        try SafeTensorsWriter.write([
            .init(name: "a", tensor: Tensor(shape: [2, 3], values: values)),
            .init(name: "b", tensor: Tensor(shape: [3, 2], values: values, dtype: .bf16)),
            .init(name: "c", tensor: Tensor(shape: [6], values: values, dtype: .f16)),
            .init(name: "d", shape: [2], doubles: [0.1, -1e300]),
            .init(name: "e", shape: [3], int64s: [1, -5, Int64.max]),
        ], metadata: ["format": "pt"], to: url)
        let file = try SafeTensorsFile(url: url)
        XCTAssertEqual(file.metadata["format"], "pt")
        XCTAssertEqual(try file.tensor("a").floats(), values)
        XCTAssertEqual(try file.tensor("b").shape, [3, 2])
        XCTAssertEqual(try file.tensor("b").dtype, .bf16)
        XCTAssertEqual(try file.tensor("c").floats(), values.map { Float(Float16($0)) })
        XCTAssertEqual(try file.doubles("d"), [0.1, -1e300])
        XCTAssertEqual(try file.int64s("e"), [1, -5, Int64.max])
        XCTAssertThrowsError(try file.tensor("d")) { XCTAssertTrue("\($0)".contains("F64")) }
        XCTAssertThrowsError(try file.tensor("zz")) { XCTAssertTrue("\($0)".contains("'zz' not found")) }
    }

    func testWriterFollowsTheFileLayout() throws {
        // The layout the format specifies: u64 header length, space-padded JSON, data aligned to 8.
        let url = directory.appendingPathComponent("x.safetensors")
        try SafeTensorsWriter.write([.init(name: "x", shape: [2], floats: [1, 2])], to: url)
        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        XCTAssertEqual((8 + Int(headerLength)) % 8, 0)
        let header = String(decoding: bytes[8..<(8 + Int(headerLength))], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        XCTAssertEqual(header, #"{"x":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}}"#)
        XCTAssertEqual(bytes.count, 8 + Int(headerLength) + 8)
    }

    func testTruncatedFile() throws {
        let url = directory.appendingPathComponent("short.safetensors")
        try Data([1, 2, 3]).write(to: url)
        expectError(url, contains: "truncated")
    }

    func testHeaderLengthPastTheEnd() throws {
        let url = try file(header: "{}", data: Data(), declaredLength: 1000)
        expectError(url, contains: "past the end")
    }

    func testOffsetsOutsideTheData() throws {
        let url = try file(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: Data(count: 8))
        expectError(url, contains: "outside")
    }

    func testOverlappingOffsets() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let url = try file(header: header, data: Data(count: 12))
        expectError(url, contains: "overlap")
    }

    func testByteLengthContradictsShape() throws {
        let url = try file(header: #"{"w":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}}"#, data: Data(count: 8))
        expectError(url, contains: "needs 6 bytes")
    }

    func testUnsupportedDTypeIsNamed() throws {
        let url = try file(header: #"{"q":{"dtype":"I8","shape":[4],"data_offsets":[0,4]}}"#, data: Data(count: 4))
        let safetensors = try SafeTensorsFile(url: url)
        XCTAssertThrowsError(try safetensors.tensor("q")) { error in
            XCTAssertTrue("\(error)".contains("'q' has dtype I8"), "\(error)")
        }
    }

    func testMalformedJSONHeader() throws {
        let url = try file(header: "{not json", data: Data())
        expectError(url, contains: "not valid JSON")
    }

    func testShardedCheckpointResolvesEveryTensor() throws {
        try SafeTensorsWriter.write([.init(name: "a", shape: [1], floats: [1])], to: directory.appendingPathComponent("model-00001-of-00002.safetensors"))
        try SafeTensorsWriter.write([.init(name: "b", shape: [1], floats: [2])], to: directory.appendingPathComponent("model-00002-of-00002.safetensors"))
        let index = #"{"metadata":{"total_size":8},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}"#
        try Data(index.utf8).write(to: directory.appendingPathComponent("model.safetensors.index.json"))
        let checkpoint = try SafeTensorsCheckpoint(directory: directory)
        XCTAssertEqual(checkpoint.names, ["a", "b"])
        XCTAssertEqual(try checkpoint.tensor("b").floats(), [2])
        XCTAssertThrowsError(try checkpoint.tensor("c"))
    }

    func testMissingShardIsReported() throws {
        let index = #"{"weight_map":{"a":"gone.safetensors"}}"#
        try Data(index.utf8).write(to: directory.appendingPathComponent("model.safetensors.index.json"))
        XCTAssertThrowsError(try SafeTensorsCheckpoint(directory: directory)) { error in
            XCTAssertTrue("\(error)".contains("gone.safetensors"), "\(error)")
        }
    }
}
