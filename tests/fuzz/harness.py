"""One fuzz case, run inside the interpreter under test (a child of fuzz.py).

    python harness.py SEED [SEED...]       run the cases; print CASE/OK/FAIL lines
    python harness.py --show SEED          print the program and the configuration of one case

A case is a program from progen.generate(seed) and a configuration drawn from the same seed: a
universe U of events (a random subset of what this interpreter's set_events accepts, always with the
frame-lifecycle events), and the behaviour of a "random tool" B.  The program runs five times:

  plain   no tool                                   -> the reference output
  full    tool A: every event of U, globally        -> the reference event stream S
  full2   the same again                            -> must give S again (determinism)
  solo    tool B alone: random global and local event sets from U, DISABLE returned at random,
          and at random events: set_events / set_local_events / restart_events / callbacks
          unregistered and registered again / the tool id freed and claimed again
  both    A and B together                          -> A must see S again (tools are independent)

Invariants, none of which needs an oracle:

- the output (and main()'s result) of every run equals the plain run's;
- full and full2 give the same event stream;
- B's stream in solo and in both equals the projection of S through a model of B's state: an event
  reaches B iff it is in B's global or local set for that code object, B has a callback for it, and
  B has not DISABLEd it at that location since the last restart.  B's decisions are drawn from its own
  seeded generator only when it receives an event, so replaying S through the model reproduces them;
- in A's callbacks: every event happens in a frame whose start A saw and that is running; frames go
  PY_START (PY_YIELD (PY_RESUME|PY_THROW))* (PY_RETURN|PY_UNWIND), where PY_THROW may also start a
  generator that never ran; no frame is still running when main() returns;
- offsets are instruction boundaries of the code object and (on 3.11) land on the instruction that
  carries the event; C_RETURN/C_RAISE report the callable of the CALL at that offset in that frame;
- LINE numbers are among co_lines(); BRANCH_LEFT/RIGHT (offset, destination) pairs are among
  co_branches(); JUMP destinations are instruction boundaries.

Everything runs in this process; a crash is caught by the parent, which reports the seed.
"""

import dis
import gc
import os
import random
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import progen  # noqa: E402

mon = sys.monitoring
E = mon.events
A_TOOL = 4          # the full recorder (called first: highest id first)
B_TOOL = 2          # the random tool
PROBE_TOOL = 5

