import Foundation

/// FNV-1a 64-bit hashes of canonical JSON, to recognise stored results made with different inputs.
/// Not cryptographic: it guards against reusing a stale file by mistake, not against forgery.
public enum Fingerprint {
    static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    static let prime: UInt64 = 0x0000_0100_0000_01b3

    /// FNV-1a-64 of `bytes` as 16 lowercase hex digits.
    public static func fnv1a64<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var hash = offsetBasis
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* prime
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// FNV-1a-64 of the JSON encoding of `value` with sorted keys (the same value always gives the same bytes).
    public static func of<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return fnv1a64(try encoder.encode(value))
    }
}

extension SteeringPlan {
    /// What the plan steers with: each entry's site, feature, coefficient, decoder bias and the exact bits
    /// of its vector (the plan's name, source and paths are left out: they do not change generations).
    public func fingerprint() throws -> String {
        struct Canonical: Encodable {
            let site: String
            let layer: Int
            let feature: Int
            let coefficient: Double
            let decoderBias: Bool
            let vector: String
        }
        return try Fingerprint.of(entries.map { entry in
            Canonical(site: entry.site, layer: entry.layer, feature: entry.feature, coefficient: entry.coefficient,
                      decoderBias: entry.decoderBias,
                      vector: Fingerprint.fnv1a64(entry.vector.flatMap { value -> [UInt8] in
                          withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init)
                      }))
        })
    }
}
