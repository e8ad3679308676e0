import Foundation
import ImageModel
import SystemSupport

/// The NVIDIA driver of the host this process runs on: its version, its device nodes and its
/// user-space libraries — what the NVIDIA container runtime hands a container.
public enum HostDriver {
    /// The driver version: `nvidia-smi` first, then the kernel module's
    /// `/proc/driver/nvidia/version`. Throws a sentence saying what was tried.
    public static func version() throws -> DriverVersion {
        if let version = try fromNvidiaSMI() { return version }
        if let text = try? String(contentsOfFile: procVersionFile, encoding: .utf8), let version = parseProcVersion(text) {
            return version
        }
        throw ImageGenError.hostDriver(
            reason: "no NVIDIA driver found: nvidia-smi did not answer and \(procVersionFile) is missing; "
                + "pass --driver VERSION if the driver is there")
    }

    /// The kernel module's version file.
    static let procVersionFile = "/proc/driver/nvidia/version"

    /// `nvidia-smi --query-gpu=driver_version`: nil when it cannot be run or prints nothing.
    static func fromNvidiaSMI() throws -> DriverVersion? {
        guard let output = try? Subprocess("nvidia-smi", ["--query-gpu=driver_version", "--format=csv,noheader"]).run(),
              output.status == .exited(0), let first = output.stdoutText.split(separator: "\n").first
        else { return nil }
        do {
            return try DriverVersion(parsing: first.trimmingCharacters(in: .whitespaces))
        } catch {
            throw ImageGenError.hostDriver(reason: "nvidia-smi printed '\(first)', not a driver version; pass --driver VERSION")
        }
    }

    /// The version in `/proc/driver/nvidia/version`'s first line:
    /// `NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  Thu …`.
    public static func parseProcVersion(_ text: String) -> DriverVersion? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("NVRM version:") }) else { return nil }
        for word in line.split(separator: " ") where word.contains(".") && word.allSatisfy({ $0.isNumber || $0 == "." }) {
            if let version = try? DriverVersion(parsing: String(word)) { return version }
        }
        return nil
    }

    /// The device nodes the driver made, as names below `devices`: `nvidiactl`, `nvidia0`…,
    /// `nvidia-uvm`, `nvidia-uvm-tools`, `nvidia-modeset`, and `nvidia-caps/…` (a folder on
    /// MIG-capable GPUs), sorted. Names, not paths, so that whoever places them joins them once.
    public static func deviceNames(devices: String = "/dev") -> [String] {
        let fm = FileManager.default
        var names: [String] = []
        for name in (try? fm.contentsOfDirectory(atPath: devices)) ?? [] where name.hasPrefix("nvidia") {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: "\(devices)/\(name)", isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                names += ((try? fm.contentsOfDirectory(atPath: "\(devices)/\(name)")) ?? []).map { "\(name)/\($0)" }
            } else {
                names.append(name)
            }
        }
        return names.sorted()
    }

    /// The name stems of the driver's user-space libraries a CUDA container gets (the NVIDIA
    /// container toolkit's compute and utility sets): the CUDA driver, NVML, the PTX JIT
    /// compiler and NVVM (which `cuModuleLoadData` of PTX needs), and their helpers.
    public static let libraryStems = [
        "libcuda.so", "libcudadebugger.so", "libnvidia-ml.so", "libnvidia-ptxjitcompiler.so", "libnvidia-nvvm.so",
        "libnvidia-gpucomp.so", "libnvidia-cfg.so", "libnvidia-allocator.so",
    ]

    /// Folders where drivers put their libraries when `ldconfig -p` does not list them.
    static let libraryDirectories = [
        "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/nvidia/lib64",
        "/usr/local/nvidia/lib",
    ]

    /// The driver's libraries on this host (paths as found, links included), from
    /// `ldconfig -p` and the usual folders; only those of `architecture` (`x86-64`, `AArch64`)
    /// where ldconfig says. Sorted, without repeats.
    public static func libraries(architecture: String = "x86-64") -> [String] {
        var found = Set<String>()
        func wanted(_ name: String) -> Bool {
            libraryStems.contains { name == $0 || name.hasPrefix($0 + ".") }
        }
        for ldconfig in ["/sbin/ldconfig", "/usr/sbin/ldconfig"] where FileManager.default.isExecutableFile(atPath: ldconfig) {
            guard let output = try? Subprocess(ldconfig, ["-p"]).run().stdoutText else { continue }
            // "\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1"
            for line in output.split(separator: "\n") {
                let parts = line.trimmingCharacters(in: .whitespaces).components(separatedBy: " => ")
                guard parts.count == 2, let name = parts[0].split(separator: " ").first, wanted(String(name)),
                      parts[0].contains(architecture) else { continue }
                found.insert(parts[1])
            }
            break
        }
        for directory in libraryDirectories {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where wanted(name) {
                found.insert("\(directory)/\(name)")
            }
        }
        return found.filter { FileManager.default.fileExists(atPath: $0) }.sorted()
    }
}
