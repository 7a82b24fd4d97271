import Tasks
import XCTest

/// `--scorer-command`: JSONL in, JSONL out, with clear errors for scorers that crash, hang or answer badly.
/// The scorers are /bin/sh scripts using only sed and cat.
final class ExternalScorerTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try TestSupport.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private let items = [
        ScoringItem(id: "a", prompt: "Q: 1+1?\nA:", output: "yes", gold: "2"),
        ScoringItem(id: "b", prompt: "Q: \"quoted\"?", output: "no", gold: "x"),
        ScoringItem(id: "c", prompt: "p", output: "yes", gold: "y"),
    ]

    /// Scores 1 when the output is "yes", 0 otherwise, answering in reverse order.
    private func workingScorer() throws -> String {
        try TestSupport.script(#"""
        sed -E -e 's/.*"id":"([^"]*)".*"output":"yes".*/{"id": "\1", "score": 1}/' \
               -e 's/.*"id":"([^"]*)".*"output":"[^"]*".*/{"id": "\1", "score": 0.0}/' | sed -n '1!G;h;$p'
        """#, in: directory).path
    }

    func testScorerReceivesEveryItemAndScoresAreMatchedById() throws {
        let scorer = ExternalCommandScorer(command: try workingScorer(), timeout: 30)
        XCTAssertEqual(try scorer.score(items), [1, 0, 1])
        XCTAssertEqual(try scorer.score([]), [])
    }

    func testScorerInputIsOneJSONObjectPerItem() throws {
        let capture = directory.appendingPathComponent("input.jsonl")
        let script = try TestSupport.script(#"cat > "\#(capture.path)"; echo '{"id":"a","score":1}'; echo '{"id":"b","score":0}'; echo '{"id":"c","score":0.5}'"#, in: directory)
        XCTAssertEqual(try ExternalCommandScorer(command: script.path).score(items), [1, 0, 0.5])
        let lines = try String(contentsOf: capture, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        let decoded = try lines.map { try JSONDecoder().decode(ScoringItem.self, from: Data($0.utf8)) }
        XCTAssertEqual(decoded, items)
    }

    func testCrashingScorerReportsStatusAndStderr() throws {
        let script = try TestSupport.script("cat > /dev/null; echo 'model not found' >&2; exit 3", in: directory)
        XCTAssertThrowsError(try ExternalCommandScorer(command: script.path).score(items)) { error in
            XCTAssertEqual(String(describing: error),
                           "scorer command `\(script.path)` failed: exited with status 3; stderr: model not found")
        }
    }

    func testScorerThatExitsWithoutReadingIsAnErrorNotACrash() throws {
        let big = (0..<2000).map { ScoringItem(id: "\($0)", prompt: String(repeating: "p", count: 500), output: "o", gold: "g") }
        XCTAssertThrowsError(try ExternalCommandScorer(command: "exit 0").score(big)) { error in
            XCTAssertEqual(String(describing: error), "scorer command `exit 0` failed: it scored 0 of 2000 items; no score for id '0' and 1999 more")
        }
    }

    func testHangingScorerIsKilledAfterTheTimeout() throws {
        let script = try TestSupport.script("sleep 30", in: directory)
        let start = Date()
        XCTAssertThrowsError(try ExternalCommandScorer(command: script.path, timeout: 1).score(items)) { error in
            XCTAssertEqual(error as? TaskError, .scorerTimedOut(command: script.path, seconds: 1))
            XCTAssertEqual(String(describing: error), "scorer command `\(script.path)` did not finish within 1 s and was killed")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 20, "the sleeping child must not keep the call waiting")
    }

    func testMalformedAnswers() throws {
        let cases: [(String, String)] = [
            (#"echo 'score: 1'"#, "output line 1: not JSON: score: 1"),
            (#"echo '{"id":"a","score":1}'; echo '[1]'"#, "output line 2: not a JSON object: [1]"),
            (#"echo '{"score":1}'"#, #"output line 1: missing string field 'id': {"score":1}"#),
            (#"echo '{"id":"a"}'"#, "output line 1: missing numeric field 'score' for id 'a'"),
            (#"echo '{"id":"a","score":"high"}'"#, "output line 1: missing numeric field 'score' for id 'a'"),
            (#"echo '{"id":"a","score":1.5}'"#, "output line 1: score 1.5 for id 'a' is outside [0, 1]"),
            (#"echo '{"id":"zzz","score":1}'"#, "output line 1: id 'zzz' was not among the items sent"),
            (#"echo '{"id":"a","score":1}'; echo; echo '{"id":"a","score":0}'"#, "output line 3: id 'a' was scored twice"),
        ]
        for (body, message) in cases {
            let script = try TestSupport.script("cat > /dev/null; " + body, in: directory)
            XCTAssertThrowsError(try ExternalCommandScorer(command: script.path).score(items), body) { error in
                XCTAssertEqual(String(describing: error), "scorer command `\(script.path)`: \(message)")
            }
        }
        let partial = try TestSupport.script(#"cat > /dev/null; echo '{"id":"b","score":true}'"#, in: directory)
        XCTAssertThrowsError(try ExternalCommandScorer(command: partial.path).score(items)) { error in
            XCTAssertEqual(String(describing: error), "scorer command `\(partial.path)` failed: it scored 1 of 3 items; no score for id 'a' and 1 more")
        }
    }

    func testAFailedCallLeavesNothingBehindSoTheSameItemsCanBeScoredAgain() throws {
        // A run that hit a broken scorer resumes by scoring the same batch again with a fixed one.
        let flag = directory.appendingPathComponent("fixed")
        let script = try TestSupport.script("""
        if [ ! -f "\(flag.path)" ]; then cat > /dev/null; echo broken >&2; exit 1; fi
        sed -E 's/.*"id":"([^"]*)".*/{"id":"\\1","score":1}/'
        """, in: directory)
        let scorer = ExternalCommandScorer(command: script.path, timeout: 30)
        XCTAssertThrowsError(try scorer.score(items))
        try TestSupport.write("", to: flag)
        XCTAssertEqual(try scorer.score(items), [1, 1, 1])
    }

    func testTaskOptionsSelectTheExternalScorer() throws {
        var options = TaskOptions()
        options.scorerCommand = try workingScorer()
        options.scorerTimeout = 30
        options.testLimit = 3
        let task = try TaskCatalog.load(task: "harmbench", dataDirectory: TestSupport.sharedData, options: options)
        XCTAssertEqual(task.scorerDescription, "external: \(options.scorerCommand!)")
        XCTAssertEqual(try task.score(task.splits.test, outputs: ["yes", "no", "yes"]), [1, 0, 1])
    }
}

/// `persistent`: one scorer process answers batch after batch (each ended by an empty line).
final class PersistentScorerTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try TestSupport.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func batch(_ ids: [String]) -> [ScoringItem] {
        ids.map { ScoringItem(id: $0, prompt: "p", output: $0.hasPrefix("y") ? "yes" : "no", gold: "g") }
    }

    /// Answers each line at once; records every start in `starts`. `extra` runs before the loop.
    private func lineScorer(extra: String = "") throws -> (command: String, starts: URL) {
        let starts = directory.appendingPathComponent("starts")
        let script = try TestSupport.script(#"""
        echo start >> "\#(starts.path)"
        \#(extra)
        while IFS= read -r line; do
          [ -z "$line" ] && continue
          id=$(printf '%s\n' "$line" | sed -E 's/.*"id":"([^"]*)".*/\1/')
          case "$line" in *'"output":"yes"'*) s=1 ;; *) s=0 ;; esac
          case "$id" in die*) exit 7 ;; esac
          printf '{"id":"%s","score":%s}\n' "$id" "$s"
        done
        """#, in: directory)
        return (script.path, starts)
    }

    private func startCount(_ url: URL) throws -> Int {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").count
    }

    func testOneProcessServesEveryBatch() throws {
        let (command, starts) = try lineScorer()
        let scorer = ExternalCommandScorer(command: command, timeout: 30, persistent: true)
        XCTAssertEqual(try scorer.score(batch(["y1", "n1", "y2"])), [1, 0, 1])
        XCTAssertEqual(try scorer.score(batch(["n2"])), [0])
        XCTAssertEqual(try scorer.score(batch(["y3", "y4"])), [1, 1])
        XCTAssertEqual(try startCount(starts), 1)
    }

    func testAProcessThatDiesIsReportedAndRestarted() throws {
        let (command, starts) = try lineScorer(extra: "echo 'cuda out of memory' >&2")
        let scorer = ExternalCommandScorer(command: command, timeout: 30, persistent: true)
        XCTAssertEqual(try scorer.score(batch(["y1"])), [1])
        XCTAssertThrowsError(try scorer.score(batch(["y2", "die", "y3"]))) { error in
            XCTAssertEqual(String(describing: error),
                           "scorer command `\(command)` failed: exited with status 7 before scoring all 3 items; stderr: cuda out of memory")
        }
        XCTAssertEqual(try scorer.score(batch(["y2", "n3"])), [1, 0], "the next call starts a new process")
        XCTAssertEqual(try startCount(starts), 2)
    }

    func testASilentProcessTimesOutAndIsReplaced() throws {
        let starts = directory.appendingPathComponent("starts")
        let silent = try TestSupport.script(#"echo start >> "\#(starts.path)"; cat > /dev/null"#, in: directory)
        let scorer = ExternalCommandScorer(command: silent.path, timeout: 1, persistent: true)
        XCTAssertThrowsError(try scorer.score(batch(["y1"]))) { error in
            XCTAssertEqual(error as? TaskError, .scorerTimedOut(command: silent.path, seconds: 1))
        }
        XCTAssertThrowsError(try scorer.score(batch(["y1"])))
        XCTAssertEqual(try startCount(starts), 2)
    }

    func testAMalformedAnswerResetsTheProcess() throws {
        let (command, starts) = try lineScorer(extra: #"read -r first; echo "not json""#)
        let scorer = ExternalCommandScorer(command: command, timeout: 30, persistent: true)
        XCTAssertThrowsError(try scorer.score(batch(["y1"]))) { error in
            XCTAssertEqual(String(describing: error), "scorer command `\(command)`: output line 1: not JSON: not json")
        }
        XCTAssertThrowsError(try scorer.score(batch(["y1"])), "restarted, and the new process misbehaves the same way")
        XCTAssertEqual(try startCount(starts), 2)
    }
}
