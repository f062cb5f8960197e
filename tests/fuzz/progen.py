"""Seeded generator of small random Python programs for the monitoring fuzzer.

generate(seed) returns the source of a program that

- is deterministic: same output on every run (no ids, no hashing of str, no time, no threads),
- always terminates quickly (loops are bounded, recursion has a depth argument),
- reports what it computes through ``out(...)`` (values are ints, strs and tuples of those),
- exercises the constructs monitoring has to get right: nested loops with break/continue, if/elif,
  try/except/else/finally, raise inside calls, ``with`` (suppressing and not), ``match``,
  comprehensions and generator expressions, lambdas and closures, generators (next/send/throw/close,
  yield from, abandoned half-way), coroutines and async generators driven by hand, recursion, and
  calls of builtins that return and that raise (C_RETURN / C_RAISE).

Every program defines ``main()``; the harness calls it and collects ``_out``.
"""

import random

PRELUDE = '''\
_out = []
def out(*args):
    _out.append(args)

class CM:
    def __init__(self, n, suppress=False):
        self.n = n
        self.suppress = suppress
    def __enter__(self):
        out("enter", self.n)
        return self.n
    def __exit__(self, typ, val, tb):
        out("exit", self.n, typ.__name__ if typ else None)
        return self.suppress

class Step:
    """An awaitable that suspends once."""
    def __init__(self, v):
        self.v = v
    def __await__(self):
        got = yield self.v
        return self.v if got is None else got

class Box:
    def __init__(self, v):
        self.v = v
    def get(self):
        return self.v
    def __call__(self, x):
        return self.v + x

def drive(coro, limit=200):
    """Run a coroutine to completion by hand (no event loop)."""
    sent = None
    for _ in range(limit):
        try:
            coro.send(sent)
        except StopIteration as e:
            return e.value
        sent = None
    coro.close()
    return "limit"

'''


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.lines = []
        self.funcs = []      # (name, kind, nargs)
        self.tmp = 0

    # -- helpers --------------------------------------------------------------------------------
    def emit(self, ind, text):
        self.lines.append("    " * ind + text)

    def chance(self, p):
        return self.r.random() < p

    def fresh(self, prefix="t"):
        self.tmp += 1
        return f"{prefix}{self.tmp}"

    def var(self, scope):
        return self.r.choice(scope)

    def expr(self, scope, depth=0):
        r = self.r.random()
        if depth > 2 or r < 0.25:
            return str(self.r.randint(-3, 9))
        if r < 0.5:
            return self.var(scope)
        if r < 0.7:
            op = self.r.choice(["+", "-", "*", "%", "//", "&", "|", "^"])
            a, b = self.expr(scope, depth + 1), self.expr(scope, depth + 1)
            if op in ("%", "//"):
                # Division by zero is allowed: it makes exceptions in expressions.
                return f"(({a}) {op} ({b}))"
            if op == "*":
                return f"((({a}) * ({b})) % 1000)"
            return f"(({a}) {op} ({b}))"
        if r < 0.8:
            f = self.r.choice(["abs", "len", "min", "max", "int", "sum", "sorted", "divmod"])
            a = self.expr(scope, depth + 1)
            if f == "abs":
                return f"abs({a})"
            if f == "len":
                return f"len(str({a}))"
            if f in ("min", "max"):
                return f"{f}({a}, {self.expr(scope, depth + 1)})"
            if f == "int":
                # int("x1") raises ValueError: a C_RAISE.
                return self.r.choice([f"int(str({a}))", f"int('x' + str({a}))"])
            if f == "sum":
                return f"sum(range(abs({a}) % 5))"
            if f == "sorted":
                return f"sorted([{a}, {self.expr(scope, depth + 1)}])[0]"
            return f"divmod({a}, 7)[1]"
        if r < 0.88:
            a, b = self.expr(scope, depth + 1), self.expr(scope, depth + 1)
            return f"({a} if {self.cond(scope)} else {b})"
        if r < 0.94:
            return f"(lambda q: q * 2 + 1)({self.expr(scope, depth + 1)})"
        return f"Box({self.expr(scope, depth + 1)}).get()"

    def cond(self, scope):
        a = self.var(scope)
        op = self.r.choice(["<", ">", "==", "!=", "<=", ">="])
        c = f"{a} {op} {self.r.randint(-2, 6)}"
        if self.chance(0.2):
            c = f"({c}) {self.r.choice(['and', 'or'])} {self.var(scope)} % 2 == 0"
        if self.chance(0.1):
            c = f"not ({c})"
        return c

    def callable_funcs(self, kinds):
        return [f for f in self.funcs if f[1] in kinds]

    # -- statements -----------------------------------------------------------------------------
    def block(self, ind, scope, depth, kind, n=None):
        # Names bound in a nested block are only used inside it (never unbound by accident).
        scope = list(scope)
        n = n if n is not None else self.r.randint(1, 4)
        for _ in range(n):
            self.stmt(ind, scope, depth, kind)

    def stmt(self, ind, scope, depth, kind):
        r = self.r.random()
        deep = depth >= 3
        if r < 0.16 or deep and r < 0.5:
            v = self.var(scope) if self.chance(0.6) else self.fresh("v")
            self.emit(ind, f"{v} = {self.expr(scope)}")
            if v not in scope:
                scope.append(v)
            return
        if r < 0.22:
            self.emit(ind, f"out({self.expr(scope)})")
            return
        if deep:
            self.emit(ind, f"out({self.var(scope)})")
            return
        if r < 0.30:
            self.emit(ind, f"if {self.cond(scope)}:")
            self.block(ind + 1, scope, depth + 1, kind)
            if self.chance(0.4):
                self.emit(ind, f"elif {self.cond(scope)}:")
                self.block(ind + 1, scope, depth + 1, kind)
            if self.chance(0.5):
                self.emit(ind, "else:")
                self.block(ind + 1, scope, depth + 1, kind)
            return
        if r < 0.38:
            i = self.fresh("i")
            self.emit(ind, f"for {i} in range({self.r.randint(0, 4)}):")
            inner = scope + [i]
            self.block(ind + 1, inner, depth + 1, kind)
            if self.chance(0.3):
                self.emit(ind + 1, f"if {i} == {self.r.randint(0, 3)}:")
                self.emit(ind + 2, self.r.choice(["break", "continue"]))
            if self.chance(0.2):
                self.emit(ind, "else:")
                self.emit(ind + 1, f"out('for-else', {self.var(scope)})")
            return
        if r < 0.42:
            c = self.fresh("c")
            self.emit(ind, f"{c} = 0")
            self.emit(ind, f"while {c} < {self.r.randint(0, 4)}:")
            self.emit(ind + 1, f"{c} += 1")
            self.block(ind + 1, scope, depth + 1, kind)   # c stays out of reach: no endless loop
            return
        if r < 0.52:
            self.emit(ind, "try:")
            self.block(ind + 1, scope, depth + 1, kind)
            if self.chance(0.4):
                self.emit(ind + 1, f"if {self.cond(scope)}:")
                self.emit(ind + 2, f"raise {self.r.choice(['ValueError', 'KeyError', 'TypeError'])}({self.var(scope)})")
            handlers = self.r.randint(0, 2)
            if handlers == 0 and self.chance(0.5):
                handlers = 1
            e = self.fresh("e")
            for h in range(handlers):
                exc = self.r.choice(["ValueError", "ZeroDivisionError", "(KeyError, TypeError)", "Exception"])
                self.emit(ind, f"except {exc} as {e}:")
                self.emit(ind + 1, f"out('caught', type({e}).__name__)")
                if self.chance(0.2):
                    self.emit(ind + 1, "raise")
                elif self.chance(0.3):
                    self.block(ind + 1, scope, depth + 1, kind, 1)
            if handlers and self.chance(0.3):
                self.emit(ind, "else:")
                self.emit(ind + 1, "out('else')")
            if handlers == 0 or self.chance(0.3):
                self.emit(ind, "finally:")
                self.emit(ind + 1, f"out('finally', {self.var(scope)})")
            return
        if r < 0.58:
            sup = self.chance(0.4)
            w = self.fresh("w")
            self.emit(ind, f"with CM({self.r.randint(0, 9)}, {sup}) as {w}:")
            self.block(ind + 1, scope + [w], depth + 1, kind)
            if self.chance(0.4):
                self.emit(ind + 1, f"if {self.cond(scope)}:")
                self.emit(ind + 2, f"raise ValueError({w})")
            return
        if r < 0.63:
            v = self.var(scope)
            self.emit(ind, f"match {self.r.choice([v, f'({v}, {self.var(scope)})', f'[{v}]', f'Box({v})'])}:")
            self.emit(ind + 1, f"case {self.r.randint(0, 3)}:")
            self.emit(ind + 2, "out('m-lit')")
            self.emit(ind + 1, f"case (a, b) if a > b:")
            self.emit(ind + 2, "out('m-tuple', a, b)")
            self.emit(ind + 1, "case [x]:")
            self.emit(ind + 2, "out('m-list', x)")
            self.emit(ind + 1, "case Box(v=q) if q % 2:")
            self.emit(ind + 2, "out('m-box', q)")
            self.emit(ind + 1, "case int(z) if z < 0:")
            self.emit(ind + 2, "out('m-neg', z)")
            if self.chance(0.7):
                self.emit(ind + 1, "case _:")
                self.block(ind + 2, scope, depth + 1, kind, 1)
            return
        if r < 0.70:
            v = self.fresh("v")
            x = self.fresh("x")
            src = f"range({self.r.randint(0, 6)})"
            form = self.r.choice([
                f"sum([{x} * 2 for {x} in {src} if {x} % 2])",
                f"sum({x} for {x} in {src})",
                f"len({{{x} % 3 for {x} in {src}}})",
                f"sorted({{{x}: -{x} for {x} in {src}}}.values())[:2]",
                f"[[{x} + y for y in range(2)] for {x} in {src}][-1:]",
                f"sum(({x} // ({x} - 2) for {x} in {src}))",   # may divide by zero
            ])
            self.emit(ind, f"{v} = {form}")
            self.emit(ind, f"out('comp', {v})")
            scope.append(v) if "sorted" not in form and "[[" not in form else None
            return
        if r < 0.82:
            # Use a function defined earlier.
            cands = self.funcs
            if not cands:
                self.emit(ind, f"out({self.expr(scope)})")
                return
            name, fkind, _ = self.r.choice(cands)
            self.use_func(ind, scope, name, fkind, depth)
            return
        if r < 0.86 and kind in ("gen", "agen"):
            v = self.fresh("s")
            if kind == "gen" and self.chance(0.3) and self.callable_funcs(("gen",)):
                g = self.r.choice(self.callable_funcs(("gen",)))[0]
                self.emit(ind, f"{v} = yield from {g}({self.var(scope)})")
            else:
                self.emit(ind, f"{v} = yield {self.expr(scope)}")
            self.emit(ind, f"out('sent', {v})")
            return
        if r < 0.90 and kind in ("coro", "agen"):
            v = self.fresh("a")
            coros = self.callable_funcs(("coro",))
            if coros and self.chance(0.5):
                self.emit(ind, f"{v} = await {self.r.choice(coros)[0]}({self.var(scope)})")
            else:
                self.emit(ind, f"{v} = await Step({self.expr(scope)})")
            self.emit(ind, f"out('awaited', {v})")
            scope.append(v)
            return
        if r < 0.94:
            # A closure.
            f = self.fresh("inner")
            cv = self.var(scope)
            self.emit(ind, f"def {f}(k):")
            self.emit(ind + 1, f"return k + {cv}" if self.chance(0.7) else f"return k // ({cv} % 3)")
            v = self.fresh("v")
            self.emit(ind, f"{v} = {f}({self.expr(scope)})")
            scope.append(v)
            return
        self.emit(ind, f"out({self.expr(scope)}, {self.expr(scope)})")

    def use_func(self, ind, scope, name, fkind, depth):
        arg = self.var(scope)
        v = self.fresh("r")
        if fkind in ("plain", "rec"):
            self.emit(ind, f"{v} = {name}({arg})")
            scope.append(v)
        elif fkind == "gen":
            g = self.fresh("g")
            how = self.r.randint(0, 6)
            if how == 0:
                self.emit(ind, f"for {v} in {name}({arg}):")
                self.emit(ind + 1, f"out('it', {v})")
            elif how == 1:
                self.emit(ind, f"out('list', list({name}({arg})))")
            elif how == 2:
                self.emit(ind, f"{g} = {name}({arg})")
                self.emit(ind, f"out('next', next({g}, 'done'), next({g}, 'done'))")
                self.emit(ind, f"{g}.close()")
            elif how == 3:
                self.emit(ind, f"{g} = {name}({arg})")
                self.emit(ind, f"out('next', next({g}, 'done'))")
                self.emit(ind, "try:")
                self.emit(ind + 1, f"out('thrown', {g}.throw(ValueError({arg})))")
                self.emit(ind, "except (ValueError, StopIteration) as ex:")
                self.emit(ind + 1, "out('throw-out', type(ex).__name__)")
            elif how == 4:
                self.emit(ind, f"{g} = {name}({arg})")
                self.emit(ind, "try:")
                self.emit(ind + 1, f"out('first', {g}.send(None))")
                self.emit(ind + 1, f"out('sent', {g}.send({self.expr(scope)}))")
                self.emit(ind, "except StopIteration as ex:")
                self.emit(ind + 1, "out('stop', ex.value)")
            elif how == 5:
                # Abandoned half-way: closed when collected.
                self.emit(ind, f"{g} = {name}({arg})")
                self.emit(ind, f"out('half', next({g}, 'done'))")
                self.emit(ind, f"del {g}")
            else:
                self.emit(ind, f"out('zip', [a + b for a, b in zip({name}({arg}), range(3))])")
        elif fkind == "coro":
            self.emit(ind, f"out('coro', drive({name}({arg})))")
        elif fkind == "agen":
            c = self.fresh("consume")
            self.emit(ind, f"async def {c}():")
            self.emit(ind + 1, "acc = []")
            self.emit(ind + 1, f"async for y in {name}({arg}):")
            self.emit(ind + 2, "acc.append(y)")
            self.emit(ind + 2, f"if len(acc) > {self.r.randint(1, 4)}:")
            self.emit(ind + 3, "break")
            self.emit(ind + 1, "return acc")
            self.emit(ind, f"out('agen', drive({c}()))")

    # -- functions ------------------------------------------------------------------------------
    def function(self, idx):
        kind = self.r.choice(["plain", "plain", "gen", "gen", "coro", "agen", "rec"])
        name = f"f{idx}_{kind}"
        scope = ["n"]
        if kind == "rec":
            self.emit(0, f"def {name}(n, depth=3):")
            self.emit(1, "if depth <= 0:")
            self.emit(2, "return n")
            self.block(1, scope, 1, kind, self.r.randint(1, 3))
            self.emit(1, f"return {name}({self.expr(scope)}, depth - 1) + 1")
        else:
            prefix = "async def" if kind in ("coro", "agen") else "def"
            self.emit(0, f"{prefix} {name}(n):")
            self.block(1, scope, 1, kind, self.r.randint(2, 5))
            if kind == "gen":
                self.emit(1, f"yield {self.var(scope)}")
                self.emit(1, f"return {self.expr(scope)}")
            elif kind == "agen":
                self.emit(1, f"yield {self.var(scope)}")
                self.emit(1, f"yield {self.expr(scope)}")
            else:
                self.emit(1, f"return {self.expr(scope)}")
        self.emit(0, "")
        self.funcs.append((name, kind, 1))

    def program(self):
        self.lines = PRELUDE.splitlines()
        for i in range(self.r.randint(2, 6)):
            self.function(i)
        self.emit(0, "def main():")
        for name, kind, _ in self.funcs:
            self.emit(1, "try:")
            scope = ["n"]
            self.emit(2, f"n = {self.r.randint(-2, 7)}")
            self.use_func(2, scope, name, kind, 1)
            self.emit(1, "except Exception as exc:")
            self.emit(2, f"out('{name}', 'raised', type(exc).__name__)")
        self.emit(1, "return len(_out)")
        return "\n".join(self.lines) + "\n"


def generate(seed):
    return Gen(seed).program()


if __name__ == "__main__":
    import sys
    print(generate(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
