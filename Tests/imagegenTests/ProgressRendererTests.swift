import Synchronization
import SystemSupport
import Testing

@testable import imagegen

/// A clock the test moves, and the text the renderer wrote.
final class Script: Sendable {
    private let time = Mutex(0.0)
    private let written = Mutex("")

    var now: @Sendable () -> Double { { [self] in time.withLock { $0 } } }
    var write: @Sendable (String) -> Void { { [self] text in written.withLock { $0 += text } } }

    /// Moves the clock to `seconds`.
    func at(_ seconds: Double) { time.withLock { $0 = seconds } }

    /// What was written, then forgets it.
    func take() -> String { written.withLock { text in defer { text = "" }; return text } }

    func renderer(_ style: ProgressRenderer.Style, columns: Int = 200) -> ProgressRenderer {
        ProgressRenderer(style: style, now: now, columns: { columns }, write: write)
    }
}

@Suite("Progress text")
struct ProgressTextTests {
    @Test("rates, durations, percentages and bars read as people expect", arguments: [
        (ProgressText.rate(4.5 * 1_048_576), "4.5 MiB/s"),
        (ProgressText.rate(812), "812 B/s"),
        (ProgressText.rate(-3), "0 B/s"),
        (ProgressText.duration(7.4), "7s"),
        (ProgressText.duration(125), "2m05s"),
        (ProgressText.duration(3720), "1h02m"),
        (ProgressText.bar(5, of: 20, width: 4), "[#---]"),
        (ProgressText.bar(0, of: 0, width: 4), "[####]"),
        ("\(ProgressText.percent(999, of: 1000))", "99"),
        ("\(ProgressText.percent(1000, of: 1000))", "100"),
        ("\(ProgressText.percent(0, of: 0))", "100"),
        (ProgressText.truncated("abcdef", to: 4), "abc…"),
        (ProgressText.truncated("abc", to: 4), "abc"),
    ])
    func formatting(_ pair: (String, String)) {
        #expect(pair.0 == pair.1)
    }

    @Test("the time left needs a total and a rate, and is the bytes left over the rate")
    func eta() {
        #expect(ProgressText.eta(10 << 20, of: 40 << 20, rate: Double(1 << 20)) == "30s")
        #expect(ProgressText.eta(10, of: nil, rate: 5) == nil)
        #expect(ProgressText.eta(10, of: 40, rate: nil) == nil)
        #expect(ProgressText.eta(10, of: 40, rate: 0) == nil)
        #expect(ProgressText.eta(40, of: 40, rate: 5) == nil)
    }

    @Test("the rate is taken over the window from the first bytes: old bytes drop out, and half a second is needed")
    func rateMeter() {
        var meter = RateMeter(window: 5, start: 0)
        // 20 s making a tree, then 1 MiB: the meter starts there.
        meter.add(1 << 20, at: 20)
        #expect(meter.rate() == nil)
        meter.add(2 << 20, at: 20.25)
        #expect(meter.rate() == nil)
        meter.add(3 << 20, at: 21)
        #expect(meter.rate() == Double(2 << 20))
        meter = RateMeter(window: 5, start: 0)
        meter.add(1 << 20, at: 0.25)
        meter.add(2 << 20, at: 1)
        #expect(meter.rate() == Double(1 << 20) / 0.75)
        // 10 s in at 1 MiB/s after a fast start: the start no longer counts.
        for second in 2...10 { meter.add(Int64(second + 1) << 20, at: Double(second)) }
        #expect(meter.rate() == Double(1 << 20))
    }
}

@Suite("Progress renderer")
struct ProgressRendererTests {
    let pip = ProgressItem(.fetch, "pip")
    let apt = ProgressItem(.fetch, "apt")

