import ImageModel

/// The skeleton of the image's venv at `/opt/venv`, as `python3.X -m venv /opt/venv` makes it
/// on Debian (without pip and without activate scripts), for the interpreter `/usr/bin/python3.X`:
///
/// ```
/// opt/venv/pyvenv.cfg
/// opt/venv/bin/python3.X -> /usr/bin/python3.X
/// opt/venv/bin/python3 -> python3.X
/// opt/venv/bin/python -> python3.X
/// opt/venv/include/
/// opt/venv/lib/python3.X/site-packages/
/// opt/venv/lib64 -> lib
/// ```
///
/// The content depends on the Python version alone, so the layer that holds it is
/// reproducible.
public struct VenvSkeleton: Hashable, Sendable {
    /// The interpreter's full version, `3.11.2`: `pyvenv.cfg` records it.
    public let python: PythonVersion

    /// A skeleton for the interpreter `python`, which must name its micro version (`3.11.2`),
    /// as `pyvenv.cfg` does.
    public init(python: PythonVersion) throws {
        guard python.micro != nil else {
            throw RootfsError.invalidArgument(
                name: "Python version", value: python.description,
                reason: "the venv's pyvenv.cfg records the full version: give MAJOR.MINOR.MICRO, e.g. 3.11.2")
        }
        self.python = python
    }

    /// Where things live in this venv.
    public var layout: VenvLayout { VenvLayout(python: python) }

    /// `pyvenv.cfg`, with the keys in the order `venv` writes them. Python 3.11 added
    /// `executable` and `command`; they are written for 3.11 and later only, as `venv` does.
    public var configuration: String {
        var text = """
            home = /usr/bin
            include-system-site-packages = false
            version = \(python)

            """
        if (python.major, python.minor) >= (3, 11) {
            text += "executable = \(layout.systemInterpreter)\n"
            text += "command = \(layout.systemInterpreter) -m venv /\(VenvLayout.prefix)\n"
        }
        return text
    }

    /// The directories of the skeleton (relative to the root), parents implied.
    public var directories: [String] { [layout.bin, layout.include, layout.sitePackages] }

    /// The skeleton's symbolic links: (path relative to the root, target).
    public var links: [(path: String, target: String)] {
        [
            ("\(layout.bin)/\(layout.pythonName)", layout.systemInterpreter),
            ("\(layout.bin)/python3", layout.pythonName),
            ("\(layout.bin)/python", layout.pythonName),
            // venv makes it on 64-bit POSIX systems other than macOS.
            ("\(VenvLayout.prefix)/lib64", "lib"),
        ]
    }

    /// Writes the skeleton into the tree at `root` (an existing directory). Fails, writing
    /// nothing, if any of its files or links is already there.
    public func write(into root: String) throws {
        let writer = try VenvTreeWriter(root: root)
        do {
            for directory in directories { try writer.makeDirectory(directory) }
            let configuration = "\(VenvLayout.prefix)/pyvenv.cfg"
            guard try writer.writeFile(configuration, Array(self.configuration.utf8), mode: 0o644) else {
                throw RootfsError.io(path: writer.full(configuration), reason: "already exists; the venv skeleton goes into a fresh tree")
            }
            for (path, target) in links where try !writer.symlink(path, target: target) {
                throw RootfsError.io(path: writer.full(path), reason: "already exists; the venv skeleton goes into a fresh tree")
            }
        } catch let error as TreeWriteError {
            writer.rollback()
            throw error.rootfsError
        } catch {
            writer.rollback()
            throw error
        }
    }
}
