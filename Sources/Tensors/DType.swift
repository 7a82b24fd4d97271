/// Element types a tensor can be stored in. Raw values are the safetensors spellings.
public enum DType: String, Sendable, CaseIterable, Codable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    public var byteSize: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        }
    }
}
