#!/usr/bin/env python3
"""Assemble the fork's CPython tree and export work from it.

The project stores only the fork's own content under ``cpython/``: wholly new files as plain files and
changes to upstream files as per-file unified diffs named ``<path>.patch``.  This tool turns that into
a working tree and back:

``tree``
    Build ``build/cpython/`` as a git repository.  Its first commit (tagged ``pristine``) is the
    pristine upstream tarball; the second (tagged ``base``) applies the Debian security patches that
    ``base/debian-patches.txt`` lists; the third (tagged ``fork``) adds ``cpython/`` and the files
    CPython's own ``regen`` targets produce from it.  Identities and dates are fixed, so the same
    inputs give the same commit ids.  Refuses to replace a tree that holds unexported work unless
    ``--force``; re-assembles a tree that holds none when ``cpython/`` or the base moved on.
``export``
    Write the assembled tree's change against ``base`` (committed or not) back into ``cpython/``.
    Generated files are left out; the output is deterministic and exporting twice changes nothing.
``check-exported``
    Exit 1, naming the files, when ``export`` would change ``cpython/``.
``review``
    Write the whole change, generated files included, as one diff (``build/fork.diff``).
``base DEST [--pristine]``
    Extract the base alone (no fork content) into DEST, for the stock reference: the same patched
    tree as the ``base`` commit, or with ``--pristine`` the bare tarball.  Does nothing when DEST
    already holds it.  Prints the base's label (the Debian revision, or ``pristine``).
"""

import argparse
import fnmatch
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATCH_LIST = os.path.join(TOP, "base", "debian-patches.txt")
ADJUSTED = os.path.join(TOP, "base", "adjusted")

# Files that CPython's regen targets write in full.  They are regenerated during assembly and never
# exported.  (Files with only a generated section, such as Include/internal/pycore_runtime_init.h, are
# exported like any other edit; regenerating them afterwards is a no-op.)
GENERATED = [
    "Include/opcode.h",
    "Include/internal/pycore_opcode.h",
    "Python/opcode_targets.h",
    "Objects/typeslots.inc",
    "Doc/library/token-list.inc",
    "Include/token.h",
    "Parser/token.c",
    "Lib/token.py",
    "Include/internal/pycore_ast.h",
    "Include/internal/pycore_ast_state.h",
    "Python/Python-ast.c",
    "Lib/keyword.py",
    "Modules/_sre/sre_constants.h",
    "Modules/_sre/sre_targets.h",
    "Parser/parser.c",
    "Tools/peg_generator/pegen/grammar_parser.py",
    "Include/internal/pycore_global_strings.h",
    "*/clinic/*.h",
]

# CPython's regen targets run after the fork's content is applied.  Each needs only PYTHON_FOR_REGEN,
# not a built interpreter.
REGEN_TARGETS = [
    "regen-opcode", "regen-opcode-targets", "regen-typeslots", "regen-token", "regen-ast",
    "regen-keyword", "regen-sre", "clinic", "regen-pegen-metaparser", "regen-pegen",
    "regen-global-objects",
]

# Never part of the change: what running an out-of-tree build writes into the source tree
# (bytecode caches; lib2to3's grammar pickles, written by its tests).
EXCLUDES = ["__pycache__/", "*.py[co]", "/Lib/lib2to3/*.pickle"]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "fork tools", "GIT_AUTHOR_EMAIL": "fork-tools@localhost",
    "GIT_COMMITTER_NAME": "fork tools", "GIT_COMMITTER_EMAIL": "fork-tools@localhost",
    "GIT_AUTHOR_DATE": "2023-02-08T00:00:00+0000", "GIT_COMMITTER_DATE": "2023-02-08T00:00:00+0000",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
}


class ToolError(Exception):
    pass


def is_generated(path):
    return any(fnmatch.fnmatchcase(path, pat) for pat in GENERATED)


def run(cmd, cwd=None, env=None, input=None, check=True, capture=True):
    full_env = dict(os.environ, **GIT_ENV)
    if env:
        full_env.update(env)
    proc = subprocess.run(cmd, cwd=cwd, env=full_env, input=input,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.PIPE if capture else None)
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace") if capture else ""
        raise ToolError(f"{' '.join(cmd)} failed ({proc.returncode})\n{err}")
    return proc


def git(tree, *args, **kw):
    return run(["git", "-C", tree, *args], **kw)


