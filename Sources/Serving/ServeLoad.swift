import Foundation
import LanguageModels

/// Throughput and latency of the scheduler under N concurrent clients, each sending requests one after
/// another (in process: what continuous batching gives, without HTTP, whose cost is negligible beside a
/// decode step).
public struct ServeLoadResult: Codable, Sendable {
    public var clients: Int
    public var requests: Int
    public var generatedTokens: Int
    public var seconds: Double
    public var tokensPerSecond: Double
    /// Request latency, acceptance to last token.
    public var p50Seconds: Double
    public var p99Seconds: Double
}

public enum ServeLoad {
    /// Runs `clients` clients, each sending `requestsPerClient` greedy requests of `maxTokens` tokens
    /// (EOS ignored) with prompt `prompts[i % count]` and steering `steerings[i % count]` for client i.
    public static func run(scheduler: Scheduler, clients: Int, requestsPerClient: Int, prompts: [[Int]], maxTokens: Int,
                           steerings: [SteeringVectors?]) async throws -> ServeLoadResult {
        precondition(!prompts.isEmpty && !steerings.isEmpty, "ServeLoad needs prompts and steerings")
        let start = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [(Double, Int)].self) { group in
            for client in 0..<clients {
                group.addTask {
                    var done: [(Double, Int)] = []
                    for r in 0..<requestsPerClient {
                        let job = GenerationJob(prompt: prompts[(client + r * clients) % prompts.count], maxTokens: maxTokens,
                                                steering: steerings[client % steerings.count])
                        let began = ContinuousClock.now
                        var tokens = 0
                        for await event in try scheduler.submit(job).events {
                            switch event {
                            case .text: break
                            case let .finished(_, _, completion): tokens = completion
                            case let .failed(error): throw error
                            }
                        }
                        done.append((seconds(ContinuousClock.now - began), tokens))
                    }
                    return done
                }
            }
            var all: [(Double, Int)] = []
            for try await part in group { all += part }
            return all
        }
        let total = seconds(ContinuousClock.now - start)
        let sorted = latencies.map(\.0).sorted()
        func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)] }
        let tokens = latencies.map(\.1).reduce(0, +)
        return ServeLoadResult(clients: clients, requests: latencies.count, generatedTokens: tokens, seconds: total,
                               tokensPerSecond: Double(tokens) / total, p50Seconds: percentile(0.5), p99Seconds: percentile(0.99))
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
