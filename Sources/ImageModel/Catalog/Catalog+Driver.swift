extension CUDARelease {
    /// `NVIDIA_REQUIRE_CUDA` as NVIDIA's images spell it: `cuda>=MAJOR.MINOR`, then for each
    /// forward-compatible branch N, `brand=B,driver>=N,driver<N+1` for every brand, in order.
    public func nvidiaRequireCUDA(brands: [String]) -> String {
        var parts = ["cuda>=\(version.majorMinor)"]
        for branch in forwardBranches {
            for brand in brands { parts.append("brand=\(brand),driver>=\(branch),driver<\(branch + 1)") }
        }
        return parts.joined(separator: " ")
    }

    /// Whether, and how, a host driver runs this CUDA version.
    public func support(on driver: DriverVersion) -> HostSupport {
        if driver >= toolkitDriver {
            return HostSupport(
                level: .full,
                reason: "driver \(driver) is at least \(toolkitDriver), the driver CUDA \(version) ships with: "
                    + "full support, PTX JIT included")
        }
        if driver >= minorVersionMinimum {
            return HostSupport(
                level: .minorVersionCompatibility,
                reason: "driver \(driver) is older than \(toolkitDriver) (CUDA \(version)'s own driver) but at least "
                    + "\(minorVersionMinimum): CUDA \(version) binaries run through minor-version compatibility, "
                    + "without PTX JIT (code that needs a newer PTX ISA fails)")
        }
        if forwardBranches.contains(driver.branch) {
            return HostSupport(
                level: .forwardCompatibility,
                reason: "driver \(driver) (branch \(driver.branch)) is older than \(minorVersionMinimum), but branch "
                    + "\(driver.branch) can run CUDA \(version) with the cuda-compat forward-compatibility package, "
                    + "on datacenter GPUs only")
        }
        let branches = forwardBranches.map(String.init).joined(separator: ", ")
        return HostSupport(
            level: .cannotRun,
            reason: "driver \(driver) is older than \(minorVersionMinimum), the oldest driver that runs CUDA \(version), "
                + "and branch \(driver.branch) is not one of its forward-compatible branches (\(branches)); "
                + "upgrade the driver to \(toolkitDriver) or newer")
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
        /// Only with the cuda-compat package, on datacenter GPUs.
        case forwardCompatibility = "forward-compatibility"
        /// Cannot run.
        case cannotRun = "cannot-run"
    }

    /// The verdict.
    public var level: Level
    /// Why, in a sentence.
    public var reason: String
}
