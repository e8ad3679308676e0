import Glibc
import Foundation
import OCI
import Synchronization
import SystemSupport

/// Draws the library's ``ProgressEvent``s on stderr, in one of three styles:
///
/// - `tty`: one live line at the bottom, redrawn in place (`\r`, then clear to the end of the
///   line) at most ten times a second and on ticks between events: per phase at work, its items
///   (the first begun of those at work, one of known total first, `+N` for the others: a name
///   that stays put while they run), a bar, the bytes done of the total, the rate over the last
///   seconds and the time left. Notes print as lines above it.
/// - `plain`: lines only, for logs: the notes, a line per item at most every few seconds while
///   it moves bytes, and, for an item that had such a line, one when it ends.
/// - `none`: nothing.
///
/// Safe to call from any thread: the events of concurrent items (layers packed side by side,
/// blobs sent several at once) are serialised by one lock, which the output is written under.
final class ProgressRenderer: Sendable {
    /// How the events are shown.
    enum Style: String, Hashable, Sendable {
        case tty, plain, none
    }

    /// The timing rules; the defaults are the CLI's.
    struct Timing: Sendable {
        /// The shortest time between two redraws of the live line, in seconds.
        var redraw = 0.1
        /// The shortest time between two plain lines about one item, in seconds.
        var plainInterval = 5.0
        /// How far back the rate looks, in seconds.
        var rateWindow = 5.0
    }

    let style: Style
    private let timing: Timing
    private let now: @Sendable () -> Double
    private let columns: @Sendable () -> Int
    private let write: @Sendable (String) -> Void
    private let state = Mutex(State())

    /// A renderer in `style`. `now` is a monotonic clock in seconds, `columns` the terminal's
    /// width, `write` where the text goes (stderr): tests give their own.
    init(
        style: Style, timing: Timing = Timing(), now: @escaping @Sendable () -> Double = ProgressRenderer.monotonicSeconds,
        columns: @escaping @Sendable () -> Int = ProgressRenderer.terminalColumns,
        write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    ) {
        self.style = style
        self.timing = timing
        self.now = now
        self.columns = columns
        self.write = write
    }

    /// The sink to hand the library.
    var sink: ProgressSink {
        ProgressSink { [self] in handle($0) }
    }

    /// Shows `event`.
    func handle(_ event: ProgressEvent) {
        guard style != .none else { return }
        let time = now()
        state.withLock { state in
            switch event {
            case .note(let text):
                emitLine(text, state: &state)
            case .started(let item, let total):
                state.start(item, total: total, at: time, window: timing.rateWindow)
                if style == .tty { draw(&state, at: time, force: true) }
            case .advanced(let item, let done, let total):
                state.advance(item, done: done, total: total, at: time, window: timing.rateWindow)
                switch style {
                case .tty: draw(&state, at: time, force: false)
                case .plain: plainProgress(item, state: &state, at: time)
                case .none: break
                }
            case .finished(let item, let done):
                state.advance(item, done: done, total: nil, at: time, window: timing.rateWindow)
                state.finish(item)
                switch style {
                case .tty: draw(&state, at: time, force: true)
                case .plain: plainFinished(item, state: &state, at: time)
                case .none: break
                }
            }
        }
    }

    /// Takes the live line off the terminal and stops the ticks; call before anything else is
    /// printed at the end.
    func finish() {
        state.withLock { state in
            if state.drawn != nil { write("\r\u{1B}[K") }
            state.drawn = nil
            state.stopped = true
        }
    }

    /// Redraws the live line as time passes without events (a download that stalls, apt reading
    /// its lists): the rates take the silence in, so they fall and the time left grows.
    /// Returns false once ``finish()`` was called.
    @discardableResult
    func tick() -> Bool {
        let time = now()
        return state.withLock { state in
            guard !state.stopped else { return false }
            guard style == .tty, state.drawn != nil else { return true }
            for (phase, group) in state.groups where !group.active.isEmpty {
                state.groups[phase]?.meter.add(group.moved, at: time)
            }
            draw(&state, at: time, force: false)
            return true
        }
    }

