import ArgumentParser
import Foundation
import ImageGen
import ImageModel
import OCI

struct CheckHostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-host",
        abstract: "Tell whether a host's NVIDIA driver can run an image, and why.",
        discussion: """
            The verdict is one of: full (the driver is at least the CUDA toolkit's own), \
            minor-version-compatibility (runs, without PTX JIT), forward-compatibility (only \
            with NVIDIA's cuda-compat libraries in the image, on datacenter GPUs), cannot-run. \
            imagegen's images carry no cuda-compat libraries unless the spec installs the \
            cuda-compat-MAJOR-MINOR package, so for them forward-compatibility means the image \
            does not run. Without --driver, the version is read from nvidia-smi (or \
            /proc/driver/nvidia/version).

            Exit status: 0 when the image runs on the driver (full, minor-version-compatibility, \
            or forward-compatibility in an image with cuda-compat), 1 when it does not.

            Examples:
              imagegen check-host v2.7 --driver 550.54.15
              imagegen check-host v2.7          # asks nvidia-smi
            """
    )

    @Argument(help: "The spec name (Images/NAME.yaml).")
    var name: String

    @Option(help: "The host driver version, e.g. 550.54.15 (default: read nvidia-smi).")
    var driver: String?

    @Flag(name: .shortAndLong, help: "Print the verdict as JSON on stdout.")
    var json = false

    @OptionGroup var specs: SpecOptions

    func validate() throws {
        if let driver {
            do { _ = try DriverVersion(parsing: driver) } catch { throw ValidationError("--driver: \(error)") }
        }
    }

    func run() async throws {
        let image = try specs.resolve(name)
        guard let cuda = image.cuda else {
            Console.status("\(name): the image has no CUDA component; any host runs it")
            return
        }
        let hostDriver = try driver.map(DriverVersion.init(parsing:)) ?? HostDriver.version()
        let support = cuda.support(on: hostDriver, carriesCUDACompat: image.carriesCUDACompat)
        if json {
            struct Output: Encodable {
                var image: String; var driver: String; var cuda: String; var level: String; var runs: Bool; var reason: String
            }
            print(try CanonicalJSON.pretty(Output(
                image: name, driver: "\(hostDriver)", cuda: "\(cuda.version)", level: support.level.rawValue, runs: support.runs,
                reason: support.reason)))
        } else {
            // A level that runs only with cuda-compat says so when the image has none.
            let runs = support.runs || support.level == .cannotRun ? "" : " (does not run)"
            print("\(name): \(support.level.rawValue)\(runs): \(support.reason)")
        }
        if !support.runs { throw ExitCode(1) }
    }
}
