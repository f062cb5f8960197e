"""The security fixes of the fork's base are there.

The base is pristine CPython 3.11.2 plus the Debian backports that base/debian-patches.txt lists.
Each test below shows one of those fixes by its behaviour (never by timing): it passes on the fork
and on the stock reference built from the same base, and fails on pristine 3.11.2, which
tools/run-tests.sh checks too (`security` part).  The inputs are written for these tests; the
attacks they model are the ones the CVE records describe.
"""

import io
import ipaddress
import os
import shutil
import struct
import subprocess
import tarfile
import tempfile
import unittest
import urllib.parse
import urllib.request
import zipfile
from email import utils as email_utils
from http import cookies


class UrlsplitStripsLeadingControlCharacters(unittest.TestCase):
    """CVE-2023-24329 (gh-102153): a URL starting with C0 controls or blanks was parsed with an
    empty scheme and netloc, so a blocklist on scheme or host could be bypassed."""

    def test_leading_blanks_and_controls_are_stripped(self):
        for prefix in (" ", "\x00", "\t\x1f ", "\x08 \x0c"):
            with self.subTest(prefix=prefix):
                parts = urllib.parse.urlsplit(prefix + "https://www.example.net/a?b#c")
                self.assertEqual((parts.scheme, parts.netloc, parts.path, parts.query, parts.fragment),
                                 ("https", "www.example.net", "/a", "b", "c"))

    def test_blocked_scheme_is_recognised(self):
        self.assertEqual(urllib.parse.urlsplit("\x01 javascript:alert(1)").scheme, "javascript")
        self.assertEqual(urllib.parse.urlparse(" file:///etc/passwd").scheme, "file")


class UrlsplitBracketedHosts(unittest.TestCase):
    """CVE-2024-11168 (gh-103848) and CVE-2025-0938 (gh-105704): only IPv6 or IPvFuture literals
    may be bracketed, and brackets elsewhere in the host are rejected, so parsers disagreeing on
    the host (SSRF) is not possible."""

    def test_bracketed_ipv4_and_names_are_rejected(self):
        for url in ("http://[192.0.2.7]/", "http://[example.org]/", "https://[::1]evil.example/",
                    "http://evil[.example.org/", "http://user@[v1.fe]x/"):
            with self.subTest(url=url):
                with self.assertRaises(ValueError):
                    urllib.parse.urlsplit(url)

    def test_valid_literals_still_parse(self):
        self.assertEqual(urllib.parse.urlsplit("http://[2001:db8::7]:8080/").hostname, "2001:db8::7")
        self.assertEqual(urllib.parse.urlsplit("http://[v1.fe]/").hostname, "v1.fe")


class TarfilePaxHeaderParsing(unittest.TestCase):
    """CVE-2024-6232 (gh-121285): pax extended headers were parsed with regular expressions that
    backtrack, taking time quadratic in the header size.  The fixed parser reads records by their
    length prefix and rejects a header that is not a sequence of well-framed records, instead of
    scanning it repeatedly."""

    @staticmethod
    def archive(pax_payload):
        """A tar archive: one pax extended header with pax_payload, then a regular file."""
        pax = tarfile.TarInfo("././@PaxHeader")
        pax.type = tarfile.XHDTYPE
        pax.size = len(pax_payload)
        member = tarfile.TarInfo("member.txt")
        member.size = 5
        out = io.BytesIO()
        for header, data in ((pax, pax_payload), (member, b"hello")):
            out.write(header.tobuf(format=tarfile.USTAR_FORMAT))
            out.write(data + tarfile.NUL * (-len(data) % tarfile.BLOCKSIZE))
        out.write(tarfile.NUL * (2 * tarfile.BLOCKSIZE))
        return out.getvalue()

    def members(self, payload):
        with tarfile.open(fileobj=io.BytesIO(self.archive(payload)), mode="r:") as tar:
            return [(m.name, m.pax_headers) for m in tar.getmembers()]

    def test_digit_run_header_is_rejected(self):
        # The backtracking input: a long run of digits with no record framing.  The old parser
        # scanned it once per position (seconds for 10**4 digits, hours for 10**6), found no record
        # and carried on; the fixed one sees the missing "<length> " prefix and stops at once.
        with self.assertRaises(tarfile.ReadError):
            self.members(b"1" * 10_000)

    def test_misframed_records_are_rejected(self):
        for payload in (b"9 path=abc",          # no newline where the length says the record ends
                        b"99 path=abc\n",        # length beyond the header
                        b"3 a=\n",               # shorter than the shortest record
                        b"12 pathabcde\n"):      # no '='
            with self.subTest(payload=payload):
                with self.assertRaises(tarfile.ReadError):
                    self.members(payload)

    @staticmethod
    def record(keyword, value):
        """One pax record, "<length> <keyword>=<value>\\n", the length counting itself."""
        body = b" %s=%s\n" % (keyword, value)
        n = len(body) + 1
        while len(b"%d" % n) + len(body) != n:
            n = len(b"%d" % n) + len(body)
        return b"%d%s" % (n, body)

    def test_well_formed_header_still_parses(self):
        payload = self.record(b"comment", b"x" * 200) + self.record(b"path", b"renamed.txt")
        [(name, headers)] = self.members(payload)
        self.assertEqual(name, "renamed.txt")
        self.assertEqual(headers["comment"], "x" * 200)


