#if canImport(Glibc)
import Glibc
#endif

/// Makes the missing parents of `relative` below `directory` with mode 0755, the mode
/// tar gives a directory its archive does not list: libarchive would take it from the
/// process umask. Stops at anything that is not a directory (a symlink, say), leaving the
/// entry to libarchive's guards.
func makeMissingParents(of relative: String, in directory: String) {
    var path = directory
    for part in relative.split(separator: "/").dropLast() {
        path += "/" + part
        var st = stat()
        if lstat(path, &st) == 0 {
            if st.st_mode & S_IFMT == S_IFDIR { continue }
            return
        }
        guard errno == ENOENT, mkdir(path, 0o700) == 0, chmod(path, 0o755) == 0 else { return }
    }
}