class Paths:
    def __init__(self, args):
        self.fork = os.path.abspath(args.fork)
        self.build = os.path.abspath(args.build)
        self.tree = os.path.join(self.build, "cpython")
        self.regen = os.path.join(self.build, "regen")


# --- snapshot and change of the assembled tree --------------------------------------------------

def ensure_excludes(tree):
    path = os.path.join(tree, ".git", "info", "exclude")
    try:
        with open(path) as f:
            present = set(f.read().split())
    except OSError:
        present = set()
    missing = [pat for pat in EXCLUDES if pat not in present]
    if missing:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a") as f:
            f.write("\n".join(missing) + "\n")


def snapshot(tree):
    """Tree id of the working tree as it is now, untracked files included, the index untouched."""
    ensure_excludes(tree)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        git(tree, "read-tree", "HEAD", env=env)
        git(tree, "add", "-A", ".", env=env)
        return git(tree, "write-tree", env=env).stdout.decode().strip()


def changed_paths(tree, new):
    out = git(tree, "diff", "--no-renames", "--name-status", "-z", "base", new).stdout.decode()
    fields = out.split("\0")[:-1]
    return sorted(zip(fields[1::2], fields[0::2]))  # (path, status)


def file_patch(tree, new, path):
    """The unified diff of one file, without git's `index` lines (their abbreviation is not stable)."""
    out = git(tree, "diff", "--no-renames", "--no-color", "--no-ext-diff", "--no-textconv",
              "base", new, "--", path).stdout
    return b"".join(line for line in out.splitlines(keepends=True) if not line.startswith(b"index "))


def blob(tree, new, path):
    mode, _, rest = git(tree, "ls-tree", new, "--", path).stdout.decode().partition(" ")
    oid = rest.split()[1]
    return mode, git(tree, "cat-file", "blob", oid).stdout


def export_content(tree):
    """Map cpython/-relative path -> (bytes, executable) for the tree's change against base."""
    new = snapshot(tree)
    content = {}
    for path, status in changed_paths(tree, new):
        if is_generated(path):
            continue
        if status == "A":
            if path.endswith(".patch"):
                raise ToolError(f"{path}: a new file named *.patch cannot be told apart from a patch")
            mode, data = blob(tree, new, path)
            content[path] = (data, mode == "100755")
        else:
            content[path + ".patch"] = (file_patch(tree, new, path), False)
    return content


def fork_content(fork):
    content = {}
    if not os.path.isdir(fork):
        return content
    for root, dirs, files in os.walk(fork):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, fork).replace(os.sep, "/")
            with open(full, "rb") as f:
                content[rel] = (f.read(), os.access(full, os.X_OK))
    return content


def differences(want, have):
    return sorted(p for p in set(want) | set(have) if want.get(p) != have.get(p))


# --- the base: pristine tarball + curated Debian patches ------------------------------------------

def fetch(*args, build):
    return run([os.path.join(TOP, "tools", "fetch-base.sh"), *args],
               env={"FORK_BUILD_DIR": build}).stdout.decode().strip()


def read_patch_list(path=PATCH_LIST):
    """(revision, [(action, name, note)]) from base/debian-patches.txt."""
    revision, entries, seen = None, [], set()
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            words = line.split(None, 2)
            where = f"{os.path.relpath(path, TOP)}:{lineno}"
            if words[0] == "revision" and len(words) == 2:
                revision = words[1]
            elif words[0] in ("apply", "skip") and len(words) == 3:
                if words[1] in seen:
                    raise ToolError(f"{where}: {words[1]} is listed twice")
                seen.add(words[1])
                entries.append(tuple(words))
            else:
                raise ToolError(f"{where}: expected `apply NAME what it fixes`, `skip NAME why` "
                                f"or `revision REV`, got: {line}")
    if not revision:
        raise ToolError(f"{os.path.relpath(path, TOP)}: no `revision` line")
    return revision, entries


