/// `pyc-compiler`, the program a host CPython runs (`python3.X -S -s -B -c PROGRAM FLAVOUR`) to
/// byte-compile an image's Python files: one process serves many files, so torch's thousands of
/// modules cost one interpreter start, not one each. See ``BytecodeCompiler`` and
/// docs/building.md, "Bytecode".
enum PycCompilerProgram {
    /// The program's text.
    static let source = #"""
        # pyc-compiler: imagegen's byte-compiler. Run by a host CPython of the image's MAJOR.MINOR
        # (never a program from the image) with one argument, the pyc flavour:
        #
        #   timestamp       the source's mtime and size in the header (PEP 3147; what Debian and pip write)
        #   checked-hash    PEP 552, the source's SipHash, checked at import (flags 0b11)
        #   unchecked-hash  PEP 552, never checked (flags 0b01)
        #   probe           print the READY line and sys.executable, and exit
        #
        # It writes "READY IMPLEMENTATION VERSION CACHE_TAG MAGIC\n", then answers requests on
        # stdin in order until stdin ends:
        #
        #   request:  "LENGTH MTIME DFILE\n" and LENGTH bytes of source
        #   answer:   "OK LENGTH\n" and LENGTH bytes of .pyc, or "SKIP REASON\n"
        #
        # DFILE is the path the code objects record: the file's path in the image, as pip and
        # py_compile record it. Code is compiled at optimisation level 0 (pip's and Debian's
        # default). A source that does not compile (Python 2 syntax, a bad encoding declaration,
        # a null byte) is skipped, as pip's compileall and Debian's py_compile skip it.
        #
        # Only frozen and built-in modules are imported (besides the codecs every interpreter
        # loads), so what the process has interned does not depend on the host's other modules:
        # marshal writes an interned string differently from one that is not.
        import _imp
        import marshal
        import os
        import sys

        bootstrap = sys.modules["_frozen_importlib_external"]
        FLAGS = {"timestamp": 0, "unchecked-hash": 0b01, "checked-hash": 0b11}


        def main():
            flavour = sys.argv[1]
            stdout = sys.stdout.buffer
            version = ".".join(map(str, sys.version_info[:3]))
            if sys.version_info.releaselevel != "final":
                version += sys.version_info.releaselevel[0] + str(sys.version_info.serial)
            ready = f"READY {sys.implementation.name} {version} {sys.implementation.cache_tag} {bootstrap.MAGIC_NUMBER.hex()}\n"
            stdout.write(ready.encode())
            stdout.flush()
            if flavour == "probe":
                stdout.write(os.fsencode(sys.executable) + b"\n")
                return
            flags = FLAGS[flavour]
            stdin = sys.stdin.buffer
            while True:
                line = stdin.readline()
                if not line:
                    return
                length, mtime, dfile = line.rstrip(b"\n").split(b" ", 2)
                source = stdin.read(int(length))
                if len(source) != int(length):
                    raise SystemExit("pyc-compiler: the input ended inside a source")
                # The name stays referenced while the code is marshalled, as py_compile's and
                # pip's callers hold it: marshal flags an object referenced more than once
                # (FLAG_REF), so a co_filename held by the code objects alone is written otherwise.
                filename = os.fsdecode(dfile)
                try:
                    code = compile(source, filename, "exec", dont_inherit=True, optimize=0)
                except Exception as error:  # whatever compile() raises, the file is skipped
                    reason = f"{type(error).__name__}: {error}".replace("\n", " ")
                    stdout.write(b"SKIP " + reason.encode("utf-8", "replace") + b"\n")
                    stdout.flush()
                    continue
                header = bytearray(bootstrap.MAGIC_NUMBER)
                header += flags.to_bytes(4, "little")
                if flavour == "timestamp":
                    header += (int(mtime) & 0xFFFFFFFF).to_bytes(4, "little")
                    header += (len(source) & 0xFFFFFFFF).to_bytes(4, "little")
                else:
                    header += _imp.source_hash(bootstrap._RAW_MAGIC_NUMBER, source)
                data = bytes(header) + marshal.dumps(code)
                del code, filename
                stdout.write(b"OK %d\n" % len(data))
                stdout.write(data)
                stdout.flush()


        main()
        """#
}
