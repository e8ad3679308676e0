import ArgumentParser
import Foundation
import ImageGen
import ImageModel

struct RunCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-check",
        abstract: "Run an image's cuda-check on this host's GPUs, with the driver injected as the NVIDIA container runtime does.",
        discussion: """
            Reads the image's NVIDIA_REQUIRE_CUDA and refuses, with the reason, when the host \
            driver cannot run it (the same verdict as check-host). Then, as root: unpacks the \
            layers into a temporary root, bind-mounts the host's /dev/nvidia* nodes, copies the \
            driver's user-space libraries (libcuda.so.1, libnvidia-ml.so.1, \
            libnvidia-ptxjitcompiler.so.1, ...) into the root's library folder and refreshes its \
            linker cache, mounts /proc and /sys, and runs /usr/local/bin/cuda-check (or the \
            command after --) in a chroot with the image's environment. Everything is unmounted \
            and deleted afterwards.

            Exit status: the command's (cuda-check: 0 passed, 2 no NVIDIA driver, 3 no CUDA \
            runtime in the image, 4 no GPU visible, 5 a CUDA call failed, 6 NVRTC failed, 7 \
            wrong result); 1 when run-check refuses (no driver, a driver too old, not root, a bad \
            image).

            Examples:
              sudo imagegen run-check out/cuda-smoke.tar
              sudo imagegen run-check out/v2.7 -- python -c 'import torch; print(torch.cuda.get_device_name())'
              imagegen run-check out/cuda-smoke --driver 470.57.02   # would this driver do?
              sudo imagegen run-check out/cuda-smoke.tar --no-driver     # as without --gpus: exit 2
              sudo imagegen run-check out/cuda-smoke.tar --env CUDA_VISIBLE_DEVICES=   # no GPU visible: exit 4
            """
    )

    @Argument(help: "An OCI layout directory or an image archive (tar).")
    var image: String

    @Option(help: "The host driver version, e.g. 580.65.06 (default: nvidia-smi, then /proc/driver/nvidia/version).")
    var driver: String?

    @Option(help: "Where the temporary root is made (default: $TMPDIR or /tmp).")
    var workDir: String?

    @Option(name: .customLong("env"), help: "NAME=VALUE added to the image's environment; repeat for several (e.g. CUDA_VISIBLE_DEVICES=).")
    var environment: [String] = []

    @Flag(help: "Run without the driver (no NVIDIA devices or libraries, no driver check), as a container without --gpus.")
    var noDriver = false

    @Argument(parsing: .postTerminator, help: "The command to run in the image (default: /usr/local/bin/cuda-check).")
    var command: [String] = []

    func validate() throws {
        if let driver {
            do { _ = try DriverVersion(parsing: driver) } catch { throw ValidationError("--driver: \(error)") }
        }
        for line in environment {
            guard let equals = line.firstIndex(of: "="), equals != line.startIndex else {
                throw ValidationError("--env '\(line)': expected NAME=VALUE")
            }
        }
    }

    func run() async throws {
        var options = RunCheck.Options(image: image, catalog: try Catalog.builtin())
        options.driver = try driver.map(DriverVersion.init(parsing:))
        if !command.isEmpty { options.command = command }
        if let workDir { options.workDirectory = workDir }
        options.environment = environment
        options.injectDriver = !noDriver
        let status = try RunCheck(options: options, progress: { Console.status("run-check: \($0)") }).run()
        Console.status("run-check: \(options.command.joined(separator: " ")) exited \(status)")
        if status != 0 { throw ExitCode(status) }
    }
}