class Base:
    """The base a tree is assembled on: the pristine tarball, plus (unless pristine) the Debian
    patches the list selects, checked against the pinned Debian revision."""

    def __init__(self, build, pristine=False):
        self.pristine = pristine
        self.tarball = fetch(build=build)
        self.inputs = [self.tarball]
        if pristine:
            self.label, self.entries = "pristine", []
            return
        self.debian = fetch("--debian", build=build)
        pinned = fetch("--debian-revision", build=build)
        self.label, self.entries = read_patch_list()
        if self.label != pinned:
            raise ToolError(f"base/debian-patches.txt was curated for Debian {self.label}, but "
                            f"tools/fetch-base.sh pins {pinned}: review the list for {pinned}")
        self.inputs += [self.debian, PATCH_LIST]
        if os.path.isdir(ADJUSTED):
            self.inputs += sorted(os.path.join(ADJUSTED, n) for n in os.listdir(ADJUSTED))

    def digest(self):
        h = hashlib.sha256(f"{self.label}\0".encode())
        for path in self.inputs:
            with open(path, "rb") as f:
                h.update(f"{os.path.basename(path)}\0".encode() + hashlib.sha256(f.read()).digest())
        return h.hexdigest()

    def applied(self):
        return [name for action, name, _ in self.entries if action == "apply"]

    def extract(self, dest):
        """Write the pristine tarball into dest (which must not exist)."""
        os.makedirs(dest)
        run(["tar", "-xzf", self.tarball, "-C", dest, "--strip-components=1"])

    def patch(self, dest):
        """Apply the listed Debian patches to the pristine tree in dest."""
        with tempfile.TemporaryDirectory() as tmp:
            run(["tar", "-xJf", self.debian, "-C", tmp, "debian/patches"])
            pdir = os.path.join(tmp, "debian", "patches")
            present = {n for n in os.listdir(pdir) if n != "series"}
            with open(os.path.join(pdir, "series")) as f:
                series = [line.split("#", 1)[0].split()[0] for line in f if line.split("#", 1)[0].strip()]
            listed = {name for _, name, _ in self.entries}
            unlisted = sorted(present - listed)
            if unlisted:
                raise ToolError("Debian " + self.label + " has patches base/debian-patches.txt does not "
                                "list; decide for each (apply or skip, with the reason):\n  "
                                + "\n  ".join(unlisted))
            gone = sorted(listed - present)
            if gone:
                raise ToolError("base/debian-patches.txt lists patches Debian " + self.label
                                + " does not have:\n  " + "\n  ".join(gone))
            applied = self.applied()
            stray = [n for n in applied if n not in series]
            if stray:
                raise ToolError("base/debian-patches.txt applies patches Debian's series does not: "
                                + ", ".join(stray))
            adjusted = sorted(os.listdir(ADJUSTED)) if os.path.isdir(ADJUSTED) else []
            stale = [n for n in adjusted if n not in applied]
            if stale:
                raise ToolError("base/adjusted/ holds copies of patches the list does not apply: "
                                + ", ".join(stale))
            order = [n for n in series if n in applied]
            if order != applied:
                raise ToolError("base/debian-patches.txt applies patches in another order than "
                                "Debian's series; keep Debian's (tested) order")
            # Outside a repository git apply is a plain patch tool; the ceiling keeps it from
            # taking an enclosing repository (the project's own checkout) for the tree.
            env = {"GIT_CEILING_DIRECTORIES": os.path.dirname(os.path.abspath(dest))}
            for name in applied:
                source = os.path.join(ADJUSTED, name)
                if not os.path.isfile(source):
                    source = os.path.join(pdir, name)
                with open(source, "rb") as f:
                    data = f.read()
                proc = run(["git", "apply", "--whitespace=nowarn", "-"], cwd=dest, env=env,
                           input=data, check=False)
                if proc.returncode != 0:
                    raise ToolError(f"Debian's {name} does not apply to the base; fix it with an "
                                    f"adjusted copy in base/adjusted/{name} (see "
                                    f"base/debian-patches.txt):\n{proc.stderr.decode(errors='replace')}")

    def commit_message(self):
        applied = self.applied()
        skipped = len(self.entries) - len(applied)
        return (f"base: Debian {self.label} security and bug-fix patches\n\n"
                f"{len(applied)} patches of Debian's python3.11 {self.label} applied as "
                f"base/debian-patches.txt lists them ({skipped} left out, each with its reason):\n\n"
                + "".join(f"  {name}" + (" (adjusted: base/adjusted/" + name + ")"
                                         if os.path.isfile(os.path.join(ADJUSTED, name)) else "") + "\n"
                          for name in applied)
                + f"\nBase-Revision: {self.label}\n")


def cmd_base(paths, args):
    base = Base(paths.build, pristine=args.pristine)
    dest = os.path.abspath(args.dest)
    stamp = os.path.join(dest, ".fork-base")
    want = f"{base.label} {base.digest()}\n"
    try:
        with open(stamp) as f:
            current = f.read() == want
    except OSError:
        current = False
    if not current:
        if os.path.exists(dest):
            shutil.rmtree(dest)
        base.extract(dest)
        if not base.pristine:
            base.patch(dest)
        with open(stamp, "w") as f:
            f.write(want)
        print(f"base: {dest}: CPython 3.11.2" + ("" if base.pristine else
              f" + {len(base.applied())} patches of Debian {base.label}"), file=sys.stderr)
    print(base.label)


