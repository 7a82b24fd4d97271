import Foundation

/// Where one layer's SAE lives, as found by `SAESet.discover`.
public struct SAEReference: Sendable, Equatable {
    public let layer: Int
    /// The `params.npz` file (Gemma Scope) or the SAE folder (SAELens, Llama Scope).
    public let url: URL
    public let format: SAEFormat
    /// How it was chosen when there was a choice ("canonical average_l0_82").
    public let note: String?

    public init(layer: Int, url: URL, format: SAEFormat, note: String? = nil) {
        self.layer = layer
        self.url = url
        self.format = format
        self.note = note
    }
}

/// Resolves what the user passed as `--sae` into one SAE per layer.
public enum SAESet {
    /// Accepts a single SAE (a `params.npz`, a Qwen Scope `layer{L}.sae.pt`, a SAELens or Llama Scope
    /// folder, or a file inside one), a Qwen Scope repository (`layer{L}.sae.pt` files),
    /// a Gemma Scope tree (`layer_{L}/width_{W}/average_l0_{X}/params.npz`; the canonical L0 is
    /// chosen, or the only one present), or a folder whose subfolders are SAEs (SAELens or Llama
    /// Scope; the layer comes from each hook name). A Gemma Scope 2 repository or site folder
    /// (`resid_post/layer_{L}_width_{W}_l0_{X}/`) gives one SAE per layer, chosen by `GemmaScope2.choose`.
    /// `width` picks a Gemma Scope (2) width ("16k", the default when present), `l0` a Gemma Scope 2 L0
    /// bucket ("medium" by default). With `layers`, every listed layer must have an SAE.
    public static func discover(path: URL, layers: [Int]? = nil, width: String? = nil, l0: String? = nil) throws -> [Int: SAEReference] {
        guard FileManager.default.fileExists(atPath: path.standardizedFileURL.path) else {
            throw SAEError.notFound(path: path.standardizedFileURL.path)
        }
        let path = try hubSnapshot(path.standardizedFileURL) ?? path.standardizedFileURL
        var found: [Int: SAEReference]
        var available: [Int]
        if let single = try single(path, layers: layers) {
            if let layers, layers.count == 1, layers[0] != single.layer {
                throw SAEError.layerMismatch(path: single.url.path, found: single.layer, requested: layers[0])
            }
            found = [single.layer: single]
            available = [single.layer]
        } else if isDirectory(path) {
            (found, available) = try tree(path, width: width, l0: l0, layers: layers)
        } else {
            throw SAEError.noSAE(path: path.path, reason: "not an .npz file, an SAE config or an SAE weights file")
        }
        guard !available.isEmpty else {
            throw SAEError.noSAE(
                path: path.path,
                reason: "expected params.npz, cfg.json + sae_weights.safetensors, layerN.sae.pt, layer_L_width_W_l0_X/params.safetensors, hyperparams.json + checkpoints/final.safetensors, layer_N/width_W/average_l0_X folders, or subfolders holding such SAEs")
        }
        guard let layers else { return found }
        for layer in layers where found[layer] == nil {
            throw SAEError.noSAEForLayer(path: path.path, layer: layer, available: available.sorted())
        }
        return found.filter { layers.contains($0.key) }
    }

    // MARK: - One SAE

    /// The SAE at `url` when it is a single SAE (file or folder), else nil.
    private static func single(_ url: URL, layers: [Int]?) throws -> SAEReference? {
        guard let (format, location) = try classify(url) else { return nil }
        let layer: Int?
        switch format {
        case .gemmaScope: layer = GemmaScope.layer(inPath: location.path)
        case .gemmaScope2: layer = GemmaScope2.FolderName(location.lastPathComponent)?.layer
        case .saeLens: layer = try SAELensLoader.layer(of: location)
        case .llamaScope: layer = try LlamaScopeLoader.layer(of: location)
        case .qwenScope: layer = QwenScopeLoader.layer(fileName: location.lastPathComponent)
        }
        if let layer { return SAEReference(layer: layer, url: location, format: format) }
        // Files that do not name their layer take the one the caller asks for.
        guard let layers, layers.count == 1 else { throw SAEError.unknownLayer(path: location.path) }
        return SAEReference(layer: layers[0], url: location, format: format)
    }

