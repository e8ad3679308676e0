import Synchronization
import SystemSupport
import Testing

@Suite("Progress events")
struct ProgressTests {
    /// Collects what a sink is sent.
    final class Events: Sendable {
        private let all = Mutex<[ProgressEvent]>([])
        var sink: ProgressSink { ProgressSink { [self] event in all.withLock { $0.append(event) } } }
        var events: [ProgressEvent] { all.withLock { $0 } }
    }

    @Test("a counter starts its item, advances only when the count moves, stays within the total, and finishes once")
    func counter() {
        let events = Events()
        let item = ProgressItem(.push, "3f2a9c1b04de")
        let counter = ProgressCounter(item, total: 100, sink: events.sink)
        counter.add(40)
        counter.add(0)
        counter.set(done: 30)  // never lowers the count
        counter.add(80)  // a retried chunk: capped at the total
        counter.finish()
        counter.finish()
        counter.add(5)
        #expect(events.events == [
            .started(item, total: 100), .advanced(item, done: 40, total: 100), .advanced(item, done: 100, total: 100), .finished(item, done: 100),
        ])
    }

    @Test("a total learnt later is sent with the count; a finish says what was done when that is less")
    func laterTotal() {
        let events = Events()
        let item = ProgressItem(.pack, "cuda")
        let counter = ProgressCounter(item, total: nil, sink: events.sink)
        counter.set(done: 10, total: 50)
        counter.finish(done: 0)
        #expect(events.events == [.started(item, total: nil), .advanced(item, done: 10, total: 50), .finished(item, done: 0)])
        #expect(item.description == "pack cuda")
    }

    @Test("a notes sink passes the notes on and drops the counts; the notes handler sends notes")
    func notes() {
        let lines = Mutex<[String]>([])
        let sink = ProgressSink(notes: { line in lines.withLock { $0.append(line) } })
        sink("apt: fetching 1 deb")
        sink(.started(ProgressItem(.fetch, "apt"), total: 1))
        sink.notes("apt: fetched 1 deb")
        #expect(lines.withLock { $0 } == ["apt: fetching 1 deb", "apt: fetched 1 deb"])
    }

    @Test("counts from many threads add up, and the count a sink sees never goes down")
    func concurrent() async {
        let events = Events()
        let item = ProgressItem(.verify, "pip")
        let counter = ProgressCounter(item, total: nil, sink: events.sink)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { for _ in 0..<1000 { counter.add(1) } } }
        }
        counter.finish()
        let counts = events.events.compactMap { if case .advanced(_, let done, _) = $0 { done } else { nil } }
        #expect(counts == Array(1...8000))
        #expect(events.events.last == .finished(item, done: 8000))
    }
}
