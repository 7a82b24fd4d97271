import Foundation
import InputQuoting

/// The parts of a tokenizer.json, parsed and checked.
struct TokenizerFile {
    var model: BPEModel
    /// Token string of every id (model vocabulary and added tokens), nil for unused ids.
    var tokenStrings: [String?]
    /// Token string → id, model vocabulary and added tokens.
    var tokenTable: ByteStringTable
    var addedTokens: [AddedToken]
    var normalizer: Normalizer?
    var preTokenizer: PreTokenizer?
    var postProcessor: PostProcessor?
    var decoder: TokenDecoder?
    var paddingID: Int?

    static func load(_ url: URL) throws -> TokenizerFile {
        let root = try JSONNode.read(url)
        _ = try root.object()
        let file = url.path
        let normalizer = try parseNormalizer(root["normalizer"])
        var preTokenizer = try parsePreTokenizer(root["pre_tokenizer"])
        let modelNode = root["model"]
        _ = try modelNode.object()
        let modelType = try modelNode["type"].optionalString() ?? inferModelType(modelNode)
        guard modelType == "BPE" else { throw TokenizerError.unsupportedModel(path: file, type: modelType) }
        let byteFallback = try modelNode["byte_fallback"].bool(default: false)
        let prefix = try modelNode["continuing_subword_prefix"].optionalString()
        let suffix = try modelNode["end_of_word_suffix"].optionalString()
        if let dropout = modelNode["dropout"].doubleValue, dropout > 0 {
            throw TokenizerError.unsupportedComponent(path: file, field: "model.dropout", description: "\(dropout) (BPE dropout)")
        }
        // A vocabulary that a final ByteLevel step feeds can be keyed by raw bytes instead.
        let foldByteLevel = (preTokenizer?.endsWithByteLevel ?? false) && !byteFallback && prefix == nil && suffix == nil
        if foldByteLevel { preTokenizer = preTokenizer?.withoutFinalByteMapping() }

        let vocabulary = try parseVocabulary(modelNode["vocab"])
        var modelTable = ByteStringTable(minimumCapacity: vocabulary.count)
        var maxID = -1
        for (token, id) in vocabulary {
            var token = token
            _ = token.withUTF8 { modelTable.insert($0.baseAddress ?? emptyBytePointer, count: $0.count, value: Int32(id)) }
            maxID = max(maxID, id)
        }
        let merges = try parseMerges(modelNode["merges"], vocabulary: modelTable, prefixLength: prefix?.utf8.count ?? 0)

        var unknownID: Int32 = -1
        if let unknown = try modelNode["unk_token"].optionalString() {
            unknownID = modelTable.value(Array(unknown.utf8))
            if unknownID < 0 {
                throw TokenizerError.invalidField(path: file, field: "model.unk_token",
                                                  reason: "names \(QuotedInput.quoted(unknown)), which is not in the vocabulary")
            }
        }
        var encodeTable = modelTable
        if foldByteLevel {
            encodeTable = ByteStringTable(minimumCapacity: vocabulary.count)
            for (token, id) in vocabulary {
                if let raw = ByteLevelAlphabet.decode(token) { encodeTable.insert(raw, value: Int32(id)) }
            }
        }
        let fallbackIDs: [Int32]? = byteFallback
            ? (0..<256).map { modelTable.value(Array(String(format: "<0x%02X>", $0).utf8)) }
            : nil
        let model = BPEModel(
            unit: foldByteLevel ? .byte : .scalar, encodeTable: encodeTable, merges: merges, unknownID: unknownID,
            fuseUnknown: try modelNode["fuse_unk"].bool(default: false), byteFallbackIDs: fallbackIDs,
            ignoreMerges: try modelNode["ignore_merges"].bool(default: false),
            continuingSubwordPrefix: prefix.map { Array($0.utf8) }, endOfWordSuffix: suffix.map { Array($0.utf8) })

        let addedTokens = try parseAddedTokens(root["added_tokens"])
        for token in addedTokens { maxID = max(maxID, Int(token.id)) }
        try checkIDRange(maxID: maxID, entryCount: vocabulary.count + addedTokens.count, file: file)
        var tokenStrings = [String?](repeating: nil, count: maxID + 1)
        for (token, id) in vocabulary { tokenStrings[id] = token }
        var tokenTable = modelTable
        for token in addedTokens {
            tokenStrings[Int(token.id)] = token.content
            tokenTable.insert(Array(token.content.utf8), value: token.id)
        }

        let postProcessor = try parsePostProcessor(root["post_processor"], tokenTable: tokenTable)
        if let id = postProcessor?.specialIDs.first(where: { $0 < 0 || Int($0) >= tokenStrings.count }) {
            throw TokenizerError.invalidField(path: file, field: "post_processor",
                                              reason: "adds token id \(id), which no token in the file has (ids run 0..<\(tokenStrings.count))")
        }
        let decoder = try parseDecoder(root["decoder"])
        let paddingID = try root["padding"]["pad_id"].optionalInt()
        return TokenizerFile(model: model, tokenStrings: tokenStrings, tokenTable: tokenTable, addedTokens: addedTokens,
                             normalizer: normalizer, preTokenizer: preTokenizer, postProcessor: postProcessor,
                             decoder: decoder, paddingID: paddingID)
    }