    @Test("tty: one line redrawn in place with bytes, rate and time left; redraws at most every 0.1 s; notes go above it; finish clears it")
    func tty() {
        let script = Script()
        let renderer = script.renderer(.tty)
        renderer.handle(.note("pip: fetching 1 wheel (40.0 MiB)"))
        #expect(script.take() == "pip: fetching 1 wheel (40.0 MiB)\n")

        renderer.handle(.started(pip, total: 40 << 20))
        #expect(script.take() == "\rfetch pip  [--------------------] 0 B / 40.0 MiB 0%\u{1B}[K")
        script.at(1)
        renderer.handle(.advanced(pip, done: 10 << 20, total: 40 << 20))
        // The rate starts with the first bytes.
        #expect(script.take() == "\rfetch pip  [#####---------------] 10.0 MiB / 40.0 MiB 25%\u{1B}[K")

        // Within 0.1 s of the last draw: counted, not drawn.
        script.at(1.05)
        renderer.handle(.advanced(pip, done: 11 << 20, total: 40 << 20))
        #expect(script.take() == "")
        script.at(2)
        renderer.handle(.advanced(pip, done: 20 << 20, total: 40 << 20))
        #expect(script.take() == "\rfetch pip  [##########----------] 20.0 MiB / 40.0 MiB 50%  10.0 MiB/s  ETA 2s\u{1B}[K")

        // A note clears the line, prints, and puts the line back.
        renderer.handle(.note("apt: fetched 3 debs"))
        #expect(script.take() == "\r\u{1B}[Kapt: fetched 3 debs\nfetch pip  [##########----------] 20.0 MiB / 40.0 MiB 50%  10.0 MiB/s  ETA 2s\u{1B}[K")

        // The last item ends: the line goes.
        script.at(3)
        renderer.handle(.finished(pip, done: 40 << 20))
        #expect(script.take() == "\r\u{1B}[K")
        renderer.finish()
        #expect(script.take() == "")
    }

    @Test("tty: items of a phase add up, the first begun of those at work is named; phases side by side; the line fits the terminal")
    func ttyGroups() {
        let script = Script()
        let renderer = script.renderer(.tty)
        renderer.handle(.started(apt, total: 10 << 20))
        renderer.handle(.started(pip, total: 30 << 20))
        script.at(1)
        renderer.handle(.advanced(apt, done: 4 << 20, total: 10 << 20))
        _ = script.take()
        script.at(2)
        renderer.handle(.advanced(pip, done: 16 << 20, total: 30 << 20))
        #expect(script.take() == "\rfetch apt +1  [##########----------] 20.0 MiB / 40.0 MiB 50%  16.0 MiB/s  ETA 1s\u{1B}[K")

        renderer.handle(.started(ProgressItem(.verify, "apt"), total: 10 << 20))
        #expect(script.take().hasSuffix("ETA 1s  |  verify apt  [--------------------] 0 B / 10.0 MiB 0%\u{1B}[K"))

        let narrow = script.renderer(.tty, columns: 21)
        narrow.handle(.started(pip, total: 30 << 20))
        #expect(script.take() == "\rfetch pip  [-------…\u{1B}[K")
        narrow.finish()
        #expect(script.take() == "\r\u{1B}[K")
    }

    @Test("tty: an item that needed no work ends at what it did, so the total shrinks; an unknown total shows bytes alone")
    func ttySkipped() {
        let script = Script()
        let renderer = script.renderer(.tty)
        let big = ProgressItem(.push, "aaaa"), there = ProgressItem(.push, "bbbb")
        renderer.handle(.started(big, total: 30 << 20))
        renderer.handle(.started(there, total: 10 << 20))
        renderer.handle(.finished(there, done: 0))
        #expect(script.take().hasSuffix("\rpush aaaa  [--------------------] 0 B / 30.0 MiB 0%\u{1B}[K"))

        let layer = ProgressItem(.pack, "cuda")
        renderer.handle(.started(layer, total: nil))
        #expect(script.take().hasSuffix("  |  pack cuda  starting\u{1B}[K"))
        script.at(1)
        renderer.handle(.advanced(layer, done: 5 << 20, total: nil))
        script.at(2)
        renderer.handle(.advanced(layer, done: 15 << 20, total: nil))
        #expect(script.take().hasSuffix("pack cuda  15.0 MiB  10.0 MiB/s\u{1B}[K"))
    }

