"""Round trip of the fork tooling: assemble -> change files -> export -> re-assemble gives the same tree.

Runs tools/forktree.py on a scratch copy of cpython/ in build/roundtrip, so the project's own
cpython/ and build/cpython are never touched.  Needs the verified base tarball (tools/fetch-base.sh).
"""

import os
import shutil
import subprocess
import sys
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(TOP, "tools", "forktree.py")
SCRATCH = os.path.join(os.environ.get("FORK_BUILD_DIR", os.path.join(TOP, "build")), "roundtrip")


def digest_dir(root):
    """{relative path: (bytes, executable)} of every file below root."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as f:
                out[os.path.relpath(full, root)] = (f.read(), os.access(full, os.X_OK))
    return out


class RoundTrip(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        shutil.rmtree(SCRATCH, ignore_errors=True)
        os.makedirs(SCRATCH)
        cls.fork = os.path.join(SCRATCH, "fork")
        cls.build = os.path.join(SCRATCH, "build")
        shutil.copytree(os.path.join(TOP, "cpython"), cls.fork)
        # share the verified tarball instead of fetching it again
        cache = os.path.join(TOP, "build", "cache")
        if os.path.isdir(cache):
            os.makedirs(cls.build)
            shutil.copytree(cache, os.path.join(cls.build, "cache"))
        cls.tree = os.path.join(cls.build, "cpython")

    def tool(self, *args, expect=0, build=None):
        proc = subprocess.run([sys.executable, TOOL, "--fork", self.fork, "--build", build or self.build,
                               *args], capture_output=True, text=True)
        self.assertEqual(proc.returncode, expect, f"forktree {' '.join(args)}:\n{proc.stdout}{proc.stderr}")
        return proc.stdout + proc.stderr

    def git(self, *args, tree=None):
        return subprocess.run(["git", "-C", tree or self.tree, *args], check=True, capture_output=True,
                              text=True).stdout.strip()

    def edit(self, rel, transform):
        path = os.path.join(self.tree, rel)
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(transform(text))

    def fresh_assembly(self, name):
        """Assemble self.fork into a new build dir; return (fork commit id, tree id)."""
        build = os.path.join(SCRATCH, name)
        shutil.rmtree(build, ignore_errors=True)
        if os.path.isdir(os.path.join(self.build, "cache")):
            shutil.copytree(os.path.join(self.build, "cache"), os.path.join(build, "cache"))
        self.tool("tree", build=build)
        tree = os.path.join(build, "cpython")
        self.assertEqual(self.git("status", "--porcelain", tree=tree), "", "assembly left the tree dirty")
        return self.git("rev-parse", "fork", tree=tree), self.git("rev-parse", "fork^{tree}", tree=tree)

    def test_roundtrip(self):
        self.tool("tree")
        first_commit = self.git("rev-parse", "fork")
        # pristine tarball, base (+ Debian's patches), fork
        self.assertEqual(self.git("rev-list", "--count", "fork"), "3")
        self.assertEqual(self.git("rev-parse", "fork~2"), self.git("rev-parse", "pristine"))
        self.assertEqual(self.git("rev-parse", "fork~1"), self.git("rev-parse", "base"))
        self.assertEqual(self.git("status", "--porcelain"), "", "assembly left the tree dirty")
        self.assertIn("holds all", self.tool("check-exported"))
        self.assertIn("up to date", self.tool("tree"))

        # Work in the tree: an edit to an upstream file, a further edit to a file the fork already
        # patches, a new executable file, a deleted upstream file, and an edit to a generated file
        # (never exported: regeneration owns it); partly committed, partly not.
        self.edit("Lib/colorsys.py", lambda s: s.replace('"""Conversion functions',
                                                         '"""Round trip: conversion functions', 1))
        self.edit("Include/patchlevel.h", lambda s: s + "/* round trip */\n")
        probe = os.path.join(self.tree, "Lib", "roundtrip_probe.py")
        with open(probe, "w") as f:
            f.write("VALUE = 42\n")
        os.chmod(probe, 0o755)
        self.git("rm", "-q", "Lib/this.py")
        self.git("commit", "-q", "-m", "work in progress")
        self.edit("Python/opcode_targets.h", lambda s: s + "/* hand edit of a generated file */\n")
        worked_tree = self.snapshot_tree()

        out = self.tool("check-exported", expect=1)
        for name in ("Lib/colorsys.py.patch", "Include/patchlevel.h.patch",
                     "Lib/roundtrip_probe.py", "Lib/this.py.patch"):
            self.assertIn(f"cpython/{name}", out)
        self.assertNotIn("opcode_targets", out)
        # re-assembling now would lose the work: refused, and the tree is left alone
        self.assertIn("lacks", self.tool("tree", expect=1))
        self.assertEqual(self.snapshot_tree(), worked_tree)

        self.tool("export")
        exported = digest_dir(self.fork)
        self.assertIn("Lib/roundtrip_probe.py", exported)
        self.assertTrue(exported["Lib/roundtrip_probe.py"][1], "exec bit lost")
        self.assertIn("Lib/this.py.patch", exported)
        self.assertNotIn("Python/opcode_targets.h.patch", exported)
        self.assertNotIn(b"\nindex ", exported["Lib/colorsys.py.patch"][0])
        self.assertIn("up to date", self.tool("export"))
        self.assertEqual(digest_dir(self.fork), exported, "a second export changed cpython/")
        self.assertIn("holds all", self.tool("check-exported"))
        # exported: the working tree is kept as it is (no re-extraction, no rebuild)
        self.assertIn("up to date", self.tool("tree"))
        self.assertEqual(self.snapshot_tree(), worked_tree)

        # Re-assembling the exported content elsewhere gives the same tree, except the generated
        # file, which regeneration restores.
        _, tree_id = self.fresh_assembly("again")
        worked = self.ls_tree(self.tree, worked_tree)
        again = self.ls_tree(os.path.join(SCRATCH, "again", "cpython"), tree_id)
        self.assertEqual(sorted(p for p in set(worked) | set(again) if worked.get(p) != again.get(p)),
                         ["Python/opcode_targets.h"])

        # Undo everything in the tree and export: cpython/ is back to where it started, and assembling
        # it gives the very first commit again (fixed identities and dates).
        self.git("checkout", "-q", "base", "--", "Lib/colorsys.py", "Lib/this.py")
        self.edit("Include/patchlevel.h", lambda s: s.replace("/* round trip */\n", ""))
        os.remove(probe)
        self.tool("export")
        self.assertEqual(digest_dir(self.fork), digest_dir(os.path.join(TOP, "cpython")))
        commit, _ = self.fresh_assembly("original")
        self.assertEqual(commit, first_commit)

        # cpython/ moving on (a pull) while the tree holds no work of its own: re-assembled
        with open(os.path.join(self.fork, "Lib", "pulled.py"), "w") as f:
            f.write("PULLED = True\n")
        self.tool("tree", build=os.path.join(SCRATCH, "original"))
        self.assertTrue(os.path.exists(os.path.join(SCRATCH, "original", "cpython", "Lib", "pulled.py")))
        os.remove(os.path.join(self.fork, "Lib", "pulled.py"))

        # --force discards unexported work
        self.edit("Lib/colorsys.py", lambda s: s + "# unexported\n")
        self.tool("tree", expect=1)
        self.tool("tree", "--force")
        self.assertEqual(self.git("status", "--porcelain"), "")
        self.assertEqual(self.git("rev-parse", "fork"), first_commit)

        # The base moving on (another Debian revision or patch list) re-assembles a tree that holds
        # no work of its own, and still refuses to replace one that does.
        stamp = os.path.join(self.build, ".fork-stamp")
        with open(stamp) as f:
            content_digest, base_digest = f.read().split()
        with open(stamp, "w") as f:
            f.write(f"{content_digest}\n{'0' * 64}\n")
        self.edit("Lib/colorsys.py", lambda s: s + "# unexported\n")
        self.assertIn("lacks", self.tool("tree", expect=1))
        self.git("checkout", "-q", "--", "Lib/colorsys.py")
        self.assertIn("base changed", self.tool("tree"))
        self.assertEqual(self.git("rev-parse", "fork"), first_commit)
        with open(stamp) as f:
            self.assertEqual(f.read().split(), [content_digest, base_digest])

    def ls_tree(self, tree, treeish):
        """{path: (mode, blob id)}: blob ids are content hashes, comparable across repositories."""
        out = self.git("ls-tree", "-r", treeish, tree=tree)
        entries = {}
        for line in out.splitlines():
            meta, path = line.split("\t", 1)
            mode, _, oid = meta.split()
            entries[path] = (mode, oid)
        return entries

    def snapshot_tree(self):
        env = dict(os.environ, GIT_INDEX_FILE=os.path.join(SCRATCH, "index"))
        subprocess.run(["git", "-C", self.tree, "read-tree", "HEAD"], env=env, check=True)
        subprocess.run(["git", "-C", self.tree, "add", "-A", "."], env=env, check=True)
        return subprocess.run(["git", "-C", self.tree, "write-tree"], env=env, check=True,
                              capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    unittest.main()
