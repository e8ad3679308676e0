extension CUDARelease {
    /// `NVIDIA_REQUIRE_CUDA` for an image of this CUDA version: `cuda>=MAJOR.MINOR`, which the
    /// NVIDIA container toolkit checks against the CUDA version of the host's driver.
    ///
    /// An image that carries NVIDIA's cuda-compat libraries also lists, as NVIDIA's images
    /// spell it, each forward-compatible branch N as `brand=B,driver>=N,driver<N+1` for every
    /// brand, in order (space-separated clauses are alternatives). An image without them lists
    /// no branch: on such a driver its first CUDA call would fail.
    public func nvidiaRequireCUDA(brands: [String], carriesCUDACompat: Bool) -> String {
        var parts = ["cuda>=\(version.majorMinor)"]
        for branch in carriesCUDACompat ? forwardBranches : [] {
            for brand in brands { parts.append("brand=\(brand),driver>=\(branch),driver<\(branch + 1)") }
        }
        return parts.joined(separator: " ")
    }

    /// Whether, and how, a host driver runs this CUDA version in an image that carries
    /// NVIDIA's cuda-compat libraries or not: forward compatibility runs only with them.
    public func support(on driver: DriverVersion, carriesCUDACompat: Bool) -> HostSupport {
        if driver >= toolkitDriver {
            return HostSupport(
                level: .full, runs: true,
                reason: "driver \(driver) is at least \(toolkitDriver), the driver CUDA \(version) ships with: "
                    + "full support, PTX JIT included")
        }
        if driver >= minorVersionMinimum {
            // The toolkit admits this driver only through a branch clause of NVIDIA_REQUIRE_CUDA.
            let admitted = carriesCUDACompat && forwardBranches.contains(driver.branch)
            return HostSupport(
                level: .minorVersionCompatibility, runs: true,
                reason: "driver \(driver) is older than \(toolkitDriver) (CUDA \(version)'s own driver) but at least "
                    + "\(minorVersionMinimum): CUDA \(version) binaries run through minor-version compatibility, "
                    + "without PTX JIT (code that needs a newer PTX ISA fails)"
                    + (admitted ? "" : "; the NVIDIA container toolkit, which checks cuda>=\(version.majorMinor) against the "
                        + "driver's own CUDA version, starts the container only with NVIDIA_DISABLE_REQUIRE=1"))
        }
        if forwardBranches.contains(driver.branch) {
            let needs = "driver \(driver) (branch \(driver.branch)) is older than \(minorVersionMinimum), the oldest driver "
                + "that runs CUDA \(version) on its own; branch \(driver.branch) runs it only through forward compatibility, "
                + "with NVIDIA's cuda-compat libraries in the image, on datacenter GPUs only"
            return carriesCUDACompat
                ? HostSupport(level: .forwardCompatibility, runs: true, reason: needs + ", and the image carries them")
                : HostSupport(
                    level: .forwardCompatibility, runs: false,
                    reason: needs + ", and the image carries no cuda-compat package: upgrade the driver to "
                        + "\(minorVersionMinimum) or newer (\(toolkitDriver) for full support)")
        }
        let branches = forwardBranches.isEmpty
            ? "the catalog records no forward-compatible branch for it"
            : "branch \(driver.branch) is not one of its forward-compatible branches (\(forwardBranches.map(String.init).joined(separator: ", ")))"
        return HostSupport(
            level: .cannotRun, runs: false,
            reason: "driver \(driver) is older than \(minorVersionMinimum), the oldest driver that runs CUDA \(version), "
                + "and \(branches); upgrade the driver to \(toolkitDriver) or newer")
    }
}

/// How well a host driver runs an image's CUDA.
public struct HostSupport: Hashable, Sendable, Codable {
    /// The levels, best first.
    public enum Level: String, Hashable, Sendable, Codable {
        /// The driver is at least the toolkit's own.
        case full
        /// Minor-version compatibility: runs, without PTX JIT.
        case minorVersionCompatibility = "minor-version-compatibility"
        /// Only with NVIDIA's cuda-compat libraries in the image, on datacenter GPUs.
        case forwardCompatibility = "forward-compatibility"
        /// Cannot run.
        case cannotRun = "cannot-run"
    }

    /// The verdict.
    public var level: Level
    /// Whether the image runs on the driver: every level but `cannot-run`, except
    /// `forward-compatibility` in an image without the cuda-compat libraries.
    public var runs: Bool
    /// Why, in a sentence.
    public var reason: String
}
