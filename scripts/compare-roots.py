#!/usr/bin/env python3
"""Compares an image's root file system with a reference root made by Debian's installer.

    scripts/compare-roots.py --reference REF --image ROOT --allowlist FILE [--report OUT.txt]

REF and ROOT are directories, or tar files (REF as mmdebstrap writes it). Every path is
compared by kind, mode, owner, link target, and — under /etc and /var/lib/dpkg — content.
Each difference is one line:

    missing PATH            the reference has it, the image does not
    extra PATH              the image has it, the reference does not
    differs PATH: WHAT      both have it; WHAT is kind, mode, owner, target or content

An allowlist line is `KIND PATTERN  REASON` (KIND: missing, extra, differs or any; PATTERN an
fnmatch pattern over the whole path, `*` crossing `/`; REASON is required). A difference that
no line allows is a failure: the exit code is 1 and the unallowed lines are printed. Counts
before and after the allowlist are printed last.
"""
import argparse
import fnmatch
import hashlib
import os
import stat
import sys
import tarfile

CONTENT_ROOTS = ("/etc/", "/var/lib/dpkg/")


def walk_directory(root):
    entries = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            host = os.path.join(directory, name)
            path = "/" + os.path.relpath(host, root)
            st = os.lstat(host)
            entry = {"kind": kind_of(st.st_mode), "mode": stat.S_IMODE(st.st_mode), "owner": (st.st_uid, st.st_gid)}
            if stat.S_ISLNK(st.st_mode):
                entry["target"] = os.readlink(host)
            elif stat.S_ISREG(st.st_mode) and path.startswith(CONTENT_ROOTS):
                with open(host, "rb") as f:
                    entry["content"] = hashlib.sha256(f.read()).hexdigest()
            entries[path] = entry
    return entries


def walk_tar(path):
    entries = {}
    with tarfile.open(path) as archive:
        for member in archive:
            name = "/" + os.path.normpath(member.name).lstrip("./")
            if name == "/":
                continue
            if member.isdir():
                kind = "directory"
            elif member.issym():
                kind = "symlink"
            elif member.isreg() or member.islnk():
                kind = "file"
            else:
                kind = "other"
            entry = {"kind": kind, "mode": member.mode & 0o7777, "owner": (member.uid, member.gid)}
            if member.issym():
                entry["target"] = member.linkname
            elif kind == "file" and name.startswith(CONTENT_ROOTS):
                source = archive.getmember(member.linkname) if member.islnk() else member
                entry["content"] = hashlib.sha256(archive.extractfile(source).read()).hexdigest()
            entries[name] = entry
    return entries


def kind_of(mode):
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISREG(mode):
        return "file"
    return "other"


def load(path):
    return walk_directory(path) if os.path.isdir(path) else walk_tar(path)


def differences(reference, image):
    for path in sorted(set(reference) | set(image)):
        if path not in image:
            yield "missing", path, ""
        elif path not in reference:
            yield "extra", path, ""
        else:
            ref, img = reference[path], image[path]
            for key in ("kind", "mode", "owner", "target", "content"):
                if ref.get(key) != img.get(key):
                    shown = f"{key} {fmt(key, ref.get(key))} → {fmt(key, img.get(key))}"
                    yield "differs", path, shown


def fmt(key, value):
    if key == "mode" and value is not None:
        return oct(value)
    if key == "content" and value is not None:
        return value[:12]
    return str(value)


def read_allowlist(path):
    rules = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) < 3 or parts[0] not in ("missing", "extra", "differs", "any"):
                sys.exit(f"{path}:{number}: expected 'missing|extra|differs|any PATTERN REASON', got {line!r}")
            rules.append((parts[0], parts[1], parts[2]))
    return rules


def allowed(rules, kind, path):
    return any((rule_kind in (kind, "any")) and fnmatch.fnmatchcase(path, pattern) for rule_kind, pattern, _ in rules)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", required=True, help="the reference root (directory or tar)")
    parser.add_argument("--image", required=True, help="the image's root (directory or tar)")
    parser.add_argument("--allowlist", required=True, action="append", help="an allowlist file (repeat for several)")
    parser.add_argument("--report", help="write every difference, allowed or not, to this file")
    args = parser.parse_args()
    rules = [rule for path in args.allowlist for rule in read_allowlist(path)]
    found = list(differences(load(args.reference), load(args.image)))
    unallowed = [d for d in found if not allowed(rules, d[0], d[1])]
    if args.report:
        with open(args.report + ".tmp", "w") as f:
            for kind, path, what in found:
                f.write(f"{kind} {path}{': ' + what if what else ''}\n")
        os.replace(args.report + ".tmp", args.report)
    for kind, path, what in unallowed:
        print(f"{kind} {path}{': ' + what if what else ''}")
    counts = {k: sum(1 for d in found if d[0] == k) for k in ("missing", "extra", "differs")}
    left = {k: sum(1 for d in unallowed if d[0] == k) for k in ("missing", "extra", "differs")}
    print(f"compare-roots: {len(found)} differences ({counts['missing']} missing, {counts['extra']} extra, "
          f"{counts['differs']} differ); {len(unallowed)} not in the allowlist ({left['missing']} missing, "
          f"{left['extra']} extra, {left['differs']} differ)", file=sys.stderr)
    return 1 if unallowed else 0


if __name__ == "__main__":
    sys.exit(main())
