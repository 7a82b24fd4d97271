/// GPT-2's reversible byte ↔ printable-character mapping used by byte-level BPE
/// (`bytes_to_unicode`): printable Latin-1 bytes map to themselves, the other 68 bytes to
/// U+0100 and up, in byte order.
enum ByteLevelAlphabet {
    /// The character standing for each byte.
    static let scalarForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// The byte a character stands for, or -1 (index by scalar value, up to U+0143).
    static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in scalarForByte.enumerated() { table[Int(scalar)] = Int16(byte) }
        return table
    }()

    /// UTF-8 of the character standing for each byte (1 or 2 bytes).
    static let utf8ForByte: [[UInt8]] = scalarForByte.map { scalar in
        var bytes: [UInt8] = []
        UTF8Scalars.append(scalar, to: &bytes)
        return bytes
    }

    @inline(__always)
    static func byte(for scalar: UInt32) -> Int {
        scalar < 0x144 ? Int(byteForScalar[Int(scalar)]) : -1
    }

    /// Maps every byte to its character (the ByteLevel pre-tokenizer / normalizer transformation).
    static func encode(_ bytes: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) {
        for byte in bytes { output.append(contentsOf: utf8ForByte[Int(byte)]) }
    }

    /// The raw bytes a byte-level token string stands for, or nil if it has a character outside
    /// the alphabet.
    static func decode(_ token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.utf8.count)
        for scalar in token.unicodeScalars {
            let byte = byte(for: scalar.value)
            if byte < 0 { return nil }
            bytes.append(UInt8(byte))
        }
        return bytes
    }
}
