import Synchronization

/// One unit of work whose bytes a long step counts: a download, a layer being packed, a blob
/// being sent. The library names it; a front end (the CLI's renderer) draws it.
public struct ProgressItem: Hashable, Sendable, CustomStringConvertible {
    /// The kind of work, in the order a build meets them.
    public enum Phase: String, Hashable, Sendable, CaseIterable {
        /// Artifacts downloaded (from a mirror, by apt, by pip).
        case fetch
        /// Downloaded artifacts hashed against the lock.
        case verify
        /// A layer's tree written as a tar and compressed.
        case pack
        /// Blobs sent to a registry.
        case push
        /// Blobs received from a registry.
        case pull
    }

    /// The kind of work.
    public var phase: Phase
    /// What is worked on, as people read it: `pip`, `cuda`, `3f2a9c1b04de`.
    public var name: String

    /// An item of `phase` called `name`.
    public init(_ phase: Phase, _ name: String) {
        self.phase = phase
        self.name = name
    }

    /// `fetch pip`.
    public var description: String { "\(phase.rawValue) \(name)" }
}

/// What a long step of the library reports while it runs: lines for people, and the bytes of
/// the items it works on. An item is `started`, `advanced` any number of times, then `finished`;
/// an item that fails is never finished (the error says what happened).
public enum ProgressEvent: Hashable, Sendable {
    /// A line for people, said once: `layer cuda: reused 3f2a9c1b04de`, `apt: fetched 12 debs`.
    case note(String)
    /// `item` began; `total` is the bytes it will have done, when known.
    case started(ProgressItem, total: Int64?)
    /// `item` has done `done` bytes since it started (never fewer than it said before) of
    /// `total`, when known (a total can become known, or change, while it runs).
    case advanced(ProgressItem, done: Int64, total: Int64?)
    /// `item` ended having done `done` bytes: its whole total, or fewer when most of it needed
    /// no work (a blob the registry had already).
    case finished(ProgressItem, done: Int64)
}

/// Where the library sends its ``ProgressEvent``s. Called from any thread or task, in the order
/// the events happen for each item; the handler must be quick (it runs on the worker's thread).
public struct ProgressSink: Sendable {
    private let handler: @Sendable (ProgressEvent) -> Void

    /// A sink that hands every event to `handler`.
    public init(_ handler: @escaping @Sendable (ProgressEvent) -> Void) {
        self.handler = handler
    }

    /// A sink that hands the notes to `line` and drops the counts: for callers that print lines.
    public init(notes line: @escaping @Sendable (String) -> Void) {
        self.handler = { event in
            if case .note(let text) = event { line(text) }
        }
    }

    /// A sink that drops everything.
    public static var none: ProgressSink { ProgressSink { (_: ProgressEvent) in } }

    /// Sends `event`.
    public func callAsFunction(_ event: ProgressEvent) { handler(event) }

    /// Sends `line` as a ``ProgressEvent/note(_:)``.
    public func callAsFunction(_ line: String) { handler(.note(line)) }

    /// The notes as a line handler, for the APIs that take one.
    public var notes: @Sendable (String) -> Void {
        let handler = handler
        return { handler(.note($0)) }
    }
}

/// The running count of one ``ProgressItem``, fed from any thread: it sends `started` when made,
/// `advanced` as bytes are added, and `finished` once. The count never goes past a known total
/// (an upload that is retried sends some bytes twice).
public final class ProgressCounter: Sendable {
    /// The item counted.
    public let item: ProgressItem
    private let sink: ProgressSink
    private let state: Mutex<(done: Int64, total: Int64?, finished: Bool)>

    /// Starts counting `item` of `total` bytes (when known) into `sink`.
    public init(_ item: ProgressItem, total: Int64?, sink: ProgressSink) {
        self.item = item
        self.sink = sink
        self.state = Mutex((0, total, false))
        sink(.started(item, total: total))
    }

    /// Adds `bytes` done.
    public func add(_ bytes: Int64) {
        update { $0 += bytes }
    }

    /// Sets the bytes done to `done` (never lowering the count), and the total when given.
    public func set(done: Int64, total: Int64? = nil) {
        update(total: total) { $0 = max($0, done) }
    }

    /// The bytes done so far.
    public var done: Int64 { state.withLock { $0.done } }

    /// Ends the item at its total when it has one (the work is complete), else at the bytes
    /// counted; `done` says otherwise (fewer bytes were needed). Only the first call counts.
    public func finish(done: Int64? = nil) {
        // Sent while the state is held, so that no `advanced` from another thread follows it.
        state.withLock { state in
            guard !state.finished else { return }
            state.finished = true
            state.done = done ?? state.total ?? state.done
            sink(.finished(item, done: state.done))
        }
    }

    private func update(total: Int64? = nil, _ change: (inout Int64) -> Void) {
        state.withLock { state in
            guard !state.finished else { return }
            let before = (state.done, state.total)
            if let total { state.total = total }
            change(&state.done)
            if let total = state.total { state.done = min(state.done, total) }
            if before != (state.done, state.total) {
                sink(.advanced(item, done: state.done, total: state.total))
            }
        }
    }
}
