import Foundation

// corrsteer-fuzz: the seeded, time-bounded CLI mutation fuzzer of scripts/fuzz/README.md.
//
//   corrsteer-fuzz cli [--binary B] [--seed N] [--seconds S] [--format NAME[,NAME…]] [--out DIR]
//                      [--timeout S] [--memory-mb M] [--max-inputs N] [--repo DIR]
//   corrsteer-fuzz replay --format NAME [--binary B] INPUT…    (run saved inputs again; gdb stack of a crash)
//   corrsteer-fuzz list                                         (the formats and their commands)

struct Options {
    var mode = "cli"
    var binary = ".build/release/corrsteer"
    var seed: UInt64 = 1
    var seconds = 100.0
    var formats: [String] = []
    var out = ".build/fuzz-findings"
    var timeout = 10.0
    var memoryMB = 4096
    var maxInputs = Int.max
    var repo = FileManager.default.currentDirectoryPath
    var inputs: [String] = []

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        if let first = rest.first, !first.hasPrefix("-") { mode = first; rest = rest.dropFirst() }
        func value(_ name: String) throws -> String {
            guard let value = rest.popFirst() else { throw SetupError("\(name) needs a value") }
            return value
        }
        func number<T: LosslessStringConvertible>(_ name: String) throws -> T {
            let text = try value(name)
            guard let number = T(text) else { throw SetupError("\(name): '\(text)' is not a number") }
            return number
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--binary": binary = try value(argument)
            case "--seed": seed = try number(argument)
            case "--seconds": seconds = try number(argument)
            case "--format": formats += try value(argument).split(separator: ",").map(String.init)
            case "--out": out = try value(argument)
            case "--timeout": timeout = try number(argument)
            case "--memory-mb": memoryMB = try number(argument)
            case "--max-inputs": maxInputs = try number(argument)
            case "--repo": repo = try value(argument)
            case "-h", "--help": mode = "help"
            default:
                guard !argument.hasPrefix("-") else { throw SetupError("unknown option \(argument)") }
                inputs.append(argument)
            }
        }
    }
}

/// Counts per format, and where findings go.
struct Tally {
    var inputs = 0
    var counts: [Outcome.Kind: Int] = [:]
    var seconds = 0.0
    var defects: Int { (counts[.crash] ?? 0) + (counts[.hang] ?? 0) + (counts[.flood] ?? 0) }
}

/// Saves a crash, hang or flood: the input, the command, the error output and a backtrace re-run.
/// Up to three inputs are kept per distinct cause (signature) and format; the rest are only counted.
struct FindingStore {
    let folder: URL
    var saved: [String: Int] = [:]
    var causes: [(format: String, signature: String, example: URL)] = []

    /// gdb runs per (format, crash line): enough to tell apart the places one crash line comes from.
    var traced: [String: Int] = [:]

    mutating func record(_ outcome: Outcome, input: [UInt8], format: FuzzFormat, caseFolder: URL, runner: CommandRunner) {
        // A crash is identified by its line and, when gdb can tell, the faulting frame in our sources.
        var stack: String?
        let line = format.name + "\u{0}" + outcome.signature
        if outcome.kind == .crash, traced[line, default: 0] < 10 {
            traced[line, default: 0] += 1
            stack = runner.gdbStack(format.arguments, in: caseFolder, stdin: format.stdin)
        }
        let frame = stack.flatMap(CommandRunner.faultingFrame)
        let signature = outcome.signature + (frame.map { " @ \($0)" } ?? "")
        let key = format.name + "\u{0}" + signature
        let count = saved[key, default: 0]
        saved[key] = count + 1
        guard count < 3 else { return }
        let hash = key.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 }
        let name = "\(outcome.kind.rawValue)-\(String(format: "%08x", hash))-\(count)"
        let finding = folder.appendingPathComponent(format.name).appendingPathComponent(name)
        try? FileManager.default.createDirectory(at: finding, withIntermediateDirectories: true)
        let inputName = (format.target as NSString).lastPathComponent
        try? Data(input).write(to: finding.appendingPathComponent(inputName))
        let report = """
            format: \(format.name)
            file: \(format.target) (saved here as \(inputName))
            outcome: \(outcome.kind.rawValue), \(outcome.status)
            signature: \(signature)
            command (in a case folder): \(runner.commandLine(format.arguments, stdin: format.stdin))
            reproduce: corrsteer-fuzz replay --binary \(runner.binary) --format \(format.name) \(finding.path)/\(inputName)

            """
        try? Data(report.utf8).write(to: finding.appendingPathComponent("finding.txt"))
        try? Data(outcome.stderr.utf8).write(to: finding.appendingPathComponent("stderr.txt"))
        if let stack { try? Data((stack + "\n").utf8).write(to: finding.appendingPathComponent("stack.txt")) }
        if count == 0 { causes.append((format.name, signature, finding)) }
    }
}