# --- commands ------------------------------------------------------------------------------------

def cmd_export(paths, args):
    require_tree(paths)
    want = export_content(paths.tree)
    have = fork_content(paths.fork)
    diff = differences(want, have)
    for rel in diff:
        dest = os.path.join(paths.fork, rel)
        if rel not in want:
            os.remove(dest)
            prune_empty_dirs(paths.fork, os.path.dirname(dest))
            print(f"removed  cpython/{rel}")
            continue
        data, executable = want[rel]
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as f:
            f.write(data)
        os.chmod(dest, 0o755 if executable else 0o644)
        print(f"{'updated ' if rel in have else 'added   '} cpython/{rel}")
    if not diff:
        print("export: cpython/ is up to date")


def prune_empty_dirs(stop, d):
    while os.path.abspath(d) != os.path.abspath(stop) and os.path.isdir(d) and not os.listdir(d):
        os.rmdir(d)
        d = os.path.dirname(d)


def cmd_check_exported(paths, args):
    if not os.path.isdir(os.path.join(paths.tree, ".git")):
        print("check-exported: no assembled tree; nothing to export")
        return 0
    diff = differences(export_content(paths.tree), fork_content(paths.fork))
    if diff:
        print("check-exported: the assembled tree holds work that cpython/ lacks (run `make export`):")
        for rel in diff:
            print(f"  cpython/{rel}")
        return 1
    print("check-exported: cpython/ holds all of the assembled tree's work")
    return 0


def cmd_review(paths, args):
    require_tree(paths)
    new = snapshot(paths.tree)
    out = git(paths.tree, "diff", "--no-renames", "--no-color", "--no-ext-diff", "--stat", "--patch",
              "base", new).stdout
    dest = args.output or os.path.join(paths.build, "fork.diff")
    with open(dest, "wb") as f:
        f.write(out)
    files = len(changed_paths(paths.tree, new))
    print(f"review: {dest} ({files} files changed against the base: CPython 3.11.2 + Debian patches, "
          f"tag `base`; `git -C {paths.tree} diff pristine base` shows those)")


def require_tree(paths):
    if not os.path.isdir(os.path.join(paths.tree, ".git")):
        raise ToolError(f"no assembled tree at {paths.tree}; run `make tree` first")


def cmd_tree(paths, args):
    """Assemble, unless the tree already holds exactly cpython/'s content.

    With a stamp recording what the tree was assembled from, three cases are told apart: the tree
    matches cpython/ (nothing to do; an export leaves it so, and keeping it keeps the build's
    timestamps); the tree is as assembled but cpython/ moved on (re-assemble); the tree holds work
    that cpython/ lacks (refuse unless --force: `make export` first).
    """
    base = Base(paths.build)
    if os.path.isdir(os.path.join(paths.tree, ".git")) and not args.force:
        tree_content = export_content(paths.tree)
        fork = fork_content(paths.fork)
        stamp_content, stamp_base = read_stamp(paths)
        if not differences(tree_content, fork) and stamp_base == base.digest():
            print(f"tree: {paths.tree} is up to date")
            return
        if differences(tree_content, fork) and content_digest(tree_content) != stamp_content:
            listing = "\n".join(f"  cpython/{p}" for p in differences(tree_content, fork))
            raise ToolError("the assembled tree holds work that cpython/ lacks; `make export` it first "
                            f"or re-assemble with FORCE=1 to discard it:\n{listing}")
        if stamp_base != base.digest():
            print(f"tree: the base changed (now Debian {base.label}); re-assembling")
    assemble(paths, base)


def read_stamp(paths):
    """(digest of the tree's export, digest of its base) when it was last assembled, or Nones."""
    try:
        with open(os.path.join(paths.build, ".fork-stamp")) as f:
            lines = f.read().split()
    except OSError:
        lines = []
    return (lines + [None, None])[0], (lines + [None, None])[1]