ALL_NAMES = [n for n in dir(E) if n.isupper() and n != "NO_EVENTS"]
LIFECYCLE = ("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "PY_UNWIND", "PY_THROW")
ANCILLARY = ("C_RETURN", "C_RAISE")
# Events a callback may answer with DISABLE (the others raise ValueError when only global).
DISABLEABLE = {"PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "CALL", "LINE", "INSTRUCTION",
               "JUMP", "BRANCH_LEFT", "BRANCH_RIGHT", "BRANCH", "STOP_ITERATION"}
OFFSET_EVENTS = set(ALL_NAMES) - {"LINE"}
# Events fired when an instruction that started earlier completes: a call's C_RETURN/C_RAISE, the
# STOP_ITERATION of a FOR_ITER/SEND whose iterator ran Python code.  When the tool's set changed
# after the instruction started, whether they are delivered is the engine's choice (upstream decides
# by the instrumentation the instruction was dispatched with).
IN_FLIGHT = {"C_RETURN", "C_RAISE", "STOP_ITERATION"}
# The branch events of a FOR_ITER are in flight the same way: the iterator's __next__ may run Python
# code that changes B's events before the loop goes on or ends.  The fork reports them from
# INSTRUMENTED_FOR_ITER, so as the instruction was dispatched (as 3.13 does); 3.14 reports
# BRANCH_LEFT so too but BRANCH_RIGHT from the END_FOR/POP_ITER after the loop, by the
# instrumentation at that point.  Either is the engine's choice.
BRANCH_EVENTS = {"BRANCH_LEFT", "BRANCH_RIGHT", "BRANCH"}


def opname_at(code, offset, _cache={}):
    m = _cache.get(id(code))
    if m is None or m[0] is not code:
        m = _cache[id(code)] = (code, {i.offset: i.opname for i in dis.get_instructions(code)})
    return m[1].get(offset)


def in_flight(ev, code, offset):
    """Can the event come from an instruction that began before B's last change?"""
    return ev in IN_FLIGHT or (ev in BRANCH_EVENTS and opname_at(code, offset) == "FOR_ITER")
# Events whose offset is an instruction's own.  The exception events are left out: upstream (3.13,
# 3.14) reports an exception raised inside a CALL at the call's last inline cache entry.
AT_INSTRUCTION = OFFSET_EVENTS - {"RAISE", "RERAISE", "EXCEPTION_HANDLED", "PY_UNWIND", "PY_THROW"}
FORK311 = sys.version_info[:2] == (3, 11)
# Where each event may be reported, as dis names the instruction (3.11 bytecode).
EVENT_OPS_311 = {
    "PY_START": {"RESUME"}, "PY_RESUME": {"RESUME"}, "PY_RETURN": {"RETURN_VALUE"},
    "PY_YIELD": {"YIELD_VALUE"}, "CALL": {"CALL", "CALL_FUNCTION_EX"},
    "C_RETURN": {"CALL", "CALL_FUNCTION_EX"}, "C_RAISE": {"CALL", "CALL_FUNCTION_EX"},
    "STOP_ITERATION": {"FOR_ITER", "SEND"},
}


def bit(name):
    return getattr(E, name)


def bits(names):
    b = 0
    for n in names:
        b |= bit(n)
    return b


def probe():
    """What set_events / set_local_events accept here (single events, CALL with its ancillaries)."""
    mon.use_tool_id(PROBE_TOOL, "fuzz-probe")
    try:
        glob, local = set(), set()
        code = probe.__code__
        for n in ALL_NAMES:
            if n in ANCILLARY:
                continue
            try:
                mon.set_events(PROBE_TOOL, bit(n))
                glob.add(n)
            except ValueError:
                pass
            try:
                mon.set_local_events(PROBE_TOOL, code, bit(n))
                local.add(n)
            except ValueError:
                pass
        try:
            mon.set_events(PROBE_TOOL, bits(("CALL",) + ANCILLARY))
            glob.update(ANCILLARY)
        except ValueError:
            pass
        try:
            mon.set_local_events(PROBE_TOOL, code, bits(("CALL",) + ANCILLARY))
            local.update(ANCILLARY)
        except ValueError:
            pass
        mon.set_events(PROBE_TOOL, 0)
        mon.set_local_events(PROBE_TOOL, code, 0)
    finally:
        mon.free_tool_id(PROBE_TOOL)
    if "BRANCH_LEFT" in glob:
        # The deprecated BRANCH is an alias view of LEFT/RIGHT; keep the precise pair.
        glob.discard("BRANCH")
        local.discard("BRANCH")
    return glob, local


SUPPORTED, LOCAL_OK = probe()
if os.environ.get("FUZZ_EVENTS"):
    # Restrict the universe (e.g. to compare with upstream on the events the fork has).
    _only = set(os.environ["FUZZ_EVENTS"].split(","))
    SUPPORTED &= _only
    LOCAL_OK &= _only


def valid_set(names, pool):
    """names restricted to pool, with C_RETURN/C_RAISE only together with CALL."""
    s = {n for n in names if n in pool}
    if "CALL" in s and ANCILLARY[0] in pool:
        s.update(ANCILLARY)
    else:
        s.difference_update(ANCILLARY)
    return s


def all_codes(code, acc):
    acc.append(code)
    for c in code.co_consts:
        if isinstance(c, type(code)):
            all_codes(c, acc)
    return acc


# Code objects are named by (qualname, first line, position in the module's code tree): several
# lambdas on one line share the first two.  Filled by Case.load(), emptied for every case; the
# code objects of all runs of a case stay alive until the case ends, so ids are not reused.
_KEYS = {}


def codekey(code):
    return _KEYS[id(code)]


_MISSING = mon.MISSING


def norm(v):
    if v is _MISSING:
        return "MISSING"
    t = type(v)
    if t in (int, bool) or v is None:
        return repr(v)
    if t is str:
        return repr(v[:20])
    if isinstance(v, BaseException):
        return "exc:" + t.__name__
    if t in (tuple, list):
        return f"{t.__name__}[{len(v)}]"
    return "obj:" + t.__name__


def norm_callable(c):
    q = getattr(c, "__qualname__", None)
    if isinstance(q, str):
        return "fn:" + q
    return "obj:" + type(c).__name__


# Triage of a long run while engine bugs are open (never set by make test): FUZZ_TOLERATE=H13-2
# compares exception events without their offset, so that cases failing on H13-2 go on to show
# whatever else they would find.
TOLERATE = set(os.environ.get("FUZZ_TOLERATE", "").split(","))


def norm_args(ev, args):
    """The comparable part of an event's arguments (after the code object)."""
    if "H13-2" in TOLERATE and ev in ("RAISE", "RERAISE", "EXCEPTION_HANDLED", "PY_UNWIND", "PY_THROW"):
        return ("*",) + tuple(norm(a) for a in args[1:])
    if ev in ("CALL", "C_RETURN", "C_RAISE"):
        return (args[0], norm_callable(args[1]), norm(args[2]))
    if ev == "LINE":
        return (args[0],)
    return (args[0],) + tuple(norm(a) for a in args[1:])


class Case:
    def __init__(self, seed):
        self.seed = seed
        self.src = progen.generate(seed)
        r = random.Random(seed * 7919 + 1)
        self.r = r
        extra = [n for n in sorted(SUPPORTED) if n not in LIFECYCLE and n not in ANCILLARY]
        if "INSTRUCTION" in extra and r.random() < 0.8:
            extra.remove("INSTRUCTION")     # many events; not in every case
        uni = set(LIFECYCLE) | {n for n in extra if r.random() < 0.75}
        self.universe = sorted(valid_set(uni, SUPPORTED))
        self.b_seed = r.getrandbits(32)
        self.b_init_global = sorted(valid_set({n for n in self.universe if r.random() < 0.5}, SUPPORTED))
        self.p_disable = r.choice([0.0, 0.05, 0.2, 0.5])
        self.p_change = r.choice([0.0, 0.01, 0.05, 0.15])
        self.n_local = r.randint(0, 4)

    def describe(self):
        return (f"seed={self.seed} universe={','.join(self.universe)}\n"
                f"  B: initial global={','.join(self.b_init_global) or '-'} p_disable={self.p_disable} "
                f"p_change={self.p_change} local_sets={self.n_local} b_seed={self.b_seed}")

    # -- program ----------------------------------------------------------------------------
    def load(self):
        """Compile and define the program (module code runs with no tool on)."""
        code = compile(self.src, f"<fuzz-{self.seed}>", "exec")
        ns = {"__name__": f"fuzz{self.seed}"}
        exec(code, ns)
        codes = all_codes(code, [])
        for i, c in enumerate(codes):
            _KEYS[id(c)] = (c.co_qualname, c.co_firstlineno, i)
        return ns, codes

    def call_main(self, ns):
        try:
            res = ("ok", ns["main"]())
        except BaseException as e:     # noqa: BLE001 - the outcome is compared, not judged
            res = ("raised", type(e).__name__, str(e)[:60])
        return res, [tuple(norm(x) for x in o) for o in ns["_out"]]


class Failure(Exception):
    pass


# -- tool A: records everything in U, checks frame invariants ---------------------------------

class Recorder:
    def __init__(self, case, codes):
        self.case = case
        self.codes = {id(c): c for c in codes}
        self.stream = []           # (ev, codekey, *args), loc
        self.locs = []
        self.fsers = []            # serial number of the frame of each event
        self.serial = {}           # id(frame) -> serial, while A tracks the frame
        self.next_serial = 0
        self.violations = []
        self.frames = {}           # id(frame) -> [frame, state]
        # (id(frame), offset) -> (id(callable), id(arg0)).  Ids, not the objects: holding arg0 (a
        # generator passed to a Python function, say) would delay its finalization and so move
        # the events of its close() in this run only.  A C call keeps both alive until its
        # C_RETURN/C_RAISE, so the ids cannot be reused before they are compared.
        self.pending_calls = {}
        self.opmaps = {}
        self.lines = {}
        self.branches = {}

    def violate(self, msg):
        if len(self.violations) < 20:
            self.violations.append(f"event #{len(self.stream)}: {msg}")

    def opmap(self, code):
        m = self.opmaps.get(id(code))
        if m is None:
            m = self.opmaps[id(code)] = {i.offset: i.opname for i in dis.get_instructions(code)}
        return m

    def install(self):
        mon.use_tool_id(A_TOOL, "fuzz-A")
        for ev in self.case.universe:
            mon.register_callback(A_TOOL, bit(ev), self.callback(ev))
        mon.set_events(A_TOOL, bits(self.case.universe))

    def uninstall(self):
        mon.set_events(A_TOOL, 0)
        mon.free_tool_id(A_TOOL)

    def callback(self, ev):
        def cb(code, *args):
            if id(code) not in self.codes:
                return None
            frame = sys._getframe(1)
            # DISABLE from LINE switches off that whole line of the code object
            # (the fork's rule: a loop sharing its header's line stops costing), so
            # LINE's "location" is its line.
            loc = ("line", args[0]) if ev == "LINE" else args[0]
            self.stream.append((ev, codekey(code)) + norm_args(ev, args))
            self.locs.append(loc)
            fid = id(frame)
            if ev == "PY_START" or fid not in self.serial:
                self.next_serial += 1
                self.serial[fid] = self.next_serial
            self.fsers.append(self.serial[fid])
            try:
                self.check(ev, code, args, frame)
            except Exception as e:   # a bug in the checker must not look like one in the program
                self.violate(f"checker error {e!r}")
            return None
        cb.__name__ = f"A_{ev}"
        return cb

    def check(self, ev, code, args, frame):
        where = f"{ev} in {code.co_qualname} at {args[0]}"
        if frame.f_code is not code:
            self.violate(f"{where}: delivered in a frame of {frame.f_code.co_qualname}")
            return
        if ev in OFFSET_EVENTS:
            off = args[0]
            if not (isinstance(off, int) and 0 <= off < len(code.co_code) and off % 2 == 0):
                self.violate(f"{where}: offset outside the code")
            elif ev in AT_INSTRUCTION and off not in self.opmap(code):
                self.violate(f"{where}: offset is not an instruction's (inside an inline cache?)")
            elif FORK311 and ev in EVENT_OPS_311:
                op = self.opmap(code).get(off)
                if op not in EVENT_OPS_311[ev]:
                    self.violate(f"{where}: reported at {op}")
        if ev == "LINE":
            lines = self.lines.get(id(code))
            if lines is None:
                lines = self.lines[id(code)] = {l for _, _, l in code.co_lines() if l is not None}
            if args[0] not in lines:
                self.violate(f"{where}: line {args[0]} not in co_lines()")
        if ev in ("BRANCH_LEFT", "BRANCH_RIGHT") and hasattr(code, "co_branches"):
            br = self.branches.get(id(code))
            if br is None:
                br = self.branches[id(code)] = list(code.co_branches())
            pair = (args[0], args[1])
            ok = {(s, l) for s, l, _ in br} if ev == "BRANCH_LEFT" else {(s, r) for s, _, r in br}
            if pair not in ok:
                self.violate(f"{where}: ({args[0]} -> {args[1]}) not among co_branches()")
        if ev in ("JUMP", "BRANCH_LEFT", "BRANCH_RIGHT", "BRANCH"):
            d = args[1]
            if not (isinstance(d, int) and 0 <= d <= len(code.co_code) and d % 2 == 0):
                self.violate(f"{where}: destination {d} outside the code")

        # Frame life cycle.
        key = id(frame)
        ent = self.frames.get(key)
        state = ent[1] if ent is not None else None
        if ev == "PY_START":
            if state is not None:
                self.violate(f"{where}: PY_START of a frame already {state}")
            self.frames[key] = [frame, "running"]
        elif ev in ("PY_RESUME", "PY_THROW"):
            if state == "suspended":
                ent[1] = "running"
            elif state is None and ev == "PY_THROW":
                self.frames[key] = [frame, "running"]     # throw() into a generator never started
            else:
                self.violate(f"{where}: {ev} of a frame {state or 'never started'}")
        elif state != "running":
            self.violate(f"{where}: event in a frame {state or 'never started'}")
        elif ev == "PY_YIELD":
            ent[1] = "suspended"
        elif ev in ("PY_RETURN", "PY_UNWIND"):
            del self.frames[key]
            self.serial.pop(key, None)
            for k in [k for k in self.pending_calls if k[0] == key]:
                del self.pending_calls[k]

        # C_RETURN / C_RAISE belong to the CALL at the same offset of the same frame.
        if ev == "CALL" and "C_RETURN" in self.case.universe:
            self.pending_calls[(key, args[0])] = (id(args[1]), id(args[2]))
        elif ev in ANCILLARY and "CALL" in self.case.universe:
            p = self.pending_calls.pop((key, args[0]), None)
            if p is None:
                self.violate(f"{where}: no CALL before it")
            elif p != (id(args[1]), id(args[2])):
                self.violate(f"{where}: callable/arg0 differ from the CALL's")

    def finish(self):
        running = [f"{e[0].f_code.co_qualname}" for e in self.frames.values() if e[1] == "running"]
        if running:
            self.violate(f"frames started and never ended: {running}")
        self.frames.clear()
        self.pending_calls.clear()


# -- tool B: random behaviour, and the model that predicts what it sees -----------------------

class BModel:
    """B's state as the engine should hold it."""

    def __init__(self, case):
        self.glob = set(case.b_init_global)
        self.local = {}
        self.disabled = set()
        self.cbs = set(case.universe)

    def delivers(self, ev, ck, loc):
        if ev not in self.cbs:
            return False
        if ev not in self.glob and ev not in self.local.get(ck, ()):
            return False
        return (ck, loc, ev) not in self.disabled


class BDecider:
    """Draws B's decisions; the same code decides in the real run and in the replay."""

    def __init__(self, case, codes):
        self.case = case
        self.r = random.Random(case.b_seed)
        self.codes = codes

    def initial_locals(self):
        out = []
        for _ in range(self.case.n_local):
            code = self.r.choice(self.codes)
            s = valid_set({n for n in self.case.universe if self.r.random() < 0.5}, LOCAL_OK)
            out.append((code, sorted(s)))
        return out

    def decide(self, ev, code, offset):
        """-> (disable, [action, ...]) for an event B receives (at offset of code)."""
        if in_flight(ev, code, offset):
            # Whether B gets these can depend on what B did while the instruction was in
            # flight (see replay()); they must not steer what B does next.
            return False, []
        r = self.r
        disable = ev in DISABLEABLE and r.random() < self.case.p_disable
        actions = []
        if r.random() < self.case.p_change:
            k = r.randrange(7)
            if k <= 1:
                actions.append(("set_events", sorted(valid_set(
                    {n for n in self.case.universe if r.random() < 0.5}, SUPPORTED))))
            elif k <= 3:
                code = r.choice(self.codes)
                actions.append(("set_local_events", code, sorted(valid_set(
                    {n for n in self.case.universe if r.random() < 0.5}, LOCAL_OK))))
            elif k == 4:
                actions.append(("restart",))
            elif k == 5:
                actions.append(("callback", r.choice(self.case.universe), r.random() < 0.5))
            else:
                actions.append(("reclaim", sorted(valid_set(
                    {n for n in self.case.universe if r.random() < 0.5}, SUPPORTED))))
                disable = False     # what DISABLE means for a tool id freed meanwhile is undefined
        return disable, actions


def apply_model(model, actions):
    for a in actions:
        if a[0] == "set_events":
            model.glob = set(a[1])
        elif a[0] == "set_local_events":
            model.local[codekey(a[1])] = set(a[2])
        elif a[0] == "restart":
            model.disabled.clear()
        elif a[0] == "callback":
            (model.cbs.add if a[2] else model.cbs.discard)(a[1])
        elif a[0] == "reclaim":
            model.glob = set(a[1])
            model.local.clear()
            model.disabled.clear()
            model.cbs = set(model.cbs_all)


class RandomTool:
    def __init__(self, case, codes):
        self.case = case
        self.codes = {id(c) for c in codes}
        self.decider = BDecider(case, codes)
        self.stream = []
        self.violations = []
        self.starts = {}
        self.callbacks = {ev: self.callback(ev) for ev in case.universe}

    def install(self):
        mon.use_tool_id(B_TOOL, "fuzz-B")
        self.register_all()
        mon.set_events(B_TOOL, bits(self.case.b_init_global))
        for code, s in self.decider.initial_locals():
            mon.set_local_events(B_TOOL, code, bits(s))

    def register_all(self):
        for ev, cb in self.callbacks.items():
            mon.register_callback(B_TOOL, bit(ev), cb)

    def uninstall(self):
        mon.free_tool_id(B_TOOL)
        mon.restart_events()

    def callback(self, ev):
        DISABLE = mon.DISABLE

        def cb(code, *args):
            if id(code) not in self.codes:
                return None
            self.stream.append((ev, codekey(code)) + norm_args(ev, args))
            if ev in AT_INSTRUCTION:
                starts = self.starts.get(id(code))
                if starts is None:
                    starts = self.starts[id(code)] = {i.offset for i in dis.get_instructions(code)}
                if args[0] not in starts and len(self.violations) < 5:
                    self.violations.append(f"event #{len(self.stream) - 1} {ev} in {code.co_qualname}: "
                                           f"offset {args[0]} is not an instruction's (inside an inline cache?)")
            disable, actions = self.decider.decide(ev, code, args[0])
            for a in actions:
                if a[0] == "set_events":
                    mon.set_events(B_TOOL, bits(a[1]))
                elif a[0] == "set_local_events":
                    mon.set_local_events(B_TOOL, a[1], bits(a[2]))
                elif a[0] == "restart":
                    mon.restart_events()
                elif a[0] == "callback":
                    mon.register_callback(B_TOOL, bit(a[1]), self.callbacks[a[1]] if a[2] else None)
                elif a[0] == "reclaim":
                    mon.free_tool_id(B_TOOL)
                    mon.use_tool_id(B_TOOL, "fuzz-B")
                    self.register_all()
                    mon.restart_events()
                    mon.set_events(B_TOOL, bits(a[1]))
            return DISABLE if disable else None
        cb.__name__ = f"B_{ev}"
        return cb


def replay(case, codes, full_stream, full_locs, fsers, alone):
    """B's stream predicted from A's full stream: a list of (record, optional).

    alone: B is the only tool (in the "both" run A keeps every instruction instrumented, so an
    instruction in flight always completes with the events B wants when it completes)."""
    model = BModel(case)
    model.cbs_all = set(case.universe)
    dec = BDecider(case, codes)
    for code, s in dec.initial_locals():
        model.local[codekey(code)] = set(s)
    out = []
    decisions = []
    last_in_frame = {}          # frame serial -> index of its previous event in A's stream
    began = {}                  # frame serial -> where its current instruction began (see below)
    changed_at = -1             # index in A's stream of B's last change of event sets
    # (frame serial, offset) -> whether the CALL made there was for B: B had CALL on there (with
    # a callback or not) and had not DISABLEd it.
    call_for_b = {}
    bykey = {codekey(c): c for c in codes}
    for i, (rec, loc, fs) in enumerate(zip(full_stream, full_locs, fsers)):
        ev, ck = rec[0], rec[1]
        prev = last_in_frame.get(fs, -1)
        last_in_frame[fs] = i
        # The events an instruction fires while it runs (RAISE or STOP_ITERATION at the
        # FOR_ITER whose iterator is exhausted, before its BRANCH_RIGHT) belong to the
        # instruction that began before them: a change B makes in their callbacks is one made
        # in flight too.
        if prev >= 0 and full_stream[prev][0] in ("RAISE", "STOP_ITERATION") \
                and full_locs[prev] == loc and fsers[prev] == fs:
            start = began.get(fs, -1)
        else:
            start = prev
        began[fs] = start
        delivered = model.delivers(ev, ck, loc)
        flight = ev != "LINE" and in_flight(ev, bykey[ck], rec[2])
        optional = alone and flight and changed_at > start
        if ev == "CALL":
            call_for_b[(fs, loc)] = (("CALL" in model.glob or "CALL" in model.local.get(ck, ()))
                                     and (ck, loc, "CALL") not in model.disabled)
        elif ev in ANCILLARY and call_for_b.pop((fs, loc), False) and (ck, loc, ev) in model.disabled:
            # C_RETURN/C_RAISE ride on the CALL: after DISABLE from CALL the tool gets them no
            # more at that location (upstream 3.13/3.14), but a call already made there when it
            # was DISABLEd (the call that got the DISABLE, or an outer one of a recursion) is
            # another matter.  The fork reports its end to the tools its CALL event was for (the
            # documentation: they "will only be seen if the corresponding CALL event is being
            # monitored"); upstream does when the tool is alone and not when another tool has
            # CALL there.  So that one is optional.
            optional = True
        if not delivered and not optional:
            continue
        out.append((rec, optional))
        if optional and not delivered:
            decisions.append(None)
            continue
        disable, actions = dec.decide(ev, bykey[ck], rec[2])
        if actions:
            changed_at = i
        decisions.append((disable, actions))
        # The callback's own changes happen first; DISABLE takes effect when it returns.
        apply_model(model, actions)
        if disable:
            model.disabled.add((ck, loc, ev))
            if ev == "CALL":
                model.disabled.update((ck, loc, a) for a in ANCILLARY)
    return out, decisions


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b)) if len(a) != len(b) else None


