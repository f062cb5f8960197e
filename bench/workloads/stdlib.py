"""Stdlib-heavy: dataclasses and enums for an inventory, a JSON round trip, regex log parsing.

Most time is spent inside pure-Python stdlib code (dataclasses.asdict, enum's metaclass machinery,
json's encoder hooks, re's replacement callbacks), so the tools see deep, library-shaped call stacks.
"""

import dataclasses
import enum
import json
import re
import zlib

REPS = 185  # units of work at full scale (about 1.5 s on a stock default build)


class Kind(enum.Enum):
    TOOL = "tool"
    PART = "part"
    KIT = "kit"
    SERVICE = "service"


class Flag(enum.Flag):
    NONE = 0
    FRAGILE = enum.auto()
    HEAVY = enum.auto()
    HAZARD = enum.auto()
    COLD = enum.auto()


class Level(enum.IntEnum):
    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40


@dataclasses.dataclass(frozen=True, order=True)
class Location:
    aisle: int
    shelf: int


@dataclasses.dataclass(order=True)
class Item:
    sku: str
    name: str
    kind: Kind = dataclasses.field(compare=False)
    flags: Flag = dataclasses.field(compare=False, default=Flag.NONE)
    price_cents: int = 0
    where: Location = dataclasses.field(default_factory=lambda: Location(0, 0))
    tags: list = dataclasses.field(default_factory=list, compare=False)


def make_items(n):
    kinds = list(Kind)
    flag_bits = [Flag.FRAGILE, Flag.HEAVY, Flag.HAZARD, Flag.COLD]
    items = []
    for i in range(n):
        flags = Flag.NONE
        for b, bit in enumerate(flag_bits):
            if (i >> b) % 3 == 0:
                flags |= bit
        items.append(Item(
            sku="SKU-%05d" % ((i * 7919) % 100000),
            name="item %d" % i,
            kind=kinds[i % len(kinds)],
            flags=flags,
            price_cents=(i * 37) % 9000 + 99,
            where=Location(i % 12, (i // 12) % 8),
            tags=["t%d" % (i % 5), "t%d" % (i % 3)],
        ))
    return items


class ItemEncoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, Kind):
            return o.value
        if isinstance(o, Flag):
            return [m.name for m in Flag if m and m in o]
        return super().default(o)


def to_json(items):
    return json.dumps([dataclasses.asdict(it) for it in items], cls=ItemEncoder, sort_keys=True)


def from_json(text):
    items = []
    for d in json.loads(text):
        flags = Flag.NONE
        for name in d["flags"]:
            flags |= Flag[name]
        items.append(Item(
            sku=d["sku"], name=d["name"], kind=Kind(d["kind"]), flags=flags,
            price_cents=d["price_cents"], where=Location(**d["where"]), tags=d["tags"],
        ))
    return items


LOG_RE = re.compile(
    r"^(?P<time>\d{2}:\d{2}:\d{2})\s+(?P<level>[A-Z]+)\s+\[(?P<who>[a-z_]+)\]\s+(?P<msg>.*?)(?:\s+\((?P<ms>\d+)ms\))?$"
)
NUM_RE = re.compile(r"\d+")


def make_log(n):
    levels = list(Level)
    whos = ["db", "web", "auth", "cache_mgr", "queue"]
    lines = []
    for i in range(n):
        lvl = levels[(i * 7) % len(levels)]
        msg = "request %d handled by worker %d" % (i * 13 % 1000, i % 8)
        tail = " (%dms)" % (i * 17 % 250) if i % 3 else ""
        lines.append("%02d:%02d:%02d %s [%s] %s%s" % (
            i // 3600 % 24, i // 60 % 60, i % 60, lvl.name, whos[i % len(whos)], msg, tail))
    return lines


def parse_log(lines):
    per_level = {lvl: 0 for lvl in Level}
    slow = 0
    redacted = []
    for line in lines:
        m = LOG_RE.match(line)
        if m is None:
            raise AssertionError("stdlib: log line did not parse: %r" % line)
        lvl = Level[m.group("level")]
        per_level[lvl] += 1
        if m.group("ms") and int(m.group("ms")) > 200 and lvl >= Level.WARNING:
            slow += 1
        redacted.append(NUM_RE.sub(lambda mm: "#" * len(mm.group()), m.group("msg")))
    return per_level, slow, redacted


def unit():
    items = make_items(150)
    text = to_json(items)
    back = from_json(text)
    if back != items:
        raise AssertionError("stdlib: JSON round trip changed the items")
    ordered = sorted(back)
    heavy = [it for it in ordered if Flag.HEAVY in it.flags and it.kind is not Kind.SERVICE]
    by_kind = {}
    for it in ordered:
        by_kind[it.kind] = by_kind.get(it.kind, 0) + it.price_cents
    moved = [dataclasses.replace(it, where=Location(it.where.aisle + 1, it.where.shelf)) for it in heavy]
    per_level, slow, redacted = parse_log(make_log(400))
    total = zlib.crc32(text.encode())
    total += len(heavy) * 1000 + sum(by_kind[k] for k in Kind) + sum(m.where.aisle for m in moved)
    total += sum(int(lvl) * n for lvl, n in per_level.items()) + slow
    total += zlib.crc32("\n".join(redacted).encode())
    return total


EXPECTED = 2708372490

# The function the breakpoint tools stop in.
BREAKPOINT = parse_log

