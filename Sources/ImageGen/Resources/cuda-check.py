#!/opt/venv/bin/python3 -I
# cuda-check: proves that the CUDA libraries of this image run on the GPUs of the host.
#
# imagegen writes this program to /usr/local/bin/cuda-check in every image that has the CUDA
# and Python components (the source is Sources/ImageGen/Resources/cuda-check.py, embedded in
# the imagegen binary). It needs nothing but Python's ctypes: the CUDA runtime and NVRTC come
# from NVIDIA's wheels in the image's venv, the driver (libcuda.so.1, libnvidia-ml.so.1, the
# /dev/nvidia* nodes) from the host, as the NVIDIA container runtime or `imagegen run-check`
# provides it. See docs/gpu.md.
"""Usage: cuda-check [--compile-only] [--help]

Prints the CUDA runtime and driver versions and the GPUs; on each GPU allocates memory,
copies data there and back, compiles a small kernel with NVRTC, launches it and checks
the result.

  --compile-only  only load the image's CUDA runtime and NVRTC and compile the kernel for
                  the newest architecture NVRTC knows (no driver or GPU needed)

Exit status:
  0  every GPU passed
  2  no NVIDIA driver found (libcuda.so.1 cannot be loaded)
  3  the image's CUDA libraries (libcudart, libnvrtc) are missing
  4  the driver is there but no GPU is visible
  5  a CUDA call failed (driver too old, allocation, copy, launch)
  6  NVRTC could not compile the kernel
  7  the kernel gave a wrong result
  1  anything else (a bug in cuda-check)
"""

import glob
import os
import sys

try:
    import ctypes
except ImportError:  # python3.X-minimal alone has no ctypes; the driver verdict still holds
    ctypes = None

NO_DRIVER, NO_RUNTIME, NO_GPU, CALL_FAILED, COMPILE_FAILED, WRONG_RESULT = 2, 3, 4, 5, 6, 7

KERNEL = r"""
extern "C" __global__ void axpy(float a, const float *x, float *y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a * x[i] + y[i];
}
"""
ELEMENTS = 1 << 20  # 4 MiB of floats; every value below is exact in binary32
HOST_DRIVER = ("The driver comes from the host: run the image with the NVIDIA container runtime (docker run --gpus all), "
               "or with `imagegen run-check IMAGE` on a host with an NVIDIA driver")
LIBRARY_DIRS = ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu",
                "/usr/lib64", "/lib64", "/usr/lib", "/lib"]


class Failure(Exception):
    """A check that failed: its message and exit status."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def driver_on_path():
    """Where the dynamic linker would find libcuda.so.1, judged without loading it (for a Python
    without ctypes): LD_LIBRARY_PATH, the default folders, the linker cache."""
    for directory in [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d] + LIBRARY_DIRS:
        if os.path.exists(os.path.join(directory, "libcuda.so.1")):
            return os.path.join(directory, "libcuda.so.1")
    try:
        with open("/etc/ld.so.cache", "rb") as cache:
            if b"libcuda.so.1\0" in cache.read():
                return "/etc/ld.so.cache"
    except OSError:
        pass
    return None


def say(line):
    print(line, flush=True)


def library_dirs():
    """The lib folders of NVIDIA's wheels on this interpreter's path (the venv's site-packages)."""
    return sorted({d for root in sys.path if root for d in glob.glob(os.path.join(root, "nvidia", "*", "lib"))})


def site_packages():
    return ", ".join(p for p in sys.path if p.endswith("-packages")) or "sys.path"


def load_wheel_library(stem):
    """A library of the image's wheels by file name stem (libcudart.so), or by soname."""
    for directory in library_dirs():
        for path in sorted(glob.glob(os.path.join(directory, stem + ".*"))):
            if os.path.basename(path).startswith(stem + "."):
                try:
                    return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL), path
                except OSError as error:
                    raise Failure(NO_RUNTIME, "%s is in the image but cannot be loaded: %s" % (path, error))
    try:
        return ctypes.CDLL(stem + ".12", mode=ctypes.RTLD_GLOBAL), stem + ".12"
    except OSError:
        return None, None