    @Test("plain: no carriage returns; a line per item at most every 5 s from its first bytes, and one at its end when it had one")
    func plain() {
        let script = Script()
        let renderer = script.renderer(.plain)
        renderer.handle(.note("pip: fetching 1 wheel (40.0 MiB)"))
        renderer.handle(.started(pip, total: 40 << 20))
        for second in 1...11 {
            script.at(Double(second))
            renderer.handle(.advanced(pip, done: Int64(second) << 20, total: 40 << 20))
        }
        script.at(20)
        renderer.handle(.finished(pip, done: 40 << 20))
        // A short item says nothing of its own: the notes tell of it.
        renderer.handle(.started(apt, total: 1 << 20))
        renderer.handle(.finished(apt, done: 1 << 20))
        renderer.handle(.note("pip: fetched 1 wheel"))
        renderer.finish()
        let text = script.take()
        #expect(!text.contains("\r") && !text.contains("\u{1B}"))
        #expect(text == """
            pip: fetching 1 wheel (40.0 MiB)
            fetch pip: 6.0 MiB of 40.0 MiB (15%), 1.0 MiB/s, ETA 34s
            fetch pip: 11.0 MiB of 40.0 MiB (27%), 1.0 MiB/s, ETA 29s
            fetch pip: 40.0 MiB in 20s (2.0 MiB/s)
            pip: fetched 1 wheel

            """)
    }

    @Test("none writes nothing, notes included")
    func none() {
        let script = Script()
        let renderer = script.renderer(.none)
        renderer.handle(.note("apt: fetching"))
        renderer.handle(.started(pip, total: 1))
        renderer.handle(.finished(pip, done: 1))
        renderer.finish()
        #expect(script.take() == "")
    }

    @Test("auto is tty on a terminal outside CI, plain elsewhere; the other modes are what they say", arguments: [
        (ProgressOptions.Mode.auto, true, [String: String](), ProgressRenderer.Style.tty),
        (.auto, false, [:], .plain),
        (.auto, true, ["CI": "true"], .plain),
        (.auto, true, ["CI": "false"], .tty),
        (.auto, true, ["TERM": "dumb"], .plain),
        (.tty, false, ["CI": "1"], .tty),
        (.plain, true, [:], .plain),
        (.none, true, [:], .none),
    ])
    func modes(_ mode: ProgressOptions.Mode, _ terminal: Bool, _ environment: [String: String], _ style: ProgressRenderer.Style) {
        #expect(ProgressOptions.style(mode, isTerminal: terminal, environment: environment) == style)
    }
}

extension ProgressRendererTests {
    @Test("tty: layers packed side by side: one whose tree is still being made adds to the count, not to the bytes, hides the time left, and is not the one named")
    func ttyTreeBeingMade() {
        let script = Script()
        let renderer = script.renderer(.tty)
        let base = ProgressItem(.pack, "base"), python = ProgressItem(.pack, "python")
        renderer.handle(.started(python, total: nil))
        renderer.handle(.started(base, total: nil))
        #expect(script.take().hasSuffix("\rpack python +1  starting\u{1B}[K"))
        script.at(1)
        renderer.handle(.advanced(base, done: 1 << 20, total: 10 << 20))
        _ = script.take()
        script.at(2)
        renderer.handle(.advanced(base, done: 6 << 20, total: 10 << 20))
        #expect(script.take() == "\rpack base +1  [############--------] 6.0 MiB / 10.0 MiB 60%  5.0 MiB/s\u{1B}[K")
        // base ends; python's tree is not made yet: the bytes of base no longer stand for it.
        script.at(3)
        renderer.handle(.finished(base, done: 10 << 20))
        #expect(script.take() == "\rpack python  starting\u{1B}[K")
        script.at(4)
        renderer.handle(.advanced(python, done: 2 << 20, total: 20 << 20))
        #expect(script.take() == "\rpack python  [########------------] 12.0 MiB / 30.0 MiB 40%  3.7 MiB/s  ETA 5s\u{1B}[K")
    }
}

extension ProgressRendererTests {
    @Test("tty: ticks redraw a stalled transfer, its rate falling and its time left growing; nothing after finish")
    func ticks() {
        let script = Script()
        let renderer = script.renderer(.tty)
        renderer.handle(.started(pip, total: 100 << 20))
        script.at(1)
        renderer.handle(.advanced(pip, done: 10 << 20, total: 100 << 20))
        script.at(2)
        renderer.handle(.advanced(pip, done: 20 << 20, total: 100 << 20))
        _ = script.take()
        // Nothing moves for 4 s: the window now spans 1 s of transfer and 4 s of silence.
        script.at(6)
        #expect(renderer.tick())
        #expect(script.take() == "\rfetch pip  [####----------------] 20.0 MiB / 100.0 MiB 20%  2.0 MiB/s  ETA 40s\u{1B}[K")
        renderer.finish()
        _ = script.take()
        script.at(7)
        #expect(!renderer.tick())
        #expect(script.take() == "")
    }
}

extension ProgressRendererTests {
    @Test("plain: an item's first line comes an interval after its first bytes, however long it took to start")
    func plainNothingYet() {
        let script = Script()
        let renderer = script.renderer(.plain)
        let layer = ProgressItem(.pack, "torch")
        renderer.handle(.started(layer, total: nil))
        script.at(30)
        renderer.handle(.advanced(layer, done: 0, total: 2 << 30))
        script.at(31)
        renderer.handle(.advanced(layer, done: 1 << 20, total: 2 << 30))
        script.at(34)
        renderer.handle(.advanced(layer, done: 1 << 30, total: 2 << 30))
        #expect(script.take() == "")
        script.at(36)
        renderer.handle(.advanced(layer, done: 3 << 29, total: 2 << 30))
        #expect(script.take() == "pack torch: 1.50 GiB of 2.00 GiB (75%), 307.0 MiB/s, ETA 2s\n")
    }
}
