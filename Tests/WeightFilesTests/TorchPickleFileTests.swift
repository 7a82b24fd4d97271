import Foundation
import Tensors
import WeightFiles
import XCTest

/// `.pt` files written by `torch.save` and damaged copies (scripts/fixtures/torch_pt_files.py); the
/// expected tensors are what `torch.load` returned for the same file.
final class TorchPickleFileTests: XCTestCase {
    private static let fixtures: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url.appendingPathComponent("Tests/Fixtures/torch_pt")
    }()

    private func fixture(_ name: String) -> String { Self.fixtures.appendingPathComponent(name).path }

    private func expectError(_ name: String, contains fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            let pt = try TorchPickleFile(path: fixture(name))
            for tensor in pt.names { _ = try pt.tensor(tensor) }
            XCTFail("\(name) was accepted", file: file, line: line)
        } catch {
            let message = "\(error)"
            XCTAssertTrue(message.contains(fixture(name)), "'\(message)' does not name the file", file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(message.contains(fragment), "'\(message)' does not mention '\(fragment)'", file: file, line: line)
            }
        }
    }

    func testTensorsMatchTorchLoad() throws {
        let pt = try TorchPickleFile(path: fixture("mixed.pt"))
        let expected = try SafeTensorsFile(path: fixture("mixed_expected.safetensors"))
        XCTAssertEqual(pt.names, ["W_enc", "b_bf16", "w_f16", "transposed", "sliced", "scalar", "param"])
        XCTAssertEqual(Set(pt.names), Set(expected.names))
        for name in pt.names {
            let mine = try pt.tensor(name), reference = try expected.tensor(name)
            XCTAssertEqual(mine.shape, reference.shape, name)
            XCTAssertEqual(mine.dtype, reference.dtype, name)
            XCTAssertEqual(mine.floats(), reference.floats(), name)
        }
        let transposed = try pt.info("transposed"), sliced = try pt.info("sliced")
        XCTAssertEqual(transposed.stride, [1, 4])
        XCTAssertFalse(transposed.isContiguous)
        XCTAssertEqual(sliced.storageOffset, 7)
        XCTAssertEqual(sliced.stride, [5, 1])
        XCTAssertEqual(try pt.info("scalar").shape, [])
        XCTAssertEqual(try pt.info("b_bf16").dtype, .bf16)
        XCTAssertEqual(try pt.info("w_f16").dtype, .f16)
    }

    func testPlainValuesAndNestedDicts() throws {
        let pt = try TorchPickleFile(path: fixture("mixed.pt"))
        XCTAssertEqual(pt.scalars["k"], .int(8))
        XCTAssertEqual(pt.scalars["wide"], .int(300))
        XCTAssertEqual(pt.scalars["negative"], .int(-5))
        XCTAssertEqual(pt.scalars["big"], .int(1 << 40))
        XCTAssertEqual(pt.scalars["rate"], .float(0.125))
        XCTAssertEqual(pt.scalars["cfg.name"], .string("tiny"))
        XCTAssertEqual(pt.scalars["cfg.flag"], .bool(true))
        XCTAssertEqual(pt.scalars["cfg.nothing"], TorchScalar.none)
        XCTAssertEqual(pt.scalars["cfg.inner.depth"], .int(2))
    }

    func testPlainDict() throws {
        let pt = try TorchPickleFile(path: fixture("plain_dict.pt"))
        XCTAssertEqual(pt.names, ["a"])
        XCTAssertEqual(try pt.tensor("a").shape, [2, 2])
        XCTAssertEqual(pt.scalars["n"], .int(3))
        XCTAssertThrowsError(try pt.tensor("missing")) { XCTAssertTrue("\($0)".contains("'missing' not found")) }
    }

    func testBadInputs() {
        expectError("bad/truncated.pt", contains: ["truncated"])
        expectError("bad/os_system.pt", contains: ["'os.system'", "not allowed"])
        expectError("bad/unknown_opcode.pt", contains: ["opcode 0x69"])
        expectError("bad/wrong_storage_size.pt", contains: ["declares 12 elements", "holds 11"])
        expectError("bad/big_endian.pt", contains: ["byteorder is 'big'", "little-endian"])
        expectError("bad/view_past_storage.pt", contains: ["W_enc", "reaches element 16 of a storage of 12 elements"])
        expectError("plain_dict.pt-missing", contains: ["cannot read file"])
    }

    /// `{'a': <value>}` as a one-member torch zip, pickled by hand.
    private func pickled(_ value: [UInt8]) throws -> String {
        let pickle: [UInt8] = [0x80, 2, 0x7D, 0x58, 1, 0, 0, 0, 0x61] + value + [0x73, 0x2E]
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pickle-\(UUID().uuidString).pt")
        try Data(ZipBuilder(members: [.init(name: "x/data.pkl", data: pickle)]).bytes()).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    /// Values are freed recursively, so nesting is capped well before the stack runs out.
    func testDeepNestingIsRefusedNotAStackOverflow() throws {
        let tuples = [0x4E] + [UInt8](repeating: 0x85, count: 1_000_000) // None, then TUPLE1 a million times
        XCTAssertThrowsError(try TorchPickleFile(path: try pickled(tuples))) { XCTAssertTrue("\($0)".contains("nest more than 200 deep"), "\($0)") }
        let lists = [UInt8](repeating: 0x5D, count: 100_001) + [UInt8](repeating: 0x61, count: 100_000) // bottom-up APPENDs
        XCTAssertThrowsError(try TorchPickleFile(path: try pickled(lists))) { XCTAssertTrue("\($0)".contains("nest more than 200 deep"), "\($0)") }
        // Top-down: memoize a list, nest it, then fetch it back and append to it.
        let topDown: [UInt8] = [0x5D, 0x71, 0, 0x5D, 0x68, 0, 0x61, 0x68, 0, 0x5D, 0x61, 0x30]
        XCTAssertThrowsError(try TorchPickleFile(path: try pickled(topDown))) {
            XCTAssertTrue("\($0)".contains("already inside another container"), "\($0)")
        }
        let shallow = try TorchPickleFile(path: try pickled([0x4E, 0x85, 0x85]))
        XCTAssertEqual(shallow.names, [])
    }
}
