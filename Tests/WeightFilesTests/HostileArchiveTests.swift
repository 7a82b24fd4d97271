import Foundation
import WeightFiles
import XCTest

/// Minimised hostile `.npz` inputs from a fuzzing pass (issue 21). Each used to crash or allocate
/// what the header claimed; each must now give one typed error naming the file and the member.
final class HostileArchiveTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-npz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func write(_ builder: ZipBuilder, name: String = "hostile.npz") throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(builder.bytes()).write(to: url)
        return url
    }

    private func expectError(_ body: () throws -> Void, contains fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected an error containing \(fragments)", file: file, line: line)
        } catch {
            XCTAssertTrue(error is WeightFileError, "\(type(of: error)): \(error)", file: file, line: line)
            let message = "\(error)"
            XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(message.contains(fragment), "'\(message)' does not mention '\(fragment)'", file: file, line: line)
            }
        }
    }

    func testTheBuilderWritesArchivesTheReaderAccepts() throws {
        let data = (0..<6).flatMap { withUnsafeBytes(of: Float($0).bitPattern.littleEndian) { Array($0) } }
        let npy = ZipBuilder.npy(header: ZipBuilder.npyHeader(shape: "(2, 3)"), data: data)
        for deflated in [false, true] {
            let url = try write(ZipBuilder(members: [.init(name: "a.npy", data: npy, deflated: deflated)]))
            let archive = try NpzArchive(url: url)
            XCTAssertEqual(try archive.tensor("a").floats(), [0, 1, 2, 3, 4, 5])
        }
    }

    /// Crash 1: a deflated member whose `.npy` header length field is 0 or 1 (shorter than the
    /// 12-byte preamble already read) made the reader size a buffer negatively.
    func testDeflatedNpyWithHeaderLengthZeroOrOne() throws {
        for length: UInt16 in [0, 1] {
            let npy = ZipBuilder.npy(header: String(repeating: " ", count: 40), headerLength: length)
            for deflated in [true, false] {
                let url = try write(ZipBuilder(members: [.init(name: "W_enc.npy", data: npy, deflated: deflated)]))
                let archive = try NpzArchive(url: url)
                expectError({ _ = try archive.info("W_enc") }, contains: ["hostile.npz", "W_enc.npy", "header"])
                expectError({ _ = try archive.tensor("W_enc") }, contains: ["hostile.npz", "W_enc.npy", "header"])
                expectError({ _ = try archive.rows("W_enc", [0]) }, contains: ["hostile.npz", "W_enc.npy", "header"])
            }
        }
    }

    /// Crash 1, smaller still: deflated members of 0 and 1 bytes.
    func testDeflatedMembersTooShortForAHeader() throws {
        for size in [0, 1, 9] {
            let url = try write(ZipBuilder(members: [.init(name: "b.npy", data: Array(repeating: 0x93, count: size), deflated: true)]))
            expectError({ _ = try NpzArchive(url: url).tensor("b") }, contains: ["hostile.npz", "b.npy", "too short"])
        }
    }

    /// Crash 2: a ZIP64 locator whose record offset does not fit in Int overflowed the bounds check.
    func testZip64LocatorOffsetBeyondTheFile() throws {
        let npy = ZipBuilder.npy(header: ZipBuilder.npyHeader(shape: "()"), data: [0, 0, 0, 0])
        for offset: UInt64 in [1 << 63, (1 << 63) + 1, UInt64.max, UInt64.max - 55, 1 << 40] {
            let url = try write(ZipBuilder(members: [.init(name: "a.npy", data: npy)], zip64LocatorOffset: offset))
            expectError({ _ = try NpzArchive(url: url) }, contains: ["hostile.npz", "ZIP64 locator", "\(offset)"])
        }
    }

    /// Crash 5: a 5 KB deflated member declaring 256 GiB made the reader allocate 256 GiB; one
    /// declaring 1 GiB filled 1 GiB before the stream ran dry. DEFLATE cannot expand more than
    /// 1032:1, so both are rejected before any allocation.
    func testDeclaredSizeBeyondWhatTheCompressedDataCanHold() throws {
        for declared: UInt64 in [256 << 30, 1 << 30] {
            let elements = (declared - 128) / 4
            let header = ZipBuilder.npyHeader(shape: "(\(elements),)")
            XCTAssertEqual(header.utf8.count + 10, 128)
            let npy = ZipBuilder.npy(header: header, data: Array(repeating: 7, count: 5000))
            let url = try write(ZipBuilder(members: [.init(name: "W_dec.npy", data: npy, deflated: true, declaredSize: declared)]))
            expectError({ _ = try NpzArchive(url: url).tensor("W_dec") },
                        contains: ["hostile.npz", "W_dec.npy", "\(declared) bytes", "compressed"])
        }
    }

    /// A stored member's npy shape must match the bytes the member really holds.
    func testStoredShapeLargerThanTheMember() throws {
        let npy = ZipBuilder.npy(header: ZipBuilder.npyHeader(shape: "(1099511627776, 64)"), data: [0, 0, 0, 0])
        let url = try write(ZipBuilder(members: [.init(name: "a.npy", data: npy)]))
        expectError({ _ = try NpzArchive(url: url).tensor("a") }, contains: ["hostile.npz", "a.npy"])
    }

    /// Quoted input in errors is clipped and escaped: a megabyte of digits in a shape stays short.
    func testHugeHeaderTextIsClippedInTheError() throws {
        let digits = String(repeating: "9", count: 60_000)
        let npy = ZipBuilder.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (\(digits),), }\n\u{1}")
        let url = try write(ZipBuilder(members: [.init(name: "a.npy", data: npy)]))
        do {
            _ = try NpzArchive(url: url).tensor("a")
            XCTFail("expected an error")
        } catch {
            let message = "\(error)"
            XCTAssertLessThan(message.count, 1000, message)
            XCTAssertTrue(message.contains("a.npy"), message)
        }
    }
}
