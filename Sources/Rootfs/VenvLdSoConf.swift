import Glibc
import ImageModel

/// The dynamic linker's configuration for the CUDA libraries that NVIDIA's wheels install.
///
/// The `nvidia-*-cu12` wheels put their shared libraries in
/// `site-packages/nvidia/<library>/lib/`, where Python finds them (torch preloads them) but
/// the dynamic linker does not. A file in `/etc/ld.so.conf.d/` that lists those directories
/// lets `ldconfig` put them in its cache, so non-Python programs find them too.
public enum LdSoConf {
    /// The `nvidia/*/lib` directories present in the tree at `root`, as container paths
    /// (`/opt/venv/lib/python3.X/site-packages/nvidia/cuda_runtime/lib`), in byte order.
    public static func nvidiaLibraryDirectories(root: String, python: PythonVersion) throws -> [String] {
        let nvidia = "\(VenvLayout(python: python).sitePackages)/nvidia"
        guard let directory = opendir("\(root)/\(nvidia)") else {
            if errno == ENOENT || errno == ENOTDIR { return [] }
            throw RootfsError.io(path: "\(root)/\(nvidia)", reason: String(cString: strerror(errno)))
        }
        defer { closedir(directory) }
        var found: [String] = []
        while let item = readdir(directory) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            // Real directories only: a symlink here would point the linker somewhere unexpected.
            var st = stat()
            guard lstat("\(root)/\(nvidia)/\(name)", &st) == 0, st.st_mode & S_IFMT == S_IFDIR,
                  lstat("\(root)/\(nvidia)/\(name)/lib", &st) == 0, st.st_mode & S_IFMT == S_IFDIR
            else { continue }
            found.append("/\(nvidia)/\(name)/lib")
        }
        return found.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Writes `etc/ld.so.conf.d/imagegen-COMPONENT.conf` into the tree at `root`, listing its
    /// NVIDIA library directories (see `nvidiaLibraryDirectories`), one a line, and returns
    /// them. Writes nothing when there are none.
    @discardableResult
    public static func write(component: String, root: String, python: PythonVersion) throws -> [String] {
        guard WheelFormat.isSafeFileName(component), !component.contains(where: \.isWhitespace) else {
            throw RootfsError.invalidArgument(name: "component", value: component, reason: "cannot be part of a file name")
        }
        let directories = try nvidiaLibraryDirectories(root: root, python: python)
        guard !directories.isEmpty else { return [] }
        let path = "etc/ld.so.conf.d/imagegen-\(component).conf"
        let text = "# CUDA libraries from NVIDIA's wheels (imagegen component '\(component)')\n"
            + directories.map { $0 + "\n" }.joined()
        let writer = try VenvTreeWriter(root: root)
        do {
            guard try writer.writeFile(path, Array(text.utf8), mode: 0o644) else {
                throw RootfsError.io(path: writer.full(path), reason: "already exists")
            }
        } catch let error as TreeWriteError {
            writer.rollback()
            throw error.rootfsError
        }
        return directories
    }
}