class ParseaddrRejectsMalformedAddresses(unittest.TestCase):
    """CVE-2023-27043 (gh-102988): email.utils.parseaddr() and getaddresses() turned a malformed
    address into a different, valid-looking one (an application checking the domain of
    'alice@example.org)<bob@evil.example>' saw example.org)."""

    def test_parseaddr_rejects(self):
        for addr in ("alice@example.org)<bob@evil.example>", "alice@example.org, bob@evil.example"):
            with self.subTest(addr=addr):
                self.assertEqual(email_utils.parseaddr(addr), ("", ""))

    def test_getaddresses_rejects(self):
        self.assertEqual(email_utils.getaddresses(["alice@example.org)<bob@evil.example>"]), [("", "")])

    def test_good_addresses_still_parse(self):
        self.assertEqual(email_utils.parseaddr("Alice <alice@example.org>"), ("Alice", "alice@example.org"))
        self.assertEqual(email_utils.getaddresses(["a@example.org, B <b@example.org>"]),
                         [("", "a@example.org"), ("B", "b@example.org")])


class ZipfileRejectsOverlappingEntries(unittest.TestCase):
    """CVE-2024-0450 (gh-109858): a member whose data runs over the next member's local header
    ("quoted overlap", the construction of non-recursive zip bombs) is refused."""

    def overlapping_zip(self):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("a", b"A" * 100)
            zf.writestr("b", b"B" * 100)
        data = bytearray(buf.getvalue())
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
            a, b = zf.getinfo("a"), zf.getinfo("b")
            a_start = a.header_offset + zipfile.sizeFileHeader + len(a.filename) + len(a.extra)
            b_end = b.header_offset + zipfile.sizeFileHeader + len(b.filename) + len(b.extra) + b.compress_size
            cd = zf.start_dir
        # Make "a" cover b's local header and data, with a matching CRC: an archive that pristine
        # zipfile extracts without complaint.
        covered = bytes(data[a_start:b_end])
        assert data[cd:cd + 4] == zipfile.stringCentralDir
        struct.pack_into("<III", data, cd + 16, zipfile.crc32(covered), len(covered), len(covered))
        return bytes(data)

    def test_overlap_is_refused(self):
        with zipfile.ZipFile(io.BytesIO(self.overlapping_zip())) as zf:
            self.assertEqual(zf.read("b"), b"B" * 100)
            with self.assertRaises(zipfile.BadZipFile) as cm:
                zf.read("a")
            self.assertIn("Overlapped entries", str(cm.exception))