def version_text(number):
    """CUDA's integer version (12060) as text (12.6)."""
    return "%d.%d" % (number // 1000, (number % 1000) // 10)


class Driver:
    """The CUDA driver API of libcuda.so.1, with every call's result checked."""

    def __init__(self, lib):
        self.lib = lib

    def error_text(self, code):
        name, text = ctypes.c_char_p(), ctypes.c_char_p()
        self.lib.cuGetErrorName(code, ctypes.byref(name))
        self.lib.cuGetErrorString(code, ctypes.byref(text))
        return "%s (%d): %s" % ((name.value or b"?").decode(), code, (text.value or b"?").decode())

    def __call__(self, name, *args, status=CALL_FAILED):
        code = getattr(self.lib, name)(*args)
        if code != 0:
            raise Failure(status, "%s failed: %s" % (name, self.error_text(code)))


class Runtime:
    """The CUDA runtime API of the image's libcudart, with every call's result checked."""

    def __init__(self, lib):
        self.lib = lib
        self.lib.cudaGetErrorString.restype = ctypes.c_char_p
        self.lib.cudaGetErrorName.restype = ctypes.c_char_p

    def __call__(self, name, *args):
        code = getattr(self.lib, name)(*args)
        if code != 0:
            text = "%s (%d): %s" % (self.lib.cudaGetErrorName(code).decode(), code, self.lib.cudaGetErrorString(code).decode())
            if code == 35:  # cudaErrorInsufficientDriver
                text += " (the host driver is older than this image's CUDA runtime needs)"
            raise Failure(CALL_FAILED, "%s failed: %s" % (name, text))


def driver_version_text():
    """The kernel module's version, from NVML or /proc, when either is there."""
    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
        if nvml.nvmlInit_v2() == 0:
            buffer = ctypes.create_string_buffer(96)
            if nvml.nvmlSystemGetDriverVersion(buffer, 96) == 0:
                return buffer.value.decode()
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/driver/nvidia/version") as file:
            for word in file.readline().split():
                if word.count(".") >= 1 and word.replace(".", "").isdigit():
                    return word
    except OSError:
        pass
    return None


def compile_ptx(nvrtc, architecture):
    """The kernel as PTX for the newest virtual architecture NVRTC knows that is not newer than
    `architecture` (90 for compute capability 9.0): the driver compiles PTX for newer GPUs too."""
    count = ctypes.c_int()
    if nvrtc.nvrtcGetNumSupportedArchs(ctypes.byref(count)) == 0 and count.value > 0:
        archs = (ctypes.c_int * count.value)()
        nvrtc.nvrtcGetSupportedArchs(archs)
        usable = [a for a in archs if a <= architecture]
        if not usable:
            raise Failure(COMPILE_FAILED, "NVRTC supports no architecture up to compute_%d" % architecture)
        architecture = max(usable)
    nvrtc.nvrtcGetErrorString.restype = ctypes.c_char_p

    def check(name, code, log=""):
        if code != 0:
            raise Failure(COMPILE_FAILED, "%s failed: %s%s" % (name, nvrtc.nvrtcGetErrorString(code).decode(), log))

    program = ctypes.c_void_p()
    check("nvrtcCreateProgram", nvrtc.nvrtcCreateProgram(ctypes.byref(program), KERNEL.encode(), b"axpy.cu", 0, None, None))
    try:
        option = ("--gpu-architecture=compute_%d" % architecture).encode()
        options = (ctypes.c_char_p * 1)(option)
        code = nvrtc.nvrtcCompileProgram(program, 1, options)
        if code != 0:
            size = ctypes.c_size_t()
            nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
            log = ctypes.create_string_buffer(size.value)
            nvrtc.nvrtcGetProgramLog(program, log)
            check("nvrtcCompileProgram", code, "\n" + log.value.decode(errors="replace"))
        size = ctypes.c_size_t()
        check("nvrtcGetPTXSize", nvrtc.nvrtcGetPTXSize(program, ctypes.byref(size)))
        ptx = ctypes.create_string_buffer(size.value)
        check("nvrtcGetPTX", nvrtc.nvrtcGetPTX(program, ptx))
        return ptx.raw, "compute_%d" % architecture
    finally:
        nvrtc.nvrtcDestroyProgram(ctypes.byref(program))


def check_gpu(index, cuda, cudart, nvrtc):
    """Allocates, copies, compiles, launches and checks on GPU `index`."""
    import array
    device = ctypes.c_int()
    cuda("cuDeviceGet", ctypes.byref(device), index)
    name = ctypes.create_string_buffer(256)
    cuda("cuDeviceGetName", name, 256, device)
    major, minor, memory = ctypes.c_int(), ctypes.c_int(), ctypes.c_size_t()
    cuda("cuDeviceGetAttribute", ctypes.byref(major), 75, device)  # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
    cuda("cuDeviceGetAttribute", ctypes.byref(minor), 76, device)  # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
    cuda("cuDeviceTotalMem_v2", ctypes.byref(memory), device)
    say("GPU %d: %s, compute capability %d.%d, %.1f GiB" % (index, name.value.decode(), major.value, minor.value, memory.value / 2**30))

    # Memory through the image's runtime (its primary context), the kernel through the driver API.
    cudart("cudaSetDevice", index)
    cudart("cudaFree", None)
    size = ELEMENTS * 4
    x = array.array("f", range(ELEMENTS))
    y = array.array("f", (2.0 * (i % 1024) for i in range(ELEMENTS)))
    expected = array.array("f", (3.0 * a + b for a, b in zip(x, y)))  # exact: all below 2**24
    back = array.array("f", bytes(size))
    x_buffer, y_buffer, back_buffer = (ctypes.c_char * size).from_buffer(x), (ctypes.c_char * size).from_buffer(y), \
        (ctypes.c_char * size).from_buffer(back)
    dx, dy = ctypes.c_void_p(), ctypes.c_void_p()
    cudart("cudaMalloc", ctypes.byref(dx), ctypes.c_size_t(size))
    cudart("cudaMalloc", ctypes.byref(dy), ctypes.c_size_t(size))
    try:
        cudart("cudaMemcpy", dx, x_buffer, ctypes.c_size_t(size), 1)  # cudaMemcpyHostToDevice
        cudart("cudaMemcpy", dy, y_buffer, ctypes.c_size_t(size), 1)
        cudart("cudaMemcpy", back_buffer, dx, ctypes.c_size_t(size), 2)  # cudaMemcpyDeviceToHost
        if back != x:
            raise Failure(WRONG_RESULT, "GPU %d: %d bytes copied to the device and back came back different" % (index, size))
        say("GPU %d: copied %d MiB to the device and back" % (index, size >> 20))

        ptx, architecture = compile_ptx(nvrtc, major.value * 10 + minor.value)
        module, function = ctypes.c_void_p(), ctypes.c_void_p()
        cuda("cuModuleLoadData", ctypes.byref(module), ptx)
        try:
            cuda("cuModuleGetFunction", ctypes.byref(function), module, b"axpy")
            a, n = ctypes.c_float(3.0), ctypes.c_int(ELEMENTS)
            xp, yp = ctypes.c_uint64(dx.value), ctypes.c_uint64(dy.value)
            params = (ctypes.c_void_p * 4)(*[ctypes.addressof(v) for v in (a, xp, yp, n)])
            threads = 256
            blocks = (ELEMENTS + threads - 1) // threads
            cuda("cuLaunchKernel", function, blocks, 1, 1, threads, 1, 1, 0, None, params, None)
            cuda("cuCtxSynchronize")
        finally:
            cuda.lib.cuModuleUnload(module)
        cudart("cudaMemcpy", back_buffer, dy, ctypes.c_size_t(size), 2)
        if back != expected:
            wrong = [i for i in range(ELEMENTS) if back[i] != expected[i]]
            i = wrong[0]
            raise Failure(WRONG_RESULT, "GPU %d: axpy gave %r at element %d, expected %r (%d of %d elements wrong)"
                          % (index, back[i], i, expected[i], len(wrong), ELEMENTS))
        say("GPU %d: NVRTC compiled axpy for %s, %d blocks of %d threads: all %d results correct"
            % (index, architecture, blocks, threads, ELEMENTS))
    finally:
        cudart.lib.cudaFree(dx)
        cudart.lib.cudaFree(dy)


def load_nvrtc(cudart_lib):
    """The image's NVRTC, after checking that its runtime is there too."""
    if cudart_lib is None:
        raise Failure(NO_RUNTIME, "the CUDA runtime (libcudart.so.*) is not in this image: no nvidia/cuda_runtime/lib in %s"
                      % site_packages())
    nvrtc_lib, nvrtc_path = load_wheel_library("libnvrtc.so")
    if nvrtc_lib is None:
        raise Failure(NO_RUNTIME, "NVRTC (libnvrtc.so.*) is not in this image: no nvidia/cuda_nvrtc/lib in %s"
                      % site_packages())
    # libnvrtc opens its builtins by soname; load them from the same folder first.
    for builtins in glob.glob(os.path.join(os.path.dirname(nvrtc_path), "libnvrtc-builtins.so.*")) if os.path.isabs(nvrtc_path) else []:
        ctypes.CDLL(builtins, mode=ctypes.RTLD_GLOBAL)
    nv_major, nv_minor = ctypes.c_int(), ctypes.c_int()
    nvrtc_lib.nvrtcVersion(ctypes.byref(nv_major), ctypes.byref(nv_minor))
    say("NVRTC %d.%d (%s)" % (nv_major.value, nv_minor.value, nvrtc_path))

    return nvrtc_lib


def main():
    arguments = sys.argv[1:]
    if any(arg in ("-h", "--help") for arg in arguments):
        print(__doc__.strip())
        return 0
    compile_only = arguments == ["--compile-only"]
    if arguments and not compile_only:
        raise Failure(1, "unexpected argument %r (see --help)" % arguments[0])

    if ctypes is None:
        if driver_on_path() is None:
            raise Failure(NO_DRIVER, "no NVIDIA driver found: libcuda.so.1 is in neither the library folders nor the linker "
                          "cache. " + HOST_DRIVER)
        raise Failure(NO_RUNTIME, "this image's Python has no ctypes module (python3.X-minimal alone has none); "
                      "cuda-check needs it to load the CUDA libraries")

    cudart_lib, cudart_path = load_wheel_library("libcudart.so")
    if cudart_lib is not None:
        version = ctypes.c_int()
        cudart_lib.cudaRuntimeGetVersion(ctypes.byref(version))
        say("CUDA runtime %s (%s)" % (version_text(version.value), cudart_path))

    if compile_only:
        nvrtc_lib = load_nvrtc(cudart_lib)
        ptx, architecture = compile_ptx(nvrtc_lib, 10**6)
        say("NVRTC compiled axpy for %s: %d bytes of PTX" % (architecture, len(ptx)))
        return 0

    try:
        libcuda = ctypes.CDLL("libcuda.so.1", mode=ctypes.RTLD_GLOBAL)
    except OSError as error:
        raise Failure(NO_DRIVER, "no NVIDIA driver found: libcuda.so.1 cannot be loaded (%s). %s" % (error, HOST_DRIVER))
    cuda = Driver(libcuda)
    driver_api = ctypes.c_int()
    cuda("cuDriverGetVersion", ctypes.byref(driver_api))
    module = driver_version_text()
    say("NVIDIA driver %s, supports CUDA %s" % (module or "(version unknown)", version_text(driver_api.value)))

    nvrtc_lib = load_nvrtc(cudart_lib)
    code = libcuda.cuInit(0)
    if code == 100:  # CUDA_ERROR_NO_DEVICE
        raise Failure(NO_GPU, "the NVIDIA driver is there but no GPU is visible: %s. Check the /dev/nvidia* device nodes "
                      "and NVIDIA_VISIBLE_DEVICES" % cuda.error_text(code))
    if code != 0:
        raise Failure(NO_GPU if code in (101, 999) else CALL_FAILED, "cuInit failed: %s" % cuda.error_text(code))
    cudart = Runtime(cudart_lib)
    count = ctypes.c_int()
    cudart("cudaGetDeviceCount", ctypes.byref(count))
    if count.value == 0:
        raise Failure(NO_GPU, "the NVIDIA driver is there but no GPU is visible (cudaGetDeviceCount: 0)")
    say("GPUs: %d" % count.value)
    for index in range(count.value):
        check_gpu(index, cuda, cudart, nvrtc_lib)
    say("cuda-check: OK, %d GPU%s passed" % (count.value, "" if count.value == 1 else "s"))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as failure:
        print("cuda-check: " + str(failure), file=sys.stderr, flush=True)
        sys.exit(failure.status)
    except Exception as error:  # a bug here, not a verdict on the GPU
        print("cuda-check: internal error: %s: %s" % (type(error).__name__, error), file=sys.stderr, flush=True)
        sys.exit(1)