    /// Largest id a tokenizer may use. The biggest published vocabularies hold about 260k tokens; ids
    /// index tables of that many entries, so a hostile id must not size them.
    static let maxTokenID = 1 << 24

    /// Token ids index per-id tables (`tokenStrings` and the tables built from it), allocated at the
    /// largest id + 1. Real files number their tokens densely from 0 (added tokens continue the
    /// model vocabulary), so the largest id must stay within the sane limit and within reach of the
    /// number of tokens the file defines: at most half of the id range may be unused.
    private static func checkIDRange(maxID: Int, entryCount: Int, file: String) throws {
        let limit = min(maxTokenID, 2 * entryCount + 1024)
        guard maxID < limit else {
            throw TokenizerError.invalidField(
                path: file, field: "model.vocab / added_tokens",
                reason: "uses token id \(maxID) but defines only \(entryCount) tokens; ids must stay below \(limit)")
        }
    }

    private static func inferModelType(_ node: JSONNode) -> String {
        if node["merges"].isPresent { return "BPE" }
        if case .array? = node["vocab"].value { return "Unigram" }
        if node["max_input_chars_per_word"].isPresent { return "WordPiece" }
        return "WordLevel"
    }

    // MARK: Model

    private static func parseVocabulary(_ node: JSONNode) throws -> [(String, Int)] {
        let object = try node.object()
        var entries: [(String, Int)] = []
        entries.reserveCapacity(object.keys.count)
        for (token, value) in zip(object.keys, object.values) {
            guard case let .integer(id) = value, id >= 0, id < 2_000_000_000 else {
                throw TokenizerError.invalidField(path: node.file, field: "\(node.field)[\(QuotedInput.quoted(token))]",
                                                  reason: "should be a non-negative integer id")
            }
            entries.append((token, id))
        }
        return entries
    }

    /// Merges as `"a b"` strings (the legacy form) or `["a", "b"]` pairs.
    private static func parseMerges(_ node: JSONNode, vocabulary: ByteStringTable, prefixLength: Int) throws -> MergeTable {
        let list = try node.array()
        var table = MergeTable(minimumCapacity: list.count)
        var rank: Int32 = 0
        var merged: [UInt8] = []
        func lookup(_ left: UnsafeBufferPointer<UInt8>, _ right: UnsafeBufferPointer<UInt8>) -> (Int32, Int32, Int32) {
            let leftID = vocabulary.value(left.baseAddress ?? emptyBytePointer, count: left.count)
            let rightID = vocabulary.value(right.baseAddress ?? emptyBytePointer, count: right.count)
            merged.removeAll(keepingCapacity: true)
            merged.append(contentsOf: left)
            merged.append(contentsOf: right.dropFirst(min(prefixLength, right.count)))
            return (leftID, rightID, vocabulary.value(merged))
        }
        for (index, entry) in list.enumerated() {
            var left: String
            var right: String
            var ids: (Int32, Int32, Int32)
            if case var .string(line) = entry {
                if line.hasPrefix("#version") { continue }
                // Exactly one space separates the two tokens (the reference splits on ' ').
                let split: (Int32, Int32, Int32)? = line.withUTF8 { bytes in
                    guard let space = bytes.firstIndex(of: 0x20), bytes[(space + 1)...].firstIndex(of: 0x20) == nil else {
                        return nil
                    }
                    return lookup(UnsafeBufferPointer(rebasing: bytes[..<space]), UnsafeBufferPointer(rebasing: bytes[(space + 1)...]))
                }
                guard let found = split else {
                    throw TokenizerError.invalidField(path: node.file, field: "\(node.field)[\(index)]",
                                                      reason: "should be two tokens separated by one space, not \(QuotedInput.quoted(line))")
                }
                ids = found
                let parts = ids.0 < 0 || ids.1 < 0 ? line.split(separator: " ", omittingEmptySubsequences: false) : []
                left = parts.first.map(String.init) ?? ""
                right = parts.last.map(String.init) ?? ""
            } else if case let .array(pair) = entry, pair.count == 2, case let .string(a) = pair[0], case let .string(b) = pair[1] {
                left = a
                right = b
                ids = left.withUTF8 { leftBytes in right.withUTF8 { lookup(leftBytes, $0) } }
            } else {
                throw TokenizerError.invalidField(path: node.file, field: "\(node.field)[\(index)]",
                                                  reason: "should be \"a b\" or [\"a\", \"b\"]")
            }
            if ids.0 < 0 || ids.1 < 0 {
                throw TokenizerError.mergeNotInVocabulary(path: node.file, index: index, token: ids.0 < 0 ? left : right)
            }
            if ids.2 < 0 {
                throw TokenizerError.mergeNotInVocabulary(path: node.file, index: index,
                                                          token: String(decoding: merged, as: UTF8.self))
            }
            table.insert(left: ids.0, right: ids.1, rank: rank, merged: ids.2)
            rank += 1
        }
        return table
    }