func fuzz(_ options: Options, formats: [FuzzFormat]) throws -> Bool {
    let started = Date()
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("corrsteer-fuzz-\(getpid())")
    defer { try? FileManager.default.removeItem(at: work) }
    let runner = CommandRunner(binary: URL(fileURLWithPath: options.binary).standardizedFileURL.path, timeout: options.timeout, memoryLimitMB: options.memoryMB)
    let pristine = work.appendingPathComponent("pristine")
    try Setup.prepare(in: pristine, repo: URL(fileURLWithPath: options.repo), runner: runner)
    try Setup.check(formats, pristine: pristine, work: work, runner: runner)
    var store = FindingStore(folder: URL(fileURLWithPath: options.out).standardizedFileURL)
    var tallies: [String: Tally] = [:]
    // The time left after the setup is shared equally; a hang overruns its share by at most one timeout.
    let share = max(0, options.seconds - Date().timeIntervalSince(started)) / Double(formats.count)
    for format in formats {
        var random = SeededRandom(seed: options.seed, stream: format.name)
        let original = Array(try Data(contentsOf: pristine.appendingPathComponent(format.target)))
        let caseFolder = work.appendingPathComponent("case")
        let formatStart = Date()
        var tally = Tally()
        while tally.inputs < options.maxInputs, Date().timeIntervalSince(formatStart) < share {
            // One to four stacked mutations; fewer are likelier, so most inputs stay close to valid.
            var input = original
            for _ in 0..<(1 + (random.chance(0.5) ? 0 : random.below(4))) { input = format.mutator.mutate(input, using: &random) }
            try Setup.makeCase(format, pristine: pristine, at: caseFolder)
            try Setup.install(input, for: format, in: caseFolder)
            let outcome = runner.run(format.arguments, in: caseFolder, stdin: format.stdin)
            tally.inputs += 1
            tally.counts[outcome.kind, default: 0] += 1
            if outcome.kind != .accepted && outcome.kind != .cleanError {
                store.record(outcome, input: input, format: format, caseFolder: caseFolder, runner: runner)
            }
        }
        tally.seconds = Date().timeIntervalSince(formatStart)
        tallies[format.name] = tally
    }
    printTable(formats.map { ($0.name, tallies[$0.name] ?? Tally()) }, seed: options.seed, seconds: Date().timeIntervalSince(started))
    if !store.causes.isEmpty {
        print("\ndistinct causes (format: signature → first saved input):")
        for cause in store.causes { print("  \(cause.format): \(cause.signature)\n    → \(cause.example.path)") }
    }
    return tallies.values.allSatisfy { $0.defects == 0 }
}

func printTable(_ rows: [(String, Tally)], seed: UInt64, seconds: Double) {
    let header = ["format", "inputs", "accepted", "clean errors", "crashes", "hangs", "floods", "inputs/s"]
    let lines = rows.map { name, tally in
        [name, String(tally.inputs), String(tally.counts[.accepted] ?? 0), String(tally.counts[.cleanError] ?? 0),
         String(tally.counts[.crash] ?? 0), String(tally.counts[.hang] ?? 0), String(tally.counts[.flood] ?? 0),
         String(format: "%.1f", Double(tally.inputs) / max(tally.seconds, 0.001))]
    }
    let total = rows.reduce(Tally()) { sum, row in
        var sum = sum
        sum.inputs += row.1.inputs
        for (kind, count) in row.1.counts { sum.counts[kind, default: 0] += count }
        return sum
    }
    let all = lines + [["total", String(total.inputs)] + [Outcome.Kind.accepted, .cleanError, .crash, .hang, .flood].map { String(total.counts[$0] ?? 0) } + [""]]
    let widths = header.indices.map { column in ([header] + all).map { $0[column].count }.max() ?? 0 }
    func render(_ cells: [String]) -> String {
        cells.enumerated().map { $0.offset == 0 ? $0.element.padding(toLength: widths[0], withPad: " ", startingAt: 0)
            : String(repeating: " ", count: widths[$0.offset] - $0.element.count) + $0.element }.joined(separator: "  ")
    }
    print("corrsteer-fuzz cli: seed \(seed), \(String(format: "%.0f", seconds)) s")
    print(render(header))
    for line in all { print(render(line)) }
}

func replay(_ options: Options, format: FuzzFormat) throws -> Bool {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("corrsteer-fuzz-replay-\(getpid())")
    defer { try? FileManager.default.removeItem(at: work) }
    let runner = CommandRunner(binary: URL(fileURLWithPath: options.binary).standardizedFileURL.path, timeout: max(options.timeout, 60), memoryLimitMB: options.memoryMB)
    let pristine = work.appendingPathComponent("pristine")
    try Setup.prepare(in: pristine, repo: URL(fileURLWithPath: options.repo), runner: runner)
    var clean = true
    for path in options.inputs {
        let caseFolder = work.appendingPathComponent("case")
        try Setup.makeCase(format, pristine: pristine, at: caseFolder)
        try Setup.install(Array(try Data(contentsOf: URL(fileURLWithPath: path))), for: format, in: caseFolder)
        let outcome = runner.run(format.arguments, in: caseFolder, stdin: format.stdin)
        print("\(path): \(outcome.kind.rawValue) (\(outcome.status))\n\(outcome.stderr)")
        if outcome.kind == .crash, let stack = runner.gdbStack(format.arguments, in: caseFolder, stdin: format.stdin) {
            print("gdb stack:\n\(stack)")
        }
        clean = clean && (outcome.kind == .accepted || outcome.kind == .cleanError)
    }
    return clean
}

do {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    let selected = options.formats.isEmpty ? Setup.formats : try options.formats.map { name in
        guard let format = Setup.formats.first(where: { $0.name == name }) else {
            throw SetupError("unknown format \(name); `corrsteer-fuzz list` names them")
        }
        return format
    }
    switch options.mode {
    case "cli": exit(try fuzz(options, formats: selected) ? 0 : 1)
    case "replay":
        guard selected.count == 1, !options.inputs.isEmpty else { throw SetupError("replay needs one --format and at least one input file") }
        exit(try replay(options, format: selected[0]) ? 0 : 1)
    case "list":
        for format in Setup.formats { print("\(format.name): \(format.target) → corrsteer \(format.arguments.joined(separator: " "))") }
    default:
        print("usage: corrsteer-fuzz cli|replay|list [options]; see scripts/fuzz/README.md")
    }
} catch {
    FileHandle.standardError.write(Data("corrsteer-fuzz: \(error)\n".utf8))
    exit(2)
}