    /// Calls ``tick()`` every `interval` until ``finish()``; for a tty.
    func startTicking(every interval: Duration = .milliseconds(500)) {
        guard style == .tty else { return }
        Task.detached { [self] in
            while tick() { try? await Task.sleep(for: interval) }
        }
    }

    // MARK: - Drawing

    private func emitLine(_ text: String, state: inout State) {
        if let drawn = state.drawn {
            write("\r\u{1B}[K" + text + "\n" + drawn + "\u{1B}[K")
        } else {
            write(text + "\n")
        }
    }

    /// Redraws the live line, unless it was drawn less than `timing.redraw` ago (a start or an
    /// end is drawn at once) or it says what the terminal shows already.
    private func draw(_ state: inout State, at time: Double, force: Bool) {
        guard force || time - state.lastDraw >= timing.redraw else { return }
        let line = ProgressText.truncated(state.liveLine(at: time), to: columns() - 1)
        state.lastDraw = time
        guard line != state.drawn ?? "" else { return }
        if line.isEmpty {
            write("\r\u{1B}[K")
            state.drawn = nil
        } else {
            write("\r" + line + "\u{1B}[K")
            state.drawn = line
        }
    }

    private func plainProgress(_ item: ProgressItem, state: inout State, at time: Double) {
        // An item that has moved nothing yet (a layer whose tree was just made) has nothing to say.
        guard let current = state.groups[item.phase]?.items[item.name], !current.finished, current.done > 0,
              time - current.lastLine >= timing.plainInterval
        else { return }
        state.groups[item.phase]?.items[item.name]?.lastLine = time
        state.groups[item.phase]?.items[item.name]?.printedLine = true
        emitLine(ProgressText.plainProgress(item, done: current.done, total: current.total, rate: current.meter.rate()), state: &state)
    }

    private func plainFinished(_ item: ProgressItem, state: inout State, at time: Double) {
        guard let current = state.groups[item.phase]?.items[item.name], current.printedLine else { return }
        emitLine(ProgressText.plainFinished(item, done: current.done, seconds: time - current.started), state: &state)
    }

    // MARK: - State

    /// One item's count.
    struct ItemState {
        var done: Int64 = 0
        var total: Int64?
        var finished = false
        var started: Double
        /// When a plain line last spoke of it (before any: when its first bytes moved).
        var lastLine: Double
        var printedLine = false
        var meter: RateMeter
    }

    /// The items of one phase since the phase last had none at work.
    struct Group {
        var items: [String: ItemState] = [:]
        var order: [String] = []
        /// Every byte any of its items moved, for the phase's rate.
        var meter: RateMeter
        var moved: Int64 = 0

        var active: [String] { order.filter { items[$0]?.finished == false } }
    }

    struct State {
        var groups: [ProgressItem.Phase: Group] = [:]
        /// Phases in the order they began.
        var phases: [ProgressItem.Phase] = []
        /// The live line on the terminal, if one is.
        var drawn: String?
        var lastDraw = -Double.infinity
        /// ``finish()`` was called.
        var stopped = false

        mutating func start(_ item: ProgressItem, total: Int64?, at time: Double, window: Double) {
            if groups[item.phase].map({ $0.active.isEmpty }) ?? true {
                groups[item.phase] = Group(meter: RateMeter(window: window, start: time))
                phases.removeAll { $0 == item.phase }
                phases.append(item.phase)
            }
            if groups[item.phase]!.items[item.name] == nil { groups[item.phase]!.order.append(item.name) }
            groups[item.phase]!.items[item.name] = ItemState(
                total: total, started: time, lastLine: time, meter: RateMeter(window: window, start: time))
        }

