import Glibc
import ArgumentParser
import Foundation

/// `--progress auto|tty|plain|none`: how a command that moves bytes (build, push, pull, mirror)
/// shows its progress on stderr (docs/cli.md, "Progress").
struct ProgressOptions: ParsableArguments {
    /// The values of `--progress`.
    enum Mode: String, CaseIterable, ExpressibleByArgument {
        /// `tty` when stderr is a terminal outside CI, else `plain`.
        case auto
        /// A live line redrawn in place, with notes above it.
        case tty
        /// Lines only, for logs.
        case plain
        /// No progress; the command's summary and errors still print.
        case none
    }

    @Option(help: ArgumentHelp(
        "How to show progress on stderr: auto (a live line with bytes, rate and time left on a terminal; plain lines in CI and when stderr is not a terminal), tty, plain, or none.",
        valueName: "mode"))
    var progress: Mode = .auto

    /// The style `mode` means for a stderr that `isTerminal` (or not), in `environment`: `auto`
    /// is plain in CI (`CI` set, as CI services do, to anything but `false` or `0`) and on a
    /// terminal that cannot move the cursor (`TERM=dumb`).
    static func style(_ mode: Mode, isTerminal: Bool, environment: [String: String]) -> ProgressRenderer.Style {
        switch mode {
        case .tty: return .tty
        case .plain: return .plain
        case .none: return .none
        case .auto:
            let ci = environment["CI"].map { !["", "false", "0"].contains($0.lowercased()) } ?? false
            return isTerminal && !ci && environment["TERM"] != "dumb" ? .tty : .plain
        }
    }

    /// The renderer for this command, ticking when it draws a live line: nothing at all when
    /// `quiet`. The command calls its `finish()` before its summary, and on the way out.
    func renderer(quiet: Bool) -> ProgressRenderer {
        let renderer = ProgressRenderer(
            style: quiet ? .none : Self.style(progress, isTerminal: isatty(2) == 1, environment: ProcessInfo.processInfo.environment))
        renderer.startTicking()
        return renderer
    }
}