def describe_decision(d):
    if d is None:
        return ""
    disable, actions = d
    parts = (["-> DISABLE"] if disable else []) + [
        " ".join(str(getattr(x, "co_qualname", x)) for x in a) for a in actions]
    return ("   [" + "; ".join(parts) + "]") if parts else ""


def stream_context(s, i, decisions=None, n=4):
    lo = max(0, i - (n if decisions is None else 4 * n))
    return "\n".join(f"      {j}: {s[j]}" + describe_decision(decisions[j] if decisions and j < len(decisions) else None)
                     for j in range(lo, min(len(s), i + 3)))


def match_model(expected, decisions, got, budget=10000):
    """Align got with expected [(record, optional)]: optional records may be missing.
    -> (True if they match, the expected records and decisions as aligned with got).

    An optional record equal to the next one received is taken first; when the rest does not
    match, the alignment goes back to the last such choice and leaves the optional record out
    instead (an optional STOP_ITERATION may look exactly like the required ones after it), at
    most budget times.  A mismatch is reported as the first attempt found it."""
    k = j = 0
    recs, decs = [], []
    choices = []            # (k, j, len(recs)) where an optional record was taken
    report = None
    while True:
        if k < len(expected):
            rec, optional = expected[k]
            if j < len(got) and got[j] == rec:
                if optional:
                    choices.append((k, j, len(recs)))
                recs.append(rec)
                decs.append(decisions[k])
                k += 1
                j += 1
                continue
            if optional:
                k += 1
                continue
        elif j == len(got):
            return True, recs, decs
        if report is None:
            report = (recs + [r for r, _ in expected[k:]], decs + decisions[k:])
        if not choices or budget <= 0:
            return False, report[0], report[1]
        budget -= 1
        k, j, n = choices.pop()
        del recs[n:], decs[n:]
        k += 1


