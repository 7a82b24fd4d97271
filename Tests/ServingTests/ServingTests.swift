import AsyncHTTPClient
import CorrSteer
import Foundation
import LanguageModels
import Serving
import XCTest

/// `corrsteer serve` over real HTTP on loopback: every greedy output is checked against the library's
/// generate path (`Generator` with a `SteeringHook`, what `corrsteer generate --plan` runs).
final class ServingTests: XCTestCase {
    static let prompts = ["Request: Tell me a joke.\nResponse:", "Request: Write a poem about rain.\nResponse:",
                          "Request: Help me move house.\nResponse:", "Request: Hi there.\nResponse:"]

    private func prompt(_ text: String) -> [Int] { ServerHarness.shared.tokenizer.encode(text) }

    func testCompletionsEqualGenerateWithAndWithoutPlans() async throws {
        let server = try await ServerHarness()
        do {
            var differs = false
            for text in Self.prompts.prefix(2) {
                let plain = try ServerHarness.reference(prompt(text), maxTokens: 12, plan: nil)
                for (name, plan, positions) in [("one", "one", PositionMode.generation), ("run/A", "three", .generation), ("run/A", "three", .all)] {
                    let expected = try ServerHarness.reference(prompt(text), maxTokens: 12, plan: ServerHarness.plans[plan], positions: positions)
                    let reply = try await server.post("/v1/completions", [
                        "model": "demo", "prompt": text, "max_tokens": 12, "temperature": 0,
                        "steering": ["plan": name, "positions": positions.rawValue],
                    ])
                    XCTAssertEqual(reply.status, 200, reply.text)
                    let choice = (reply.json["choices"] as? [[String: Any]])?.first
                    XCTAssertEqual(choice?["text"] as? String, expected.text, "\(name) \(positions) on \(text)")
                    XCTAssertEqual((reply.json["usage"] as? [String: Any])?["completion_tokens"] as? Int, expected.tokens.count)
                    XCTAssertEqual((reply.json["usage"] as? [String: Any])?["prompt_tokens"] as? Int, prompt(text).count)
                    if expected.tokens != plain.tokens { differs = true }
                }
                let reply = try await server.post("/v1/completions", ["prompt": text, "max_tokens": 12, "temperature": 0])
                let choice = (reply.json["choices"] as? [[String: Any]])?.first
                XCTAssertEqual(choice?["text"] as? String, plain.text)
                let eos = Set(ServerHarness.shared.model.config.eosTokenIDs)
                XCTAssertEqual(choice?["finish_reason"] as? String, eos.contains(plain.tokens.last ?? -1) ? "stop" : "length")
            }
            // Otherwise the comparisons above could not tell steered from unsteered requests apart.
            XCTAssertTrue(differs, "no plan changed any output")
        } catch { XCTFail("\(error)") }
        try await server.stop()
    }

