import Foundation
import SystemSupport

/// The pip that `lock` runs. A current pip reads each wheel's metadata from the index
/// (PEP 658) instead of downloading the wheel, which for torch means 0 bytes instead of
/// 865 MB; Debian's pip 23 downloads. So `lock` keeps its own pip, upgraded once, in a venv
/// under the cache directory, and falls back to the system's when that cannot be made.
public enum PipTool {
    /// The pip command to use: `CACHE/pip-venv/bin/python -m pip`, made (or refreshed when
    /// older than `maxAge`) with `python3 -m venv` and `pip install --upgrade pip` through the
    /// host's pip configuration; `python3 -m pip` when that fails.
    public static func current(
        cacheDirectory: String, maxAge: TimeInterval = 7 * 86400, progress: @Sendable (String) -> Void = { _ in }
    ) async -> [String] {
        let fm = FileManager.default
        let venv = "\(cacheDirectory)/pip-venv"
        let python = "\(venv)/bin/python"
        let stamp = "\(venv)/.upgraded"
        let fallback = ["python3", "-m", "pip"]
        if let date = (try? fm.attributesOfItem(atPath: stamp))?[.modificationDate] as? Date,
           Date().timeIntervalSince(date) < maxAge, fm.isExecutableFile(atPath: python) {
            return [python, "-m", "pip"]
        }
        do {
            try fm.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
            progress("pip: preparing a current pip in \(venv) (once a week)")
            if !fm.isExecutableFile(atPath: python) {
                let made = try await Subprocess("python3", ["-m", "venv", venv]).run()
                guard made.status == .exited(0) else { return fallback }
            }
            let upgraded = try await Subprocess(
                python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "pip"]
            ).run()
            guard upgraded.status == .exited(0) else {
                progress("pip: could not upgrade pip (\(upgraded.stderrText.split(separator: "\n").last ?? "")); using the system pip")
                return fm.isExecutableFile(atPath: python) ? [python, "-m", "pip"] : fallback
            }
            _ = fm.createFile(atPath: stamp, contents: Data())
            return [python, "-m", "pip"]
        } catch {
            return fallback
        }
    }
}