class IpaddressSpecialPurposeRanges(unittest.TestCase):
    """CVE-2024-4032 (gh-113171): is_private / is_global disagreed with IANA's special-purpose
    address registries, so access checks based on them let some addresses through."""

    def test_ipv4(self):
        addr = ipaddress.ip_address
        self.assertTrue(addr("192.0.0.8").is_private)      # 192.0.0.0/24 is not global ...
        self.assertFalse(addr("192.0.0.8").is_global)
        self.assertFalse(addr("192.0.0.9").is_private)     # ... except 192.0.0.9 and .10
        self.assertTrue(addr("192.0.0.10").is_global)
        self.assertFalse(addr("100.64.0.1").is_private)    # shared address space: neither
        self.assertFalse(addr("100.64.0.1").is_global)

    def test_ipv6(self):
        addr = ipaddress.ip_address
        self.assertTrue(addr("64:ff9b:1::5").is_private)   # local-use IPv4/IPv6 translation
        self.assertFalse(addr("64:ff9b:1::5").is_global)
        self.assertFalse(addr("2001:20::1").is_private)    # ORCHIDv2 is global
        self.assertTrue(addr("2001:20::1").is_global)
        self.assertTrue(addr("2001:db8::1").is_private)    # documentation: unchanged

    def test_networks(self):
        self.assertTrue(ipaddress.ip_network("192.0.0.0/29").is_private)
        self.assertFalse(ipaddress.ip_network("2001:30::/28").is_private)


class VenvActivationScriptsQuoteTemplates(unittest.TestCase):
    """CVE-2024-9287 (gh-124651): the venv directory and prompt were pasted unquoted into the
    activation scripts, so a crafted path or prompt ran commands when the venv was activated."""

    def setUp(self):
        self.shell = shutil.which("bash") or shutil.which("sh")
        if not self.shell:
            self.skipTest("no POSIX shell")
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp)

    def test_activate_sets_the_literal_path(self):
        import venv
        env_dir = os.path.join(self.tmp, 'env $(echo INJECTED) `echo TOO` "q" \'s\'')
        prompt = "p$(echo INJECTED)"
        builder = venv.EnvBuilder(prompt=prompt)
        context = builder.ensure_directories(env_dir)
        builder.setup_scripts(context)
        activate = os.path.join(context.bin_path, "activate")
        out = subprocess.run(
            [self.shell, "-c", '. "$1"; printf "%s\\n%s" "$VIRTUAL_ENV" "$VIRTUAL_ENV_PROMPT"', "sh", activate],
            capture_output=True, text=True, env={"PATH": os.environ.get("PATH", ""), "HOME": self.tmp})
        self.assertEqual(out.returncode, 0, out.stderr)
        venv_dir, venv_prompt = out.stdout.split("\n")
        self.assertEqual(venv_dir, context.env_dir)
        self.assertEqual(venv_prompt, f"({prompt}) ")


class CookiesRejectControlCharacters(unittest.TestCase):
    """CVE-2026-0672 (gh-143919): http.cookies let control characters into cookie values, so a
    user-controlled value could inject headers (Set-Cookie response splitting)."""

    def test_morsel_set_rejects(self):
        morsel = cookies.Morsel()
        with self.assertRaises(cookies.CookieError):
            morsel.set("session", "x\r\nSet-Cookie: admin=1", "x")

    def test_simple_cookie_rejects(self):
        jar = cookies.SimpleCookie()
        with self.assertRaises(cookies.CookieError):
            jar["session"] = "x\nX-Injected: 1"


class NormpathKeepsEmbeddedNul(unittest.TestCase):
    """CVE-2023-41105 (gh-106242): os.path.normpath() cut a path at an embedded NUL, so a checked
    name such as 'allowed\\0/../../secret' normalised to 'allowed' (path truncation).  The fix is in
    C (Python/fileutils.c), so only a pristine build shows the old behaviour."""

    fixed_in_c = True

    def test_nul_is_kept(self):
        self.assertEqual(os.path.normpath("a/b\x00c/../d"), "a/d")
        self.assertEqual(os.path.normpath("x\x00/../y"), "y")
        self.assertEqual(os.path.normpath(b"spam\x00eggs"), b"spam\x00eggs")

    def test_open_still_refuses_nul(self):
        with self.assertRaises(ValueError):
            open(os.path.normpath("/tmp/x\x00y"))


class DataUrlsRejectControlCharacters(unittest.TestCase):
    """CVE-2025-15282 (gh-143925): urllib's data: URL handler copied control characters of the
    media type into the response headers (header injection)."""

    def test_injected_header_is_refused(self):
        with self.assertRaises(ValueError):
            urllib.request.urlopen("data:text/plain\r\nX-Injected: 1,hello")

    def test_plain_data_url_still_works(self):
        with urllib.request.urlopen("data:text/plain;charset=utf-8,hello%20world") as r:
            self.assertEqual(r.read(), b"hello world")


if __name__ == "__main__":
    unittest.main()