    /// Format and canonical location (npz file or SAE folder) when `url` is, or is inside, one SAE.
    static func classify(_ url: URL) throws -> (SAEFormat, URL)? {
        let fm = FileManager.default
        func has(_ dir: URL, _ name: String) -> Bool { fm.fileExists(atPath: dir.appendingPathComponent(name).path) }
        if isDirectory(url) {
            if has(url, "params.npz") { return (.gemmaScope, url.appendingPathComponent("params.npz")) }
            if has(url, GemmaScope2.weightsName), GemmaScope2.FolderName(url.lastPathComponent) != nil { return (.gemmaScope2, url) }
            if has(url, SAELensLoader.configName) { return (.saeLens, url) }
            if has(url, LlamaScopeLoader.configName) { return (.llamaScope, url) }
            // A `width_W` folder: one SAE, the canonical (or only) L0 variant.
            if subdirectories(url).contains(where: { $0.lastPathComponent.hasPrefix("average_l0_") }) {
                let chosen = try canonicalL0Folder(url, layer: GemmaScope.layer(inPath: url.path))
                return (.gemmaScope, chosen.url.appendingPathComponent("params.npz"))
            }
            return nil
        }
        let name = url.lastPathComponent, parent = url.deletingLastPathComponent()
        if name.hasSuffix(".npz") { return (.gemmaScope, url) }
        if QwenScopeLoader.layer(fileName: name) != nil { return (.qwenScope, url) }
        if name == GemmaScope2.weightsName, GemmaScope2.FolderName(parent.lastPathComponent) != nil { return (.gemmaScope2, parent) }
        if name == SAELensLoader.configName || (name.hasSuffix(".safetensors") && has(parent, SAELensLoader.configName)) {
            return (.saeLens, parent)
        }
        if name == LlamaScopeLoader.configName { return (.llamaScope, parent) }
        if name.hasSuffix(".safetensors") {
            if has(parent, LlamaScopeLoader.configName) { return (.llamaScope, parent) }
            let grandparent = parent.deletingLastPathComponent()
            if parent.lastPathComponent == "checkpoints", has(grandparent, LlamaScopeLoader.configName) { return (.llamaScope, grandparent) }
        }
        return nil
    }

    // MARK: - Many SAEs

    /// The SAEs found (only the requested layers of a Gemma Scope tree are resolved) and every layer seen.
    private static func tree(_ dir: URL, width: String?, l0: String?, layers: [Int]?) throws -> ([Int: SAEReference], [Int]) {
        let children = subdirectories(dir)
        if let (found, available) = try gemmaScope2Tree(dir, children: children, width: width, l0: l0, layers: layers) {
            return (found, available)
        }
        // A Qwen Scope repository: `layer{L}.sae.pt` files side by side.
        let qwenFiles = files(dir).compactMap { file in QwenScopeLoader.layer(fileName: file.lastPathComponent).map { ($0, file) } }
        if !qwenFiles.isEmpty {
            var found: [Int: SAEReference] = [:]
            for (layer, file) in qwenFiles where layers?.contains(layer) ?? true {
                found[layer] = SAEReference(layer: layer, url: file, format: .qwenScope)
            }
            return (found, qwenFiles.map(\.0))
        }
        let layerFolders = children.compactMap { child -> (Int, URL)? in
            let name = child.lastPathComponent
            guard name.hasPrefix("layer_"), let n = Int(name.dropFirst(6)) else { return nil }
            return (n, child)
        }
        if !layerFolders.isEmpty {
            var found: [Int: SAEReference] = [:]
            for (layer, folder) in layerFolders where layers?.contains(layer) ?? true {
                found[layer] = try gemmaScopeLayer(folder, layer: layer, width: width)
            }
            return (found, layerFolders.map(\.0))
        }
        var found: [Int: (SAEReference, String?)] = [:]
        for child in children {
            guard let (format, location) = try classify(child), format != .gemmaScope || GemmaScope.layer(inPath: location.path) != nil,
                  let reference = try single(location, layers: nil)
            else { continue }
            let hook: String?
            switch format {
            case .saeLens: hook = try SAELensLoader.hookName(of: location)
            case .llamaScope: hook = try LlamaScopeLoader.hookName(of: location)
            case .gemmaScope, .qwenScope: hook = nil
            case .gemmaScope2: hook = GemmaScope2.hook(site: dir.lastPathComponent).map { "blocks.\(reference.layer).\($0)" }
            }
            if let (existing, existingHook) = found[reference.layer] {
                // A release folder can hold residual, attention and MLP SAEs per layer; prefer the residual one.
                let isResidual = hook?.hasSuffix("hook_resid_post") ?? false
                let existingIsResidual = existingHook?.hasSuffix("hook_resid_post") ?? false
                if isResidual == existingIsResidual {
                    throw SAEError.duplicateLayer(
                        path: dir.path, layer: reference.layer,
                        first: existing.url.lastPathComponent, second: location.lastPathComponent)
                }
                if existingIsResidual { continue }
            }
            found[reference.layer] = (reference, hook)
        }
        return (found.mapValues(\.0), Array(found.keys))
    }

