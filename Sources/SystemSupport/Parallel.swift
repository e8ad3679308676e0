import Dispatch
import Foundation
import Synchronization

/// The one way imagegen does several things at once.
///
/// - `map` runs blocking work (hashing, compressing, unpacking) on up to `width` threads and
///   blocks its caller; from async code wrap it in `offPool`, which moves it off the cooperative
///   pool so that a long layer does not hold one of its few threads.
/// - `asyncMap` runs async work (network transfers) as up to `width` child tasks.
/// - `pipeline` runs the stages of a stream (read, decompress, parse) at once, each on a
///   thread of its own, joined by bounded queues.
///
/// Both keep the items' order in their results, start nothing new once an item failed, and
/// throw the failure of the first failed item in the items' order, so that what a user is told
/// does not depend on which thread finished first.
public enum Parallel {
    /// One per core: how wide CPU-bound work goes unless told.
    public static var processorCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// `body` applied to every item, at most `width` at a time on threads of their own; the
    /// calling thread waits. Items are taken in order.
    public static func map<T: Sendable, R: Sendable, E: Error>(
        _ items: [T], width: Int, _ body: @Sendable (T) throws(E) -> R
    ) throws(E) -> [R] {
        guard !items.isEmpty else { return [] }
        let results = Mutex<[Int: Result<R, E>]>([:])
        let next = Mutex(0)
        let failed = Atomic<Bool>(false)
        let workers = max(1, min(width, items.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while !failed.load(ordering: .relaxed) {
                let position = next.withLock { value -> Int in
                    defer { value += 1 }
                    return value
                }
                guard position < items.count else { return }
                let outcome = Result { () throws(E) -> R in try body(items[position]) }
                if case .failure = outcome { failed.store(true, ordering: .relaxed) }
                results.withLock { $0[position] = outcome }
            }
        }
        // Items are taken in order, so those never started come after every one taken, the
        // failed one included: the first failure in order is met before them.
        let all = results.withLock { $0 }
        var mapped: [R] = []
        mapped.reserveCapacity(items.count)
        for position in items.indices {
            guard let outcome = all[position] else { break }
            mapped.append(try outcome.get())
        }
        return mapped
    }

    /// `map` for work that returns nothing.
    public static func forEach<T: Sendable, E: Error>(_ items: [T], width: Int, _ body: @Sendable (T) throws(E) -> Void) throws(E) {
        _ = try map(items, width: width, body)
    }

    /// Runs blocking `body` on a thread of its own and waits for it without holding a thread of
    /// the cooperative pool. Not a dispatch thread either: libdispatch's pool is narrow on
    /// Linux, and work that blocks for minutes there (a layer, apt, pip) starves everything else
    /// that waits for it, a cancellation included.
    public static func offPool<R: Sendable>(_ body: @escaping @Sendable () throws -> R) async throws -> R {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// Runs `body` on the calling thread while every one of `stages` runs on a thread of its own,
    /// as the stages of a pipeline run, and returns what `body` returns once every stage has
    /// returned too.
    ///
    /// Threads of their own, not a pool's: stages wait on one another (a bounded queue between
    /// them), and a pool narrower than the pipeline would leave a stage waiting for one that
    /// never starts. `body` must see to it that every stage ends — drain what they put, stop the
    /// process they feed — before it returns or throws: the call waits for them either way.
    public static func pipeline<R>(_ stages: [@Sendable () -> Void], _ body: () throws -> R) rethrows -> R {
        let finished = DispatchGroup()
        for stage in stages {
            finished.enter()
            Thread {
                stage()
                finished.leave()
            }.start()
        }
        defer { finished.wait() }
        return try body()
    }

    /// `body` applied to every item as child tasks, at most `width` at once; the first failure
    /// cancels the tasks still running.
    public static func asyncMap<T: Sendable, R: Sendable>(
        _ items: [T], width: Int, _ body: @escaping @Sendable (T) async throws -> R
    ) async throws -> [R] {
        try await withThrowingTaskGroup(of: (Int, Result<R, any Error>).self) { group in
            var results: [Result<R, any Error>?] = Array(repeating: nil, count: items.count)
            var next = 0
            var failed = false
            func startNext() {
                guard next < items.count, !failed else { return }
                let position = next
                let item = items[position]
                next += 1
                group.addTask {
                    do { return (position, .success(try await body(item))) } catch { return (position, .failure(error)) }
                }
            }
            for _ in 0..<max(1, width) { startNext() }
            while let (position, outcome) = try await group.next() {
                results[position] = outcome
                if case .failure = outcome, !failed {
                    failed = true
                    group.cancelAll()
                }
                startNext()
            }
            // The first failure in order, but not one that only says it was cancelled because of it.
            let failures = results.compactMap { outcome -> (any Error)? in
                if case .failure(let error)? = outcome { error } else { nil }
            }
            if let failure = failures.first(where: { !($0 is CancellationError) }) ?? failures.first { throw failure }
            return try results.compactMap { try $0?.get() }
        }
    }

    /// `asyncMap` for work that returns nothing.
    public static func asyncForEach<T: Sendable>(
        _ items: [T], width: Int, _ body: @escaping @Sendable (T) async throws -> Void
    ) async throws {
        _ = try await asyncMap(items, width: width, body)
    }
}