EXC_EVENTS = {"RAISE", "RERAISE", "EXCEPTION_HANDLED", "PY_UNWIND", "PY_THROW"}


def known_signature(e, g):
    """Name the open engine bug (notes/hardening-bugs.md) a first difference looks like, if any."""
    if e and g and e[0] == g[0] and e[0] in EXC_EVENTS and e[1] == g[1] and e[3:] == g[3:] and e[2] != g[2]:
        return "  [looks like H13-2: exception offset depends on what is instrumented]"
    if g and g[0] == "RAISE" and g[-1] == "exc:StopIteration" and (e is None or e[:3] != g[:3]):
        return "  [looks like H13-1: RAISE at FOR_ITER for a generator's return value]"
    return ""


def compare_streams(what, expected, got, errors, decisions=None):
    i = first_difference(expected, got)
    if i is not None:
        sig = known_signature(expected[i] if i < len(expected) else None, got[i] if i < len(got) else None)
        errors.append(f"{what}: streams differ at event {i} (expected {len(expected)} events, got {len(got)}){sig}\n"
                      f"    expected (with B's decisions):\n{stream_context(expected, i, decisions)}\n"
                      f"    got:\n{stream_context(got, i)}")


def run_case(seed):
    case = Case(seed)
    _KEYS.clear()
    errors = []
    if mon.get_tool(A_TOOL) or mon.get_tool(B_TOOL):
        raise Failure("tool ids still in use from an earlier case")

    ns, codes = case.load()
    plain = case.call_main(ns)

    def with_tools(a, b):
        ns, codes = case.load()
        rec = Recorder(case, codes) if a else None
        tool = RandomTool(case, codes) if b else None
        if rec:
            rec.install()
        if tool:
            tool.install()
        try:
            result = case.call_main(ns)
        finally:
            if tool:
                tool.uninstall()
            if rec:
                rec.uninstall()
        if rec:
            rec.finish()
        return result, rec, tool, codes

    full, rec1, _, codes1 = with_tools(True, False)
    full2, rec2, _, _ = with_tools(True, False)
    solo, _, tool_solo, codes_solo = with_tools(False, True)
    both, rec_both, tool_both, _ = with_tools(True, True)

    for name, res in (("full", full), ("full2", full2), ("solo", solo), ("both", both)):
        if res != plain:
            i = first_difference(plain[1], res[1])
            errors.append(f"output of the {name} run differs from the run without tools: "
                          f"result {plain[0]} vs {res[0]}; first differing output line {i}: "
                          f"{plain[1][i] if i is not None and i < len(plain[1]) else None} vs "
                          f"{res[1][i] if i is not None and i < len(res[1]) else None}")
    for name, rec in (("full", rec1), ("full2", rec2), ("both", rec_both)):
        for v in rec.violations:
            errors.append(f"{name} run, tool A: {v}")
    for name, tool in (("solo", tool_solo), ("both", tool_both)):
        for v in tool.violations:
            errors.append(f"{name} run, tool B: {v}")
    compare_streams("full vs full2 (two identical runs)", rec1.stream, rec2.stream, errors)
    compare_streams("tool A alone vs tool A with B", rec1.stream, rec_both.stream, errors)
    for what, alone, tool in (("tool B alone vs its model", True, tool_solo),
                              ("tool B with A vs its model", False, tool_both)):
        expected_b, decisions = replay(case, codes_solo, rec1.stream, rec1.locs, rec1.fsers, alone)
        ok, recs, decs = match_model(expected_b, decisions, tool.stream)
        if not ok:
            compare_streams(what, recs, tool.stream, errors, decs)

    gc.collect()
    return case, errors, len(rec1.stream), len(tool_solo.stream)


def main(argv):
    if argv and argv[0] == "--show":
        case = Case(int(argv[1]))
        print(case.describe())
        ns, codes = case.load()
        print("  B's initial local sets:", [(c.co_qualname, s) for c, s in BDecider(case, codes).initial_locals()])
        print(case.src)
        return 0
    if argv and argv[0] == "--probe":
        print("global:", ",".join(sorted(SUPPORTED)))
        print("local:", ",".join(sorted(LOCAL_OK)))
        return 0
    for s in argv:
        seed = int(s)
        print(f"CASE {seed}", flush=True)
        try:
            case, errors, na, nb = run_case(seed)
        except BaseException:          # noqa: BLE001
            print(f"FAIL {seed}\n  harness error:\n{traceback.format_exc()}\nEND", flush=True)
            for t in (A_TOOL, B_TOOL):
                if mon.get_tool(t) is not None:
                    mon.free_tool_id(t)
            continue
        if errors:
            print(f"FAIL {seed}\n  {case.describe()}\n" + "\n".join("  " + e for e in errors) + "\nEND",
                  flush=True)
        else:
            print(f"OK {seed} {len(case.universe)} {na} {nb}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
