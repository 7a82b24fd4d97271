import Foundation

// The libFuzzer entry point of the byte parsers. `CORRSTEER_FUZZ_FORMAT` chooses the parser
// (FuzzTarget's raw values). Built with `-sanitize=fuzzer -DLIBFUZZER` (scripts/fuzz/libfuzzer.sh),
// `main` hands over to libFuzzer's driver (SwiftPM links an executable's entry point as `main`
// itself, so libFuzzer's own `main` cannot be used); in the ordinary build `main` is the replay, so
// `swift build` and `swift test` need no fuzzer runtime and saved inputs replay through the same code.

/// The parser named by the environment, or a usage message and exit.
let selectedTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["CORRSTEER_FUZZ_FORMAT"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
        FileHandle.standardError.write(Data("set CORRSTEER_FUZZ_FORMAT to one of \(names)\n".utf8))
        exit(2)
    }
    return target
}()

let checkFloods = ProcessInfo.processInfo.environment["CORRSTEER_FUZZ_FLOOD"] == "1"

/// The error the last input was rejected with (the replay prints it).
nonisolated(unsafe) var lastRejection: Error?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    // libFuzzer wants 0 for every input that did not crash; rejected inputs are just as expected.
    do { try selectedTarget.run(data.map { Data(bytes: $0, count: size) } ?? Data()) } catch { lastRejection = error }
    // CORRSTEER_FUZZ_FLOOD=1: an error message over 2000 characters (it quotes unbounded input) is a finding too.
    if checkFloods, let error = lastRejection, String(describing: error).utf8.count > 2000 {
        fatalError("error flood: \(String(describing: error).utf8.count) characters: \(String(describing: error).prefix(200))")
    }
    return 0
}

#if LIBFUZZER
@_silgen_name("LLVMFuzzerRunDriver")
func runLibFuzzer(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                  _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@main
enum LibFuzzerMain {
    static func main() {
        _ = selectedTarget  // an unknown format stops here, before libFuzzer starts
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runLibFuzzer(&argc, &argv, fuzzOneInput))
    }
}
#else
extension FileManager {
    func isDirectory(_ path: String) -> Bool {
        var isFolder: ObjCBool = false
        return fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
    }
}

/// `corrsteer-fuzz-parsers FILE|FOLDER…`: each file (a folder: each file in it) through the entry point.
/// `--seeds` prints the repository seed paths of the selected format (libfuzzer.sh uses it).
@main
enum Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "--seeds" {
            for seed in selectedTarget.seeds { print(seed) }
            return
        }
        // Folders (a libFuzzer corpus, a findings folder) are replayed file by file, recursively.
        var files: [String] = []
        for path in arguments {
            guard FileManager.default.isDirectory(path) else {
                files.append(path)
                continue
            }
            let names = FileManager.default.enumerator(atPath: path)?.compactMap { $0 as? String } ?? []
            files += names.sorted().map { path + "/" + $0 }.filter { !FileManager.default.isDirectory($0) }
        }
        for path in files {
            guard let input = FileManager.default.contents(atPath: path) else { continue }
            FileHandle.standardError.write(Data("\(selectedTarget.rawValue): \(path): ".utf8))
            lastRejection = nil
            _ = input.withUnsafeBytes { fuzzOneInput($0.bindMemory(to: UInt8.self).baseAddress, $0.count) }
            let verdict = lastRejection.map { "rejected: \(String(describing: $0).prefix(300))" } ?? "accepted"
            FileHandle.standardError.write(Data((verdict + "\n").utf8))
        }
        print("replayed \(files.count) input(s) through \(selectedTarget.rawValue) without a crash")
    }
}
#endif