        mutating func advance(_ item: ProgressItem, done: Int64, total: Int64?, at time: Double, window: Double) {
            if groups[item.phase]?.items[item.name] == nil { start(item, total: total, at: time, window: window) }
            var group = groups[item.phase]!
            var current = group.items[item.name]!
            let moved = max(0, done - current.done)
            // A plain line comes an interval after the first bytes, not after a long start.
            if current.done == 0, moved > 0 { current.lastLine = time }
            current.done = max(current.done, done)
            if let total { current.total = total }
            current.meter.add(current.done, at: time)
            group.moved += moved
            group.meter.add(group.moved, at: time)
            group.items[item.name] = current
            groups[item.phase] = group
        }

        mutating func finish(_ item: ProgressItem) {
            guard var current = groups[item.phase]?.items[item.name] else { return }
            current.finished = true
            // What it skipped is no longer to be done.
            current.total = current.done
            groups[item.phase]!.items[item.name] = current
        }

        /// The live line: a part per phase with items at work, in the order the phases began.
        ///
        /// A phase's bytes are those of its items of known total, ended ones included, while one
        /// of them is at work; the time left is told only when every item at work has a total
        /// (a layer whose tree is still being made has none yet). Items at work of unknown total
        /// show their bytes alone; before any moved, the phase is `starting`.
        func liveLine(at time: Double) -> String {
            phases.compactMap { phase -> String? in
                guard let group = groups[phase] else { return nil }
                let active = group.active.compactMap { group.items[$0] }
                guard !active.isEmpty else { return nil }
                let sized = group.order.compactMap { group.items[$0] }.filter { $0.total != nil }
                let unsized = active.filter { $0.total == nil }
                let measure: ProgressText.Measure
                if active.contains(where: { $0.total != nil }) {
                    measure = .sized(
                        done: sized.reduce(0) { $0 + $1.done }, total: sized.reduce(0) { $0 + ($1.total ?? 0) }, complete: unsized.isEmpty)
                } else if unsized.contains(where: { $0.done > 0 }) {
                    measure = .unsized(done: unsized.reduce(0) { $0 + $1.done })
                } else {
                    measure = .starting
                }
                return ProgressText.livePart(
                    phase: phase, name: group.active[active.firstIndex { $0.total != nil } ?? 0], others: active.count - 1, measure: measure, rate: group.meter.rate())
            }.joined(separator: "  |  ")
        }
    }

    // MARK: - The system

    /// Seconds on a monotonic clock.
    @Sendable static func monotonicSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// The width of the terminal on stderr; 80 when it says none.
    @Sendable static func terminalColumns() -> Int {
        var size = winsize()
        guard withUnsafeMutablePointer(to: &size, { ioctl(2, UInt(TIOCGWINSZ), $0) }) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
}

/// Bytes per second over the last few seconds: the bytes moved between the oldest sample in the
/// window and the newest, over the time between them. The meter starts when the first bytes
/// move: the time an item spends before that (apt reading its lists, a layer's tree being made)
/// is no transfer time.
struct RateMeter: Sendable {
    let window: Double
    private var samples: [(time: Double, bytes: Int64)]

    /// A meter that starts at zero bytes at `start`.
    init(window: Double, start: Double) {
        self.window = window
        self.samples = [(start, 0)]
    }

    /// Records that `bytes` had moved in all by `time`.
    mutating func add(_ bytes: Int64, at time: Double) {
        if samples.count == 1, samples[0].bytes == 0 {
            samples[0] = (time, bytes)
            return
        }
        if let last = samples.last, last.time >= time {
            samples[samples.count - 1].bytes = bytes
        } else {
            samples.append((time, bytes))
        }
        // Keep one sample at or before the window's start, so the window stays full.
        while samples.count > 2, samples[1].time <= time - window { samples.removeFirst() }
    }

