/// Post-processors: add the special tokens around an encoded sequence (only when the caller asks
/// for special tokens). Only the single-sequence form is needed here.
indirect enum PostProcessor {
    /// `TemplateProcessing.single`: special-token id runs and the sequence, in order.
    case template([TemplatePiece])
    /// `RobertaProcessing` / `BertProcessing`: `cls` sequence `sep`.
    case wrap(leading: Int32, trailing: Int32)
    case sequence([PostProcessor])
    /// ByteLevel's post-processor only adjusts offsets, which this library does not report.
    case identity

    enum TemplatePiece {
        case special([Int32])
        case sequence
    }

    func process(_ ids: [Int32]) -> [Int32] {
        switch self {
        case let .template(pieces):
            var output: [Int32] = []
            output.reserveCapacity(ids.count + pieces.count)
            for piece in pieces {
                switch piece {
                case let .special(special): output.append(contentsOf: special)
                case .sequence: output.append(contentsOf: ids)
                }
            }
            return output
        case let .wrap(leading, trailing):
            return [leading] + ids + [trailing]
        case let .sequence(steps):
            return steps.reduce(ids) { $1.process($0) }
        case .identity:
            return ids
        }
    }

    /// Every id the post-processor can add (checked against the vocabulary at load).
    var specialIDs: [Int32] {
        switch self {
        case let .template(pieces):
            return pieces.flatMap { piece -> [Int32] in
                if case let .special(ids) = piece { return ids }
                return []
            }
        case let .wrap(leading, trailing):
            return [leading, trailing]
        case let .sequence(steps):
            return steps.flatMap(\.specialIDs)
        case .identity:
            return []
        }
    }

    /// The ids a template puts before the sequence (to find the BOS token without a config file).
    var leadingSpecialIDs: [Int32] {
        switch self {
        case let .template(pieces):
            var ids: [Int32] = []
            for piece in pieces {
                guard case let .special(special) = piece else { break }
                ids += special
            }
            return ids
        case let .wrap(leading, _):
            return [leading]
        case let .sequence(steps):
            return steps.flatMap(\.leadingSpecialIDs)
        case .identity:
            return []
        }
    }
}
