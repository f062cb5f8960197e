"""Generators and exceptions: lazy pipelines, `yield from` trees, send()-driven coroutines, throw() and
close(), and exceptions raised and caught across frames, in context managers and in `finally` blocks.

Exercises the events a plain call/return workload never produces: yields, resumes, raises, unwinds,
exception handling and StopIteration.
"""

REPS = 230  # units of work at full scale (about 1.5 s on a stock default build)


class ParseError(Exception):
    pass


class RangeError(ParseError):
    def __init__(self, value, limit):
        super().__init__("%d out of range" % value)
        self.value = value
        self.limit = limit


def numbers(n):
    x = 1
    for _ in range(n):
        x = (x * 75 + 74) % 65537
        yield x


def evens(it):
    for x in it:
        if x % 2 == 0:
            yield x


def windows(it, size):
    buf = []
    for x in it:
        buf.append(x)
        if len(buf) == size:
            yield tuple(buf)
            del buf[0]


def pipeline(n):
    total = 0
    for w in windows(evens(numbers(n)), 4):
        total = (total + max(w) - min(w)) % 1000003
    total += sum(x % 7 for x in numbers(n // 2))
    return total


def build_tree(lo, hi):
    if lo >= hi:
        return None
    mid = (lo + hi) // 2
    return (build_tree(lo, mid), mid, build_tree(mid + 1, hi))


def inorder(node):
    if node is None:
        return
    left, value, right = node
    yield from inorder(left)
    yield value
    yield from inorder(right)


def averager():
    total = 0
    count = 0
    avg = None
    while True:
        try:
            value = yield avg
        except ValueError:
            total = count = 0
            avg = None
            continue
        total += value
        count += 1
        avg = total // count


def coroutines(n):
    co = averager()
    next(co)
    acc = 0
    for i in range(n):
        if i % 50 == 49:
            acc += co.throw(ValueError("reset")) is None
        else:
            acc += co.send(i % 97)
    co.close()
    return acc


def parse_value(text, limit):
    value = int(text)  # ValueError for the malformed ones
    if value > limit:
        raise RangeError(value, limit)
    return value


def parse_all(texts, limit):
    good = bad = out_of_range = 0
    for t in texts:
        try:
            good += parse_value(t, limit)
        except RangeError as e:
            out_of_range += e.value - e.limit
        except ValueError:
            bad += 1
    return good, bad, out_of_range


class Suppress:
    def __init__(self, *types):
        self.types = types
        self.caught = 0

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and issubclass(exc_type, self.types):
            self.caught += 1
            return True
        return False


def deep_raise(depth):
    if depth == 0:
        raise KeyError(depth)
    try:
        return deep_raise(depth - 1)
    finally:
        pass


def exceptions(n):
    texts = []
    for i in range(n):
        if i % 9 == 0:
            texts.append("x%d" % i)
        else:
            texts.append(str((i * 131) % 1200))
    good, bad, oor = parse_all(texts, 1000)
    guard = Suppress(KeyError, ZeroDivisionError)
    for i in range(n // 4):
        with guard:
            if i % 2:
                deep_raise(i % 12)
            else:
                _ = 1 // (i % 3)
    it = iter(range(3))
    stops = 0
    for _ in range(n // 2):
        if next(it, None) is None:
            stops += 1
            it = iter(range(3))
    return good + bad * 7 + oor * 3 + guard.caught * 11 + stops


def unit():
    total = pipeline(6000)
    tree = build_tree(0, 1500)
    total += sum(v for v in inorder(tree) if v % 3 == 0)
    total += coroutines(3000)
    total += exceptions(3000)
    gen = numbers(10 ** 9)
    for _ in range(10):
        next(gen)
    gen.close()
    return total


EXPECTED = 2664561

# The function the breakpoint tools stop in (a recursive generator, entered once per tree node).
BREAKPOINT = inorder