def content_digest(content):
    h = hashlib.sha256()
    for rel in sorted(content):
        data, executable = content[rel]
        h.update(f"{rel}\0{int(executable)}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def assemble(paths, base):
    tree = paths.tree
    if os.path.exists(tree):
        shutil.rmtree(tree)
    base.extract(tree)
    git(tree, "init", "-q", "-b", "main")
    ensure_excludes(tree)
    git(tree, "add", "-A", "-f", ".")
    git(tree, "commit", "-q", "--no-verify", "-m", "pristine: CPython 3.11.2 (Python-3.11.2.tgz)")
    git(tree, "tag", "pristine")
    base.patch(tree)
    git(tree, "add", "-A", "-f", ".")
    git(tree, "commit", "-q", "--no-verify", "-m", base.commit_message())
    git(tree, "tag", "base")

    content = fork_content(paths.fork)
    for rel in sorted(content):
        data, executable = content[rel]
        if rel.endswith(".patch"):
            proc = git(tree, "apply", "--whitespace=nowarn", "-", input=data, check=False)
            if proc.returncode != 0:
                raise ToolError(f"cpython/{rel} does not apply:\n{proc.stderr.decode(errors='replace')}")
        else:
            dest = os.path.join(tree, rel)
            if os.path.exists(dest):
                raise ToolError(f"cpython/{rel} is a plain file but upstream has it: store a .patch instead")
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as f:
                f.write(data)
            os.chmod(dest, 0o755 if executable else 0o644)
    regenerate(paths)
    git(tree, "add", "-A", ".")
    git(tree, "commit", "-q", "--no-verify", "--allow-empty", "-m",
        "fork: sys.monitoring for CPython 3.11 (cpython/ of the project, regenerated files included)")
    git(tree, "tag", "fork")
    # The stamp is the canonical export of the fresh tree: what `export` would write now.
    with open(os.path.join(paths.build, ".fork-stamp"), "w") as f:
        f.write(content_digest(export_content(tree)) + "\n" + base.digest() + "\n")
    print(f"tree: assembled {tree} (base {git(tree, 'rev-parse', '--short', 'base').stdout.decode().strip()}"
          f" = CPython 3.11.2 + {len(base.applied())} patches of Debian {base.label}, "
          f"fork {git(tree, 'rev-parse', '--short', 'fork').stdout.decode().strip()}, "
          f"{len(content)} fork files)")


def regenerate(paths):
    """Run CPython's regen targets on the assembled tree from a scratch configured build dir."""
    regen = paths.regen
    if os.path.exists(regen):
        shutil.rmtree(regen)
    os.makedirs(regen)
    python = os.environ.get("PYTHON_FOR_REGEN") or shutil.which("python3")
    if not python:
        raise ToolError("python3 is needed to regenerate files (set PYTHON_FOR_REGEN)")
    # Only the Makefile's regen rules are needed: a configure cache (kept between assemblies) makes
    # this step a few seconds instead of a minute.
    cache = os.path.join(paths.build, "regen-config.cache")
    proc = run([os.path.join(paths.tree, "configure"), "-q", f"--cache-file={cache}",
                f"PYTHON_FOR_REGEN={python}"], cwd=regen, check=False)
    if proc.returncode != 0:
        raise ToolError("configure for regeneration failed:\n" + proc.stdout.decode(errors="replace")
                        + proc.stderr.decode(errors="replace"))
    proc = run(["make", "-s", *REGEN_TARGETS], cwd=regen, check=False)
    if proc.returncode != 0:
        raise ToolError("regen failed:\n" + proc.stdout.decode(errors="replace")
                        + proc.stderr.decode(errors="replace"))
    shutil.rmtree(regen)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fork", default=os.path.join(TOP, "cpython"), help="the fork's content (cpython/)")
    parser.add_argument("--build", default=os.path.join(TOP, "build"), help="the build directory")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("tree", help="assemble build/cpython")
    p.add_argument("--force", action="store_true", help="discard unexported work in the assembled tree")
    sub.add_parser("export", help="write the assembled tree's work back into cpython/")
    sub.add_parser("check-exported", help="fail when the assembled tree holds unexported work")
    p = sub.add_parser("review", help="write the whole change as one diff")
    p.add_argument("--output", help="default: build/fork.diff")
    p = sub.add_parser("base", help="extract the base alone (for the stock reference) and print its label")
    p.add_argument("dest", help="directory to hold it")
    p.add_argument("--pristine", action="store_true", help="the bare 3.11.2 tarball, without Debian's patches")
    args = parser.parse_args(argv)
    paths = Paths(args)
    handler = {"tree": cmd_tree, "export": cmd_export, "check-exported": cmd_check_exported,
               "review": cmd_review, "base": cmd_base}[args.command]
    try:
        return handler(paths, args) or 0
    except ToolError as e:
        print(f"forktree {args.command}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
