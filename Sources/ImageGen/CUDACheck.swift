import ImageModel

/// `cuda-check`, the program every image with the CUDA and Python components carries at
/// ``path``: it prints the CUDA runtime and driver versions and the GPUs, and on each GPU
/// allocates, copies, compiles a kernel with NVRTC, launches it and checks the result (exit 0),
/// or says what is missing with a distinct exit status (2: no NVIDIA driver; see docs/gpu.md).
///
/// The source is `Sources/ImageGen/Resources/cuda-check.py`, embedded in the binary by SwiftPM
/// (`.embedInCode`), so a static imagegen needs no resource files beside it.
public enum CUDACheck {
    /// Where the program lives in an image.
    public static let path = "/usr/local/bin/cuda-check"

    /// The program's bytes (a Python 3 script that needs only ctypes).
    public static var program: [UInt8] { PackageResources.cuda_check_py }

    /// Whether an image of `spec` carries the program: it needs the venv's Python and CUDA's wheels.
    public static func isInstalled(in spec: ImageSpec) -> Bool { spec.cuda != nil && spec.python != nil }

    /// The exit statuses, as `cuda-check --help` lists them.
    public enum Status: Int32, Sendable, CaseIterable {
        /// Every GPU passed.
        case passed = 0
        /// A bug in cuda-check (or a bad argument).
        case internalError = 1
        /// No NVIDIA driver: `libcuda.so.1` cannot be loaded.
        case noDriver = 2
        /// The image's CUDA runtime or NVRTC is missing.
        case noRuntime = 3
        /// The driver is there, no GPU is visible.
        case noGPU = 4
        /// A CUDA call failed.
        case callFailed = 5
        /// NVRTC could not compile the kernel.
        case compileFailed = 6
        /// The kernel gave a wrong result.
        case wrongResult = 7
    }
}