    /// The rate, once the samples span half a second.
    func rate() -> Double? {
        guard let first = samples.first, let last = samples.last, last.time - first.time >= 0.5 else { return nil }
        return Double(last.bytes - first.bytes) / (last.time - first.time)
    }
}

/// The words and numbers of the progress output.
enum ProgressText {
    /// `4.5 MiB/s`.
    static func rate(_ bytesPerSecond: Double) -> String {
        ByteCount.text(Int64(max(0, bytesPerSecond).rounded())) + "/s"
    }

    /// `7s`, `2m05s`, `1h02m`.
    static func duration(_ seconds: Double) -> String {
        let whole = Int(max(0, seconds).rounded())
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return "\(whole / 60)m" + pad(whole % 60) + "s" }
        return "\(whole / 3600)h" + pad(whole / 60 % 60) + "m"
    }

    /// Whole percent, never 100 before the end.
    static func percent(_ done: Int64, of total: Int64) -> Int {
        guard total > 0 else { return 100 }
        return done >= total ? 100 : min(99, Int(done * 100 / total))
    }

    /// `[#########-----------]`, `width` marks between the brackets.
    static func bar(_ done: Int64, of total: Int64, width: Int = 20) -> String {
        let filled = total > 0 ? Int(min(done, total) * Int64(width) / total) : width
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
    }

    /// The time left at `rate`, when it can be told.
    static func eta(_ done: Int64, of total: Int64?, rate: Double?) -> String? {
        guard let total, let rate, rate > 0, done < total else { return nil }
        return duration(Double(total - done) / rate)
    }

    /// What a phase's part of the live line says of its bytes.
    enum Measure: Hashable {
        /// `done` of `total`; `complete` when every item at work counts toward the total, so
        /// that the time left can be told.
        case sized(done: Int64, total: Int64, complete: Bool)
        /// Bytes of an unknown total.
        case unsized(done: Int64)
        /// Nothing has moved yet, and no total is known.
        case starting
    }

    /// One phase's part of the live line:
    /// `fetch pip +1  [#####---------------] 12.3 MiB / 45.6 MiB 27%  4.5 MiB/s  ETA 7s`.
    static func livePart(phase: ProgressItem.Phase, name: String, others: Int, measure: Measure, rate: Double?) -> String {
        var words = [phase.rawValue + " " + name + (others > 0 ? " +\(others)" : "")]
        switch measure {
        case .sized(let done, let total, let complete):
            words.append(bar(done, of: total) + " " + ByteCount.text(done) + " / " + ByteCount.text(total) + " " + "\(percent(done, of: total))%")
            if let rate { words.append(Self.rate(rate)) }
            if complete, let eta = eta(done, of: total, rate: rate) { words.append("ETA " + eta) }
        case .unsized(let done):
            words.append(ByteCount.text(done))
            if let rate { words.append(Self.rate(rate)) }
        case .starting:
            words.append("starting")
        }
        return words.joined(separator: "  ")
    }

    /// `fetch pip: 12.3 MiB of 45.6 MiB (27%), 4.5 MiB/s, ETA 7s`.
    static func plainProgress(_ item: ProgressItem, done: Int64, total: Int64?, rate: Double?) -> String {
        var words = ["\(item): " + ByteCount.text(done) + (total.map { " of \(ByteCount.text($0)) (\(percent(done, of: $0))%)" } ?? "")]
        if let rate { words.append(Self.rate(rate)) }
        if let eta = eta(done, of: total, rate: rate) { words.append("ETA " + eta) }
        return words.joined(separator: ", ")
    }

    /// `fetch pip: 45.6 MiB in 10s (4.5 MiB/s)`.
    static func plainFinished(_ item: ProgressItem, done: Int64, seconds: Double) -> String {
        "\(item): \(ByteCount.text(done)) in \(duration(seconds))" + (seconds > 0 ? " (\(rate(Double(done) / seconds)))" : "")
    }

    /// `line` cut to `width` characters, the last one an ellipsis when cut.
    static func truncated(_ line: String, to width: Int) -> String {
        guard width > 0 else { return "" }
        guard line.count > width else { return line }
        return String(line.prefix(width - 1)) + "…"
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
