import ImageModel

/// Where things live in the image's venv, `/opt/venv`, for one Python version: the directories
/// that `python3 -m venv /opt/venv` makes on Debian and that pip installs into (the `venv`
/// scheme of `sysconfig`, where purelib and platlib are one `site-packages`).
///
/// Paths are relative to a component tree's root (no leading `/`) unless their name says
/// they are container paths.
public struct VenvLayout: Hashable, Sendable {
    /// The venv's directory in a tree.
    public static let prefix = "opt/venv"

    /// The interpreter's `MAJOR.MINOR`: wheels install per minor version.
    public let python: PythonVersion

    /// The layout for `python` (its micro version plays no part).
    public init(python: PythonVersion) { self.python = python.majorMinor }

    /// `python3.11`: the interpreter's name and its `lib/` directory's.
    public var pythonName: String { "python\(python.major).\(python.minor)" }

    /// `opt/venv/lib/python3.11/site-packages`: purelib and platlib.
    public var sitePackages: String { "\(Self.prefix)/lib/\(pythonName)/site-packages" }

    /// `opt/venv/bin`: scripts and entry-point launchers.
    public var bin: String { "\(Self.prefix)/bin" }

    /// `opt/venv/include`.
    public var include: String { "\(Self.prefix)/include" }

    /// `opt/venv/include/site/python3.11/NAME`: a distribution's headers, as pip places them in a venv.
    public func headers(distribution: String) -> String { "\(include)/site/\(pythonName)/\(distribution)" }

    /// `/opt/venv/bin/python3.11`: the venv's interpreter as scripts' shebangs name it.
    public var interpreter: String { "/\(bin)/\(pythonName)" }

    /// `/usr/bin/python3.11`: Debian's interpreter, which the venv's links point to.
    public var systemInterpreter: String { "/usr/bin/\(pythonName)" }
}