    /// A Gemma Scope 2 site folder (its children are `layer_L_width_W_l0_X` SAEs) or repository (it has
    /// `resid_post` / `resid_post_all` site folders; for each layer the first site that has it wins).
    /// The SAEs chosen (for `layers`, or all) and every layer seen; nil when `dir` is neither.
    private static func gemmaScope2Tree(_ dir: URL, children: [URL], width: String?, l0: String?,
                                        layers: [Int]?) throws -> ([Int: SAEReference], [Int])? {
        let saeFolders = { (folders: [URL]) in folders.filter { GemmaScope2.FolderName($0.lastPathComponent) != nil } }
        let own = saeFolders(children)
        let names = Set(children.map(\.lastPathComponent))
        let sites = own.isEmpty ? GemmaScope2.residualSites.filter(names.contains).map { dir.appendingPathComponent($0) } : [dir]
        guard !sites.isEmpty else { return nil }
        var found: [Int: SAEReference] = [:]
        var seen = Set<Int>()
        for site in sites {
            let folders = site == dir ? own : saeFolders(subdirectories(site))
            seen.formUnion(folders.compactMap { GemmaScope2.FolderName($0.lastPathComponent)?.layer })
            // A layer the first site already has is not looked for again.
            let wanted = (layers ?? Array(seen)).filter { found[$0] == nil }
            let chosen = try GemmaScope2.choose(folders, width: width, l0: l0, site: site, layers: wanted)
            found.merge(chosen) { first, _ in first }
        }
        return (found, Array(seen))
    }

    /// One Gemma Scope `layer_L` folder: the requested (or 16k, or only) width, then the canonical
    /// (or only) L0.
    private static func gemmaScopeLayer(_ folder: URL, layer: Int, width: String?) throws -> SAEReference {
        let widths = subdirectories(folder).map(\.lastPathComponent).filter { $0.hasPrefix("width_") }.sorted()
        let chosen: String
        if let width {
            let name = width.hasPrefix("width_") ? width : "width_\(width)"
            guard widths.contains(name) else {
                throw SAEError.noSAE(path: folder.path, reason: "no \(name) folder (present: \(widths.joined(separator: ", ")))")
            }
            chosen = name
        } else if widths.contains("width_16k") {
            chosen = "width_16k"
        } else if widths.count == 1 {
            chosen = widths[0]
        } else if widths.isEmpty {
            throw SAEError.noSAE(path: folder.path, reason: "no width_W folders inside")
        } else {
            throw SAEError.ambiguous(path: folder.path, reason: "several widths (\(widths.joined(separator: ", "))) and no width_16k; choose a width")
        }
        let widthFolder = folder.appendingPathComponent(chosen)
        let pick = try canonicalL0Folder(widthFolder, layer: layer)
        return SAEReference(layer: layer, url: pick.url.appendingPathComponent("params.npz"), format: .gemmaScope, note: pick.note)
    }

    /// In a `width_W` folder: the canonical `average_l0_X` (formats.md §1.1) or the only one.
    private static func canonicalL0Folder(_ widthFolder: URL, layer: Int?) throws -> (url: URL, note: String) {
        let options = subdirectories(widthFolder)
            .filter { $0.lastPathComponent.hasPrefix("average_l0_") && FileManager.default.fileExists(atPath: $0.appendingPathComponent("params.npz").path) }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let width = String(widthFolder.lastPathComponent.dropFirst("width_".count))
        if let layer, let x = GemmaScope.canonicalL0[width]?[layer],
           let canonical = options.first(where: { $0.lastPathComponent == "average_l0_\(x)" }) {
            return (canonical, "canonical average_l0_\(x)")
        }
        if options.count == 1 { return (options[0], "only \(options[0].lastPathComponent)") }
        if options.isEmpty {
            throw SAEError.noSAE(path: widthFolder.path, reason: "no average_l0_X/params.npz inside")
        }
        let names = options.map(\.lastPathComponent).joined(separator: ", ")
        throw SAEError.ambiguous(
            path: widthFolder.path,
            reason: "several L0 variants (\(names)) and no canonical one known for this layer and width; point --sae at the one you want")
    }

    /// A Hugging Face cache folder (`models--google--gemma-scope-2b-pt-res`) stands for the snapshot
    /// `refs/main` names, or its only snapshot.
    private static func hubSnapshot(_ dir: URL) throws -> URL? {
        let snapshots = dir.appendingPathComponent("snapshots")
        guard dir.lastPathComponent.hasPrefix("models--"), isDirectory(snapshots) else { return nil }
        let main = dir.appendingPathComponent("refs/main")
        if let revision = try? String(contentsOf: main, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
           isDirectory(snapshots.appendingPathComponent(revision)) {
            return snapshots.appendingPathComponent(revision)
        }
        let all = subdirectories(snapshots)
        guard all.count == 1 else {
            throw SAEError.ambiguous(
                path: dir.path, reason: "\(all.count) snapshots and no refs/main; point --sae at one of \(snapshots.path)/…")
        }
        return all[0]
    }

    private static func subdirectories(_ dir: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.sorted().map { dir.appendingPathComponent($0) }.filter(isDirectory)
    }

    private static func files(_ dir: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.sorted().map { dir.appendingPathComponent($0) }.filter { !isDirectory($0) }
    }

    static func isDirectory(_ url: URL) -> Bool {
        var flag: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &flag) && flag.boolValue
    }
}
