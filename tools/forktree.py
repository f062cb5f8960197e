#!/usr/bin/env python3
"""Assemble the fork's CPython tree and export work from it.

The project stores only the fork's own content under ``cpython/``: wholly new files as plain files and
changes to upstream files as per-file unified diffs named ``<path>.patch``.  This tool turns that into
a working tree and back:

``tree``
    Build ``build/cpython/`` as a git repository.  Its first commit (tagged ``base``) is the pristine
    upstream tarball; the second (tagged ``fork``) adds ``cpython/`` and the files CPython's own
    ``regen`` targets produce from it.  Identities and dates are fixed, so the same inputs give the
    same commit ids.  Refuses to replace a tree that holds unexported work unless ``--force``.
``export``
    Write the assembled tree's change against ``base`` (committed or not) back into ``cpython/``.
    Generated files are left out; the output is deterministic and exporting twice changes nothing.
``check-exported``
    Exit 1, naming the files, when ``export`` would change ``cpython/``.
``review``
    Write the whole change, generated files included, as one diff (``build/fork.diff``).
"""

import argparse
import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

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
    print(f"review: {dest} ({files} files changed against pristine CPython 3.11.2)")


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
    if os.path.isdir(os.path.join(paths.tree, ".git")) and not args.force:
        tree_content = export_content(paths.tree)
        fork = fork_content(paths.fork)
        if not differences(tree_content, fork):
            print(f"tree: {paths.tree} is up to date")
            return
        if content_digest(tree_content) != read_stamp(paths):
            listing = "\n".join(f"  cpython/{p}" for p in differences(tree_content, fork))
            raise ToolError("the assembled tree holds work that cpython/ lacks; `make export` it first "
                            f"or re-assemble with FORCE=1 to discard it:\n{listing}")
    tarball = run([os.path.join(TOP, "tools", "fetch-base.sh")],
                  env={"FORK_BUILD_DIR": paths.build}).stdout.decode().strip()
    assemble(paths, tarball)


def read_stamp(paths):
    """Digest of the tree's export when it was last assembled, or None."""
    try:
        with open(os.path.join(paths.build, ".fork-stamp")) as f:
            return f.read().strip()
    except OSError:
        return None


def content_digest(content):
    import hashlib
    h = hashlib.sha256()
    for rel in sorted(content):
        data, executable = content[rel]
        h.update(f"{rel}\0{int(executable)}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def assemble(paths, tarball):
    tree = paths.tree
    if os.path.exists(tree):
        shutil.rmtree(tree)
    os.makedirs(tree)
    run(["tar", "-xzf", tarball, "-C", tree, "--strip-components=1"])
    git(tree, "init", "-q", "-b", "main")
    ensure_excludes(tree)
    git(tree, "add", "-A", "-f", ".")
    git(tree, "commit", "-q", "--no-verify", "-m", "base: pristine CPython 3.11.2 (Python-3.11.2.tgz)")
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
        f.write(content_digest(export_content(tree)) + "\n")
    print(f"tree: assembled {tree} (base {git(tree, 'rev-parse', '--short', 'base').stdout.decode().strip()}, "
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
    args = parser.parse_args(argv)
    paths = Paths(args)
    handler = {"tree": cmd_tree, "export": cmd_export, "check-exported": cmd_check_exported,
               "review": cmd_review}[args.command]
    try:
        return handler(paths, args) or 0
    except ToolError as e:
        print(f"forktree {args.command}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
