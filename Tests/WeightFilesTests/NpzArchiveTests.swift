import Foundation
import Tensors
import WeightFiles
import XCTest

/// `.npz` archives written by numpy and Python's zipfile (scripts/fixtures/sae.py), and damaged copies.
final class NpzArchiveTests: XCTestCase {
    private static let fixtures: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url.appendingPathComponent("Tests/Fixtures/sae/npz")
    }()

    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("npz-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func fixture(_ name: String) -> URL { Self.fixtures.appendingPathComponent(name) }

    /// The array the script wrote in every version: arange(24)/8 − 1, shape (4, 6).
    private let grid: [Float] = (0..<24).map { Float($0) / 8 - 1 }

    private func expectError(_ body: () throws -> Void, contains fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected an error containing \(fragments)", file: file, line: line)
        } catch {
            let message = "\(error)"
            for fragment in fragments {
                XCTAssertTrue(message.contains(fragment), "'\(message)' does not mention '\(fragment)'", file: file, line: line)
            }
        }
    }

    private func patched(_ name: String, _ edit: (inout [UInt8]) -> Void) throws -> URL {
        var bytes = [UInt8](try Data(contentsOf: fixture(name)))
        edit(&bytes)
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    private static func offsets(of signature: [UInt8], in bytes: [UInt8]) -> [Int] {
        (0...(bytes.count - signature.count)).filter { Array(bytes[$0..<$0 + signature.count]) == signature }
    }

    // MARK: - Reading

    func testEveryNpyVersionStoredAndDeflated() throws {
        for archiveName in ["versions_stored.npz", "versions_deflated.npz", "zip64_end_record.npz"] {
            let archive = try NpzArchive(url: fixture(archiveName))
            XCTAssertEqual(archive.names, ["v1", "v2", "v3", "half", "scalar"], archiveName)
            for name in ["v1", "v2", "v3"] {
                let tensor = try archive.tensor(name)
                XCTAssertEqual(tensor.shape, [4, 6], "\(archiveName) \(name)")
                XCTAssertEqual(tensor.dtype, .f32)
                XCTAssertEqual(tensor.floats(), grid, "\(archiveName) \(name)")
            }
            XCTAssertEqual(try archive.info("v2").header.majorVersion, 2)
            XCTAssertEqual(try archive.info("v3").header.majorVersion, 3)
            let half = try archive.tensor("half")
            XCTAssertEqual(half.dtype, .f16)
            XCTAssertEqual(half.floats(), (0..<10).map { Float($0) / 4 - 1 })
            let scalar = try archive.tensor("scalar")
            XCTAssertEqual(scalar.shape, [])
            XCTAssertEqual(scalar.floats(), [2.5])
        }
    }

    func testStoredMembersAreMappedAndDeflatedOnesAreNot() throws {
        XCTAssertTrue(try NpzArchive(url: fixture("versions_stored.npz")).info("v1").isMemoryMapped)
        let deflated = try NpzArchive(url: fixture("versions_deflated.npz")).info("v1")
        XCTAssertEqual(deflated.compression, .deflated)
        XCTAssertFalse(deflated.isMemoryMapped)
    }

    func testRowsReadOnlyTheRequestedRowsInTheRequestedOrder() throws {
        for archiveName in ["versions_stored.npz", "versions_deflated.npz"] {
            let archive = try NpzArchive(url: fixture(archiveName))
            let rows = try archive.rows("v1", [3, 0, 3])
            XCTAssertEqual(rows, [Array(grid[18..<24]), Array(grid[0..<6]), Array(grid[18..<24])], archiveName)
            expectError({ _ = try archive.rows("v1", [4]) }, contains: [archiveName, "row 4 is out of range 0..<4"])
            expectError({ _ = try archive.rows("half", [0]) }, contains: ["rank-2"])
        }
    }

    func testStandaloneNpyFile() throws {
        let file = try NpyFile(url: fixture("plain.npy"))
        XCTAssertEqual(file.header.descr, "<f4")
        XCTAssertEqual(file.tensor().floats(), grid)
    }

    // MARK: - Bad archives

    func testMissingMemberIsNamed() throws {
        let archive = try NpzArchive(url: fixture("versions_stored.npz"))
        expectError({ _ = try archive.tensor("W_enc") }, contains: ["versions_stored.npz", "'W_enc' not found"])
    }

    func testUnsupportedCompressionIsNamed() throws {
        let archive = try NpzArchive(url: fixture("bzip2.npz"))
        expectError({ _ = try archive.tensor("v1") }, contains: ["bzip2.npz", "v1.npy", "compression method 12 (bzip2)", "stored (0) and deflate (8)"])
    }

    func testUnsupportedElementTypesAndLayouts() throws {
        expectError({ _ = try NpzArchive(url: self.fixture("big_endian.npz")).tensor("a") }, contains: ["big_endian.npz", ">f4", "<f4, <f2"])
        expectError({ _ = try NpzArchive(url: self.fixture("float64.npz")).tensor("a") }, contains: ["float64.npz", "<f8"])
        expectError({ _ = try NpzArchive(url: self.fixture("fortran.npz")).tensor("a") }, contains: ["fortran.npz", "Fortran"])
    }

    func testTruncatedArchive() throws {
        let url = try patched("versions_stored.npz") { $0.removeLast($0.count / 2) }
        expectError({ _ = try NpzArchive(url: url) }, contains: ["versions_stored.npz", "truncated", "end-of-central-directory"])
        let empty = try patched("versions_deflated.npz") { $0.removeAll() }
        expectError({ _ = try NpzArchive(url: empty) }, contains: ["too short for a ZIP archive"])
    }

    func testCentralDirectoryPointingPastTheEnd() throws {
        let url = try patched("versions_stored.npz") { bytes in
            // End record: central directory offset at +16; point it far beyond the file.
            let end = Self.offsets(of: [0x50, 0x4B, 0x05, 0x06], in: bytes).last!
            bytes.replaceSubrange(end + 16..<end + 20, with: [0x00, 0x00, 0x00, 0x7F])
        }
        expectError({ _ = try NpzArchive(url: url) }, contains: ["versions_stored.npz", "does not fit"])
    }

    func testZip64PlaceholderWithoutExtraField() throws {
        let url = try patched("versions_stored.npz") { bytes in
            // First central entry: compressed size at +20 becomes the ZIP64 placeholder; numpy's
            // central entries carry no extra field to resolve it.
            let central = Self.offsets(of: [0x50, 0x4B, 0x01, 0x02], in: bytes).first!
            bytes.replaceSubrange(central + 20..<central + 24, with: [0xFF, 0xFF, 0xFF, 0xFF])
        }
        expectError({ _ = try NpzArchive(url: url) }, contains: ["v1.npy", "ZIP64 placeholder", "no valid ZIP64 extra field"])
    }

    func testZip64EndRecordWithoutLocator() throws {
        let url = try patched("zip64_end_record.npz") { bytes in
            let locator = Self.offsets(of: [0x50, 0x4B, 0x06, 0x07], in: bytes).last!
            bytes[locator] = 0
        }
        expectError({ _ = try NpzArchive(url: url) }, contains: ["ZIP64 placeholders but no ZIP64 locator"])
    }

    func testCorruptDeflateDataFailsItsCheck() throws {
        let url = try patched("versions_deflated.npz") { bytes in
            // Flip bits in the middle of the first member's compressed data.
            let local = Self.offsets(of: [0x50, 0x4B, 0x03, 0x04], in: bytes)
            let middle = (local[0] + local[1]) / 2 + 20
            bytes[middle] ^= 0x5A
            bytes[middle + 1] ^= 0xA5
        }
        let archive = try NpzArchive(url: url)
        expectError({ _ = try archive.tensor("v1") }, contains: ["versions_deflated.npz", "v1.npy"])
    }

    func testDeflatedMemberCutShort() throws {
        let url = try patched("versions_deflated.npz") { bytes in
            // Shrink the first member's compressed size in the central directory by 8 bytes.
            let central = Self.offsets(of: [0x50, 0x4B, 0x01, 0x02], in: bytes).first!
            let size = Int(bytes[central + 20]) | Int(bytes[central + 21]) << 8
            bytes[central + 20] = UInt8((size - 8) & 0xFF)
            bytes[central + 21] = UInt8((size - 8) >> 8)
        }
        let archive = try NpzArchive(url: url)
        expectError({ _ = try archive.tensor("v1") }, contains: ["v1.npy", "ends in the middle of its compressed data"])
    }

    func testNpyHeaderDamage() throws {
        let badMagic = try patched("plain.npy") { $0[1] = UInt8(ascii: "X") }
        expectError({ _ = try NpyFile(url: badMagic) }, contains: ["plain.npy", "magic"])
        let badVersion = try patched("plain.npy") { $0[6] = 9 }
        expectError({ _ = try NpyFile(url: badVersion) }, contains: ["format version 9"])
        let truncated = try patched("plain.npy") { $0.removeLast(5) }
        expectError({ _ = try NpyFile(url: truncated) }, contains: ["truncated", "needs 96 data bytes"])
        let garbled = try patched("plain.npy") { bytes in
            let text = String(decoding: bytes[10..<60], as: UTF8.self)
            let shape = text.range(of: "'shape'")!
            let at = 10 + text.distance(from: text.startIndex, to: shape.lowerBound)
            bytes.replaceSubrange(at..<at + 7, with: Array("'shapf'".utf8))
        }
        expectError({ _ = try NpyFile(url: garbled) }, contains: ["no 'shape' tuple"])
    }
}