    func testSixteenConcurrentMixedPlanClientsEqualSoloOutputs() async throws {
        let server = try await ServerHarness(maxBatch: 8)
        let cases: [(prompt: String, plan: String?, reference: String?)] = (0..<16).map { i in
            let options: [(String?, String?)] = [(nil, nil), ("one", "one"), ("run/A", "three")]
            let (plan, reference) = options[i % 3]
            return (Self.prompts[i % Self.prompts.count], plan, reference)
        }
        let expected = try cases.map { c in
            try ServerHarness.reference(prompt(c.prompt), maxTokens: 20, plan: c.reference.map { ServerHarness.plans[$0]! }, stops: [])
        }
        let texts = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            for (i, c) in cases.enumerated() {
                group.addTask {
                    var body: [String: Any] = ["prompt": c.prompt, "max_tokens": 20, "temperature": 0, "ignore_eos": true]
                    if let plan = c.plan { body["steering"] = ["plan": plan] }
                    let reply = try await server.post("/v1/completions", body)
                    return (i, ((reply.json["choices"] as? [[String: Any]])?.first?["text"] as? String))
                }
            }
            var texts = Array(repeating: String?.none, count: cases.count)
            for try await (i, text) in group { texts[i] = text }
            return texts
        }
        for i in cases.indices { XCTAssertEqual(texts[i], expected[i].text, "client \(i), plan \(cases[i].plan ?? "none")") }
        try await server.stop()
    }

    /// Requests admitted together are prefilled in one pass next to the decode rows of the others, all
    /// at once (a large prompt-row budget) or one prompt per step (budget 1); requests steering the last
    /// position and every position share passes. Each output still equals its solo `generate` output.
    func testBatchedAdmissionEqualsSoloOutputs() async throws {
        let (_, model, tokenizer) = ServerHarness.shared
        // Plan "three" scaled down: at full strength its outputs hardly depend on where or how strongly
        // it steers, so they could not show a vector added at the wrong rows or twice.
        let plans = [Float(0.1), 0.2].map { scale in
            var plan = ServerHarness.plans["three"]!
            plan.entries = plan.entries.map { entry in
                var entry = entry
                entry.vector = entry.vector.map { scale * $0 }
                return entry
            }
            return plan
        }
        var cases: [(prompt: String, plan: SteeringPlan?, all: Bool)] = Self.prompts.map { ($0, nil, false) }
        for prompt in Self.prompts {
            for plan in plans { cases += [(prompt, plan, false), (prompt, plan, true)] }
        }
        let expected = try cases.map { c in
            try ServerHarness.reference(prompt(c.prompt), maxTokens: 12, plan: c.plan, positions: c.all ? .all : .generation, stops: [])
        }
        XCTAssertTrue(cases.indices.contains { i in i + 1 < cases.count && !cases[i].all && cases[i + 1].all && expected[i].text != expected[i + 1].text },
                      "no case tells steering every position from steering the last one")
        for budget in [1, 512] {
            var options = Scheduler.Options()
            options.maxBatch = 4
            options.contextLength = 64
            options.prefillRowsPerStep = budget
            let scheduler = try Scheduler(model: model, tokenizer: tokenizer, options: options, metrics: ServingMetrics())
            // Queued before the decode thread starts, so the first step admits four at once.
            let jobs = try cases.map { c in
                try scheduler.submit(GenerationJob(prompt: prompt(c.prompt), maxTokens: 12,
                                                   steering: c.plan.map { SteeringVectors(sites: Self.sums($0), allPositions: c.all) }))
            }
            scheduler.start()
            for (i, job) in jobs.enumerated() {
                var text = ""
                var count = 0
                for await event in job.events {
                    switch event {
                    case let .text(delta, _): text += delta
                    case let .finished(_, _, completion): count = completion
                    case let .failed(error): XCTFail("\(error)")
                    }
                }
                XCTAssertEqual(text, expected[i].text, "budget \(budget), case \(i)")
                XCTAssertEqual(count, 12)
            }
            scheduler.shutdown()
        }
    }

    /// A plan's vectors summed per site in entry order, as `SteeringHook` (and the server's registry) sums them.
    private static func sums(_ plan: SteeringPlan) -> [HookSite: [Float]] {
        var sums: [HookSite: [Float]] = [:]
        for entry in plan.entries {
            let site = HookSite(name: entry.site)!
            if var sum = sums[site] {
                for i in sum.indices { sum[i] += entry.vector[i] }
                sums[site] = sum
            } else {
                sums[site] = entry.vector
            }
        }
        return sums
    }

    func testVectorsEqualThePlanWithTheSameFeatures() async throws {
        let server = try await ServerHarness()
        let text = Self.prompts[0]
        let expected = try ServerHarness.reference(prompt(text), maxTokens: 10, plan: ServerHarness.plans["one"])
        let reply = try await server.post("/v1/completions", [
            "prompt": text, "max_tokens": 10, "temperature": 0,
            "steering": ["vectors": [["layer": 1, "feature": 7, "coefficient": 40]]],
        ])
        XCTAssertEqual(reply.status, 200, reply.text)
        XCTAssertEqual((reply.json["choices"] as? [[String: Any]])?.first?["text"] as? String, expected.text)
        try await server.stop()
    }

    func testStreamingCompletionAndChat() async throws {
        let server = try await ServerHarness()
        let text = Self.prompts[1]
        let expected = try ServerHarness.reference(prompt(text), maxTokens: 15, plan: ServerHarness.plans["one"], stops: [])
        let reply = try await server.post("/v1/completions", [
            "prompt": text, "max_tokens": 15, "temperature": 0, "stream": true, "ignore_eos": true,
            "steering": ["plan": "one"], "stream_options": ["include_usage": true],
        ])
        XCTAssertEqual(reply.status, 200)
        XCTAssertEqual(reply.headers["content-type"], "text/event-stream")
        let events = ServerHarness.events(reply.text)
        XCTAssertEqual(events.last, "[DONE]")
        let chunks = events.dropLast().map { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? [:] }
        let joined = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["text"] as? String }.joined()
        XCTAssertEqual(joined, expected.text)
        XCTAssertEqual(chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }, ["length"])
        XCTAssertEqual((chunks.last?["usage"] as? [String: Any])?["completion_tokens"] as? Int, 15)

        // Chat: the prompt is the model's chat format; streamed deltas add up to the whole answer.
        let messages = [["role": "user", "content": "Tell me a joke."]]
        let rendered = try ServerHarness.shared.tokenizer.renderChat([.user("Tell me a joke.")], addGenerationPrompt: true)
        let chatPrompt = ServerHarness.shared.tokenizer.encode(rendered, addSpecialTokens: false)
        let chatExpected = try ServerHarness.reference(chatPrompt, maxTokens: 8, plan: nil, stops: [])
        let whole = try await server.post("/v1/chat/completions", ["messages": messages, "max_tokens": 8, "temperature": 0, "ignore_eos": true])
        XCTAssertEqual(whole.status, 200, whole.text)
        let message = (whole.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any]
        XCTAssertEqual(message?["role"] as? String, "assistant")
        XCTAssertEqual(message?["content"] as? String, chatExpected.text)
        XCTAssertEqual(whole.json["object"] as? String, "chat.completion")
        let streamed = try await server.post("/v1/chat/completions", ["messages": messages, "max_tokens": 8, "temperature": 0, "ignore_eos": true, "stream": true])
        let chatEvents = ServerHarness.events(streamed.text)
        XCTAssertEqual(chatEvents.last, "[DONE]")
        let deltas = chatEvents.dropLast().compactMap { event -> String? in
            let object = (try? JSONSerialization.jsonObject(with: Data(event.utf8))) as? [String: Any]
            return ((object?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String
        }
        XCTAssertEqual(deltas.joined(), chatExpected.text)
        try await server.stop()
    }

    func testLogprobsAreLogSoftmaxOfTheLogits() async throws {
        let server = try await ServerHarness()
        let text = Self.prompts[2]
        let reply = try await server.post("/v1/completions", ["prompt": text, "max_tokens": 1, "temperature": 0, "logprobs": 3])
        let logprobs = (reply.json["choices"] as? [[String: Any]])?.first?["logprobs"] as? [String: Any]
        let (_, model, tokenizer) = ServerHarness.shared
        let logits = try Generator(model: model).forward(tokens: [prompt(text)])[0].floats()
        let top = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(3)
        let m = Double(logits.max()!)
        let logZ = m + log(logits.reduce(0.0) { $0 + exp(Double($1) - m) })
        let expectedTop = Dictionary(uniqueKeysWithValues: top.map { (tokenizer.decode([$0]), Double(logits[$0]) - logZ) })
        let got = (logprobs?["top_logprobs"] as? [[String: Double]])?.first ?? [:]
        XCTAssertEqual(Set(got.keys), Set(expectedTop.keys))
        for (token, value) in expectedTop { XCTAssertEqual(got[token] ?? 0, value, accuracy: 1e-4, token) }
        XCTAssertEqual((logprobs?["token_logprobs"] as? [Double])?.first ?? 0, Double(logits[top.first!]) - logZ, accuracy: 1e-4)
        try await server.stop()
    }

    func testFullQueueAnswers429WithRetryAfter() async throws {
        // One slot, one queue place: a running request and a waiting one fill the server.
        let server = try await ServerHarness(maxBatch: 1, maxQueue: 1, contextLength: 4096)
        let long: [String: Any] = ["prompt": Self.prompts[0], "max_tokens": 4000, "temperature": 0, "ignore_eos": true]
        let first = Task { try await server.post("/v1/completions", long) }
        let second = Task { try await server.post("/v1/completions", long) }
        try await waitUntil { let load = try await server.get("/health").json; return load["running"] as? String == "1" && load["queued"] as? String == "1" }
        let third = try await server.post("/v1/completions", long)
        XCTAssertEqual(third.status, 429, third.text)
        XCTAssertEqual(third.headers["retry-after"], "1")
        XCTAssertEqual((third.json["error"] as? [String: Any])?["type"] as? String, "rate_limit_error")
        first.cancel()
        second.cancel()
        try await server.stop()
    }

    /// What a disconnect triggers (the streaming response cancels its job when a write fails or its task
    /// is cancelled): the slot is free at the next step, long before the job's max_tokens.
    func testCancellingAJobFreesItsSlotAtOnce() async throws {
        let server = try await ServerHarness(maxBatch: 1, contextLength: 4096)
        let job = try server.scheduler.submit(GenerationJob(prompt: prompt(Self.prompts[0]), maxTokens: 4000))
        var iterator = job.events.makeAsyncIterator()
        _ = await iterator.next()
        server.scheduler.cancel(job.id)
        try await waitUntil { server.scheduler.load.running == 0 }
        let reply = try await server.post("/v1/completions", ["prompt": Self.prompts[3], "max_tokens": 3, "temperature": 0])
        XCTAssertEqual(reply.status, 200)
        XCTAssertLessThan(server.generatedTokens(), 2000)
        try await server.stop()
    }

    /// A client that closes its connection mid-request frees its slot at once, streaming or not: the
    /// request would run for 4000 tokens, and nothing but the disconnect can end it early.
    func testClientDisconnectFreesItsSlot() async throws {
        for stream in [false, true] {
            let server = try await ServerHarness(maxBatch: 1, contextLength: 4096)
            let maxTokens = 4000
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/v1/completions")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(Array(json(["prompt": Self.prompts[0], "max_tokens": maxTokens, "temperature": 0,
                                              "ignore_eos": true, "stream": stream])))
            let (firstChunk, gotChunk) = AsyncStream<Void>.makeStream()
            let client = Task {
                let response = try await server.client.execute(request, timeout: .seconds(60))
                for try await _ in response.body { gotChunk.yield() }
            }
            if stream {
                var chunks = firstChunk.makeAsyncIterator()
                _ = await chunks.next()
            } else {
                try await waitUntil { server.generatedTokens() >= 1 }
            }
            XCTAssertEqual(server.scheduler.load.running, 1, "stream: \(stream)")
            // Cancelling AsyncHTTPClient's request closes its connection.
            client.cancel()
            try await waitUntil { server.scheduler.load.running == 0 }
            let generated = server.generatedTokens()
            XCTAssertLessThan(generated, Double(maxTokens) / 2, "stream: \(stream)")
            // The freed slot serves the next request.
            let reply = try await server.post("/v1/completions", ["prompt": Self.prompts[3], "max_tokens": 3, "temperature": 0, "ignore_eos": true])
            XCTAssertEqual(reply.status, 200, reply.text)
            XCTAssertEqual(server.generatedTokens() - generated, 3, "stream: \(stream)")
            try await server.stop()
        }
    }

    func testBadRequestsGetOneClearError() async throws {
        var limits = RequestLimits()
        limits.maxBodyBytes = 4096
        limits.maxTokens = 64
        let server = try await ServerHarness(limits: limits)
        let prompt = Self.prompts[0]
        let cases: [(body: Data, status: Int, says: String)] = [
            (Data("{\"prompt\": ".utf8), 400, "not valid JSON"),
            (json(["max_tokens": 4]), 400, "missing field 'prompt'"),
            (json(["prompt": prompt, "max_tokens": "many"]), 400, "max_tokens"),
            (json(["prompt": prompt, "max_tokens": 65]), 400, "max_tokens 65 is more than this server allows (64)"),
            (json(["prompt": prompt, "max_tokens": 0]), 400, "max_tokens must be at least 1"),
            (json(["prompt": prompt, "temperature": -1]), 400, "temperature"),
            (json(["prompt": [1, 2, 99999]]), 400, "prompt token id 99999"),
            (json(["prompt": prompt, "steering": ["plan": "nope"]]), 400, "unknown steering plan 'nope'"),
            (json(["prompt": prompt, "steering": ["plan": "../plans/A.json"]]), 400, "unknown steering plan"),
            (json(["prompt": prompt, "steering": ["vectors": [["layer": 9, "feature": 1, "coefficient": 1]]]]), 400, "layer 9 does not exist"),
            (json(["prompt": prompt, "steering": ["vectors": [["layer": 1, "feature": 512, "coefficient": 1]]]]), 400, "feature 512 does not exist at layer 1"),
            (json(["prompt": prompt, "steering": ["plan": "one", "positions": "some"]]), 400, "steering.positions"),
            (json(["prompt": prompt, "model": "gpt-4"]), 404, "the model 'gpt-4' does not exist"),
            (json(["prompt": String(repeating: "x", count: 5000)]), 413, "larger than 4096 bytes"),
        ]
        for c in cases {
            let reply = try await server.post("/v1/completions", raw: c.body)
            XCTAssertEqual(reply.status, c.status, reply.text)
            let message = (reply.json["error"] as? [String: Any])?["message"] as? String ?? ""
            XCTAssertTrue(message.contains(c.says), "\(message) should say \(c.says)")
        }
        let chat = try await server.post("/v1/chat/completions", ["messages": [["role": "system", "content": "x"]]])
        XCTAssertEqual(chat.status, 400, chat.text)
        XCTAssertEqual(server.scheduler.load.running + server.scheduler.load.queued, 0)
        try await server.stop()
    }

    func testListingsHealthAndMetrics() async throws {
        let server = try await ServerHarness()
        let models = try await server.get("/v1/models").json
        XCTAssertEqual((models["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, ["demo"])
        let plans = try await server.get("/v1/steering/plans").json["data"] as? [[String: Any]] ?? []
        XCTAssertEqual(plans.compactMap { $0["name"] as? String }, ["one", "run/A"])
        XCTAssertEqual(plans.last?["layers"] as? [Int], [0, 2])
        XCTAssertEqual((plans.first?["entries"] as? [[String: Any]])?.first?["feature"] as? Int, 7)
        let health = try await server.get("/health").json
        XCTAssertEqual(health["status"] as? String, "ok")
        _ = try await server.post("/v1/completions", ["prompt": Self.prompts[0], "max_tokens": 2])
        let metrics = try await server.get("/metrics").text
        XCTAssertTrue(metrics.contains("corrsteer_requests_total 1"), metrics)
        XCTAssertTrue(metrics.contains("corrsteer_request_duration_seconds_bucket"), metrics)
        // The exposed names are an interface (dashboards, alerts): every one, with its help line.
        for name in ["corrsteer_requests_total", "corrsteer_requests_rejected_total", "corrsteer_generated_tokens_total",
                     "corrsteer_prompt_tokens_total", "corrsteer_queued_requests", "corrsteer_running_requests",
                     "corrsteer_request_duration_seconds"] {
            XCTAssertTrue(metrics.contains("# HELP \(name) "), "no help line for \(name) in\n\(metrics)")
        }
        try await server.stop()
    }

    private func json(_ object: [String: Any]) -> Data { try! JSONSerialization.data(withJSONObject: object) }

    private func waitUntil(_ condition: () async throws -> Bool) async throws {
        for _ in 0..<500 {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTFail("condition not reached within 5 s")
    }
}