    // MARK: Added tokens

    private static func parseAddedTokens(_ node: JSONNode) throws -> [AddedToken] {
        if node.isNull { return [] }
        return try node.elements().compactMap { entry in
            let content = try entry["content"].string()
            let id = try entry["id"].int()
            guard id >= 0 && id < 2_000_000_000 else {
                throw TokenizerError.invalidField(path: entry.file, field: entry.field + ".id", reason: "should be a non-negative id")
            }
            if content.isEmpty { return nil }
            let special = try entry["special"].bool(default: false)
            return AddedToken(id: Int32(id), content: content,
                              singleWord: try entry["single_word"].bool(default: false),
                              leftStrip: try entry["lstrip"].bool(default: false),
                              rightStrip: try entry["rstrip"].bool(default: false),
                              normalized: try entry["normalized"].bool(default: !special),
                              special: special)
        }
    }

    // MARK: Normalizers

    private static func componentType(_ node: JSONNode) throws -> String {
        try node["type"].string()
    }

    private static func unsupported(_ node: JSONNode, _ what: String) -> TokenizerError {
        .unsupportedComponent(path: node.file, field: node.field, description: what)
    }

    static func parseNormalizer(_ node: JSONNode) throws -> Normalizer? {
        if node.isNull { return nil }
        let type = try componentType(node)
        switch type {
        case "Sequence":
            return .sequence(try node["normalizers"].elements().compactMap(parseNormalizer))
        case "Replace":
            let pattern = try literalPattern(node["pattern"])
            return .replace(pattern: pattern, content: Array(try node["content"].string().utf8))
        case "Prepend":
            return .prepend(Array(try node["prepend"].string().utf8))
        case "NFC": return .unicode(.nfc)
        case "NFD": return .unicode(.nfd)
        case "NFKC": return .unicode(.nfkc)
        case "NFKD": return .unicode(.nfkd)
        case "Lowercase": return .lowercase
        case "StripAccents": return .stripAccents
        case "ByteLevel": return .byteLevel
        case "Strip":
            return .strip(left: try node["strip_left"].bool(default: true), right: try node["strip_right"].bool(default: true))
        default:
            throw unsupported(node, "normalizer \"\(type)\"")
        }
    }

    /// `{"String": s}` or `{"Regex": r}` where r has no regex syntax (a plain literal).
    private static func literalPattern(_ node: JSONNode) throws -> [UInt8] {
        let pattern: String
        if let string = node["String"].stringValue {
            pattern = string
        } else if let regex = node["Regex"].stringValue {
            let metacharacters = Set("\\.^$|?*+()[]{}")
            guard !regex.contains(where: { metacharacters.contains($0) }) else {
                throw unsupported(node, "regex \(QuotedInput.quoted(regex))")
            }
            pattern = regex
        } else {
            throw node.wrongType("{\"String\": …} or {\"Regex\": …}")
        }
        guard !pattern.isEmpty else { throw unsupported(node, "empty pattern") }
        return Array(pattern.utf8)
    }

    // MARK: Pre-tokenizers

