"""Large literals and big straight-line functions: the shape of generated code (tables, parsers,
configuration) that made upstream 3.12's sys.settrace slow.

Each unit runs functions whose bodies are one expression spread over thousands of lines (a dict
literal of 2,000 entries, a list of 1,500 tuples, a 1,200-term sum), each line with its own line
event under a line tracer, plus a fresh code object of the same shape compiled every unit, so that
instrumenting new large code is part of the cost.  Upstream CPython 3.12's settrace became quadratic
on such code (gh-127953) and several times slower than 3.11's on line events in general
(gh-107674): a line tracer's time here is what that would show.
"""

REPS = 600  # units of work at full scale (about 1.5 s on a stock default build)


def _dict_source(name, n):
    lines = ["def %s(k):" % name, "    table = {"]
    lines += ["        %d: (%d, 'v%d')," % (i, i * 7 % 101, i) for i in range(n)]
    lines += ["    }", "    return table[k %% %d][0] + len(table)" % n]
    return "\n".join(lines)


def _list_source(name, n):
    lines = ["def %s(x):" % name, "    rows = ["]
    lines += ["        (x + %d, %d)," % (i, i % 13) for i in range(n)]
    lines += ["    ]", "    return sum(a * b for a, b in rows[::50])"]
    return "\n".join(lines)


def _sum_source(name, n):
    lines = ["def %s(x):" % name, "    return ("]
    lines += ["        x * %d +" % (i % 17) for i in range(n)]
    lines += ["        0)"]
    return "\n".join(lines)


_namespace = {}
exec(compile("\n\n".join([_dict_source("big_dict", 2000), _list_source("big_list", 1500),
                          _sum_source("big_sum", 1200)]), "<literals>", "exec"), _namespace)
big_dict = _namespace["big_dict"]
big_list = _namespace["big_list"]
big_sum = _namespace["big_sum"]
_FRESH_SOURCE = _sum_source("fresh", 800)


def unit():
    total = 0
    for i in range(3):
        total += big_dict(i * 37)
        total += big_list(i)
        total += big_sum(i)
    ns = {}
    exec(compile(_FRESH_SOURCE, "<fresh>", "exec"), ns)
    total += ns["fresh"](3)
    return total % 1000000007


EXPECTED = 455890

BREAKPOINT = big_sum