    static func parsePreTokenizer(_ node: JSONNode) throws -> PreTokenizer? {
        if node.isNull { return nil }
        let type = try componentType(node)
        switch type {
        case "Sequence":
            return .sequence(try node["pretokenizers"].elements().compactMap(parsePreTokenizer))
        case "Split":
            let patternNode = node["pattern"]
            let pattern: PreTokenizer.Pattern
            if let regex = patternNode["Regex"].stringValue, let scanner = SplitScanner(pattern: regex) {
                pattern = .scanner(scanner)
            } else {
                pattern = .literal(try literalPattern(patternNode))
            }
            let behaviorName = try node["behavior"].string()
            guard let behavior = SplitBehavior(rawValue: behaviorName) else {
                throw TokenizerError.invalidField(path: node.file, field: node.field + ".behavior",
                                                  reason: "has unknown value \(QuotedInput.quoted(behaviorName))")
            }
            return .split(pattern, behavior, invert: try node["invert"].bool(default: false))
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: try node["add_prefix_space"].bool(default: true),
                              useRegex: try node["use_regex"].bool(default: true), mapBytes: true)
        case "Metaspace":
            let replacement = try node["replacement"].string()
            guard replacement.unicodeScalars.count == 1 else {
                throw TokenizerError.invalidField(path: node.file, field: node.field + ".replacement", reason: "should be one character")
            }
            return .metaspace(replacement: Array(replacement.utf8), prependScheme: try prependScheme(node),
                              split: try node["split"].bool(default: true))
        case "Digits":
            return .digits(individual: try node["individual_digits"].bool(default: false))
        case "WhitespaceSplit":
            return .whitespaceSplit
        default:
            throw unsupported(node, "pre-tokenizer \"\(type)\"")
        }
    }

    private static func prependScheme(_ node: JSONNode) throws -> PreTokenizer.PrependScheme {
        var scheme = PreTokenizer.PrependScheme.always
        if let name = try node["prepend_scheme"].optionalString() {
            guard let parsed = PreTokenizer.PrependScheme(rawValue: name) else {
                throw TokenizerError.invalidField(path: node.file, field: node.field + ".prepend_scheme",
                                                  reason: "has unknown value \(QuotedInput.quoted(name))")
            }
            scheme = parsed
        }
        if try node["add_prefix_space"].optionalBool() == false { scheme = .never }
        return scheme
    }

    // MARK: Post-processors

    static func parsePostProcessor(_ node: JSONNode, tokenTable: ByteStringTable) throws -> PostProcessor? {
        if node.isNull { return nil }
        let type = try componentType(node)
        switch type {
        case "Sequence":
            return .sequence(try node["processors"].elements().compactMap { try parsePostProcessor($0, tokenTable: tokenTable) })
        case "ByteLevel":
            return .identity
        case "TemplateProcessing":
            let specials = node["special_tokens"]
            var pieces: [PostProcessor.TemplatePiece] = []
            for piece in try node["single"].elements() {
                if piece["Sequence"].isPresent {
                    pieces.append(.sequence)
                } else if piece["SpecialToken"].isPresent {
                    let name = try piece["SpecialToken"]["id"].string()
                    let ids = try specials[name]["ids"].elements().map { node -> Int32 in
                        let id = try node.int()
                        guard id >= 0 && id < 2_000_000_000 else { throw node.wrongType("a token id") }
                        return Int32(id)
                    }
                    pieces.append(.special(ids))
                } else {
                    throw piece.wrongType("{\"Sequence\": …} or {\"SpecialToken\": …}")
                }
            }
            return .template(pieces)
        case "RobertaProcessing", "BertProcessing":
            func id(_ key: String) throws -> Int32 {
                let pair = try node[key].elements()
                guard pair.count == 2 else { throw node[key].wrongType("a [token, id] pair") }
                let id = try pair[1].int()
                // Int32(_:) would trap (or, unchecked, wrap) on a hostile id.
                guard id >= 0 && id < 2_000_000_000 else { throw pair[1].wrongType("a token id") }
                return Int32(id)
            }
            return .wrap(leading: try id("cls"), trailing: try id("sep"))
        default:
            throw unsupported(node, "post-processor \"\(type)\"")
        }
    }

    // MARK: Decoders

    static func parseDecoder(_ node: JSONNode) throws -> TokenDecoder? {
        if node.isNull { return nil }
        let type = try componentType(node)
        switch type {
        case "Sequence":
            return .sequence(try node["decoders"].elements().compactMap(parseDecoder))
        case "ByteLevel":
            return .byteLevel
        case "Replace":
            let pattern = String(decoding: try literalPattern(node["pattern"]), as: UTF8.self)
            return .replace(pattern: pattern, content: try node["content"].string())
        case "ByteFallback":
            return .byteFallback
        case "Fuse":
            return .fuse
        case "Strip":
            let content = try node["content"].string()
            guard content.unicodeScalars.count == 1, let scalar = content.unicodeScalars.first else {
                throw TokenizerError.invalidField(path: node.file, field: node.field + ".content", reason: "should be one character")
            }
            return .strip(content: scalar, start: try node["start"].int(), stop: try node["stop"].int())
        case "Metaspace":
            let replacement = try node["replacement"].string()
            guard replacement.unicodeScalars.count == 1, let scalar = replacement.unicodeScalars.first else {
                throw TokenizerError.invalidField(path: node.file, field: node.field + ".replacement", reason: "should be one character")
            }
            return .metaspace(replacement: scalar, prependScheme: try prependScheme(node))
        case "BPEDecoder":
            return .bpeSuffix(try node["suffix"].optionalString() ?? "</w>")
        default:
            throw unsupported(node, "decoder \"\(type)\"")
        }
    }
}
