"""The program the legacy-client checks trace (tests/clients): coverage.py runs it as a script,
line_profiler profiles its functions.  Deterministic; prints one checksum line.

It reaches the shapes of code that trace and profile functions see differently: branches of every
kind, loops with else, comprehensions, generators (send/throw/close), coroutines, exceptions caught
and re-raised across frames, with blocks, match, closures, class bodies, recursion, and a second
thread (which runs under the same trace function with coverage.py, and untraced with line_profiler
while the main thread is traced).
"""

import asyncio
import threading


def classify(n):
    if n < 0:
        return "negative"
    elif n == 0:
        return "zero"
    elif n % 2:
        return "odd"
    else:
        return "even"


def loops(limit):
    total = 0
    for i in range(limit):
        if i % 7 == 3:
            continue
        if i > 40:
            break
        total += i
    else:
        total = -1
    j = 0
    while j < 5:
        j += 1
    else:
        total += j
    return total


def comprehensions(n):
    squares = [i * i for i in range(n) if i % 3]
    table = {i: c for i, c in enumerate("abcdef") if i != 2}
    odd = {x for x in squares if x & 1}
    return sum(squares) + len(table) + sum(g for g in odd)


def countdown(n):
    received = []
    while n > 0:
        try:
            got = yield n
        except KeyError:
            received.append("thrown")
            got = None
        if got is not None:
            received.append(got)
        n -= 1
    return received


def drive_generator():
    gen = countdown(6)
    out = [next(gen), gen.send("a"), gen.throw(KeyError), next(gen)]
    try:
        while True:
            out.append(gen.send(None))
    except StopIteration as stop:
        out.append(tuple(stop.value))
    closed = countdown(3)
    next(closed)
    closed.close()
    return out


def delegate():
    yield 0
    result = yield from countdown(2)
    yield len(result)


def fails(depth):
    if depth == 0:
        raise ValueError("bottom")
    return fails(depth - 1) + 1


def exceptions():
    caught = 0
    for depth in (0, 3):
        try:
            fails(depth)
        except ValueError:
            caught += 1
        finally:
            caught += 10
    try:
        try:
            {}["missing"]
        except KeyError as e:
            raise RuntimeError("wrapped") from e
    except RuntimeError as e:
        caught += isinstance(e.__cause__, KeyError)
    return caught


class Resource:
    def __init__(self, log):
        self.log = log

    def __enter__(self):
        self.log.append("enter")
        return self

    def __exit__(self, kind, value, tb):
        self.log.append("exit:%s" % (kind.__name__ if kind else None))
        return kind is ZeroDivisionError


def with_blocks():
    log = []
    with Resource(log):
        log.append("body")
    with Resource(log) as r:
        r.log.append(1 // 0)
    return log


def matcher(value):
    match value:
        case (x, y) if x == y:
            return "pair-same"
        case (x, y):
            return "pair"
        case {"k": k}:
            return "map:%s" % k
        case int() | float():
            return "number"
        case _:
            return "other"


def make_counter():
    count = 0

    def bump(by=1):
        nonlocal count
        count += by
        return count
    return bump


class Shape:
    sides = 0

    def __init__(self, size):
        self.size = size

    @property
    def perimeter(self):
        return self.sides * self.size


class Square(Shape):
    sides = 4


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


async def ticker(n):
    total = 0
    for i in range(n):
        await asyncio.sleep(0)
        total += i
    return total


async def gather():
    values = await asyncio.gather(ticker(3), ticker(4))
    return sum(values)


def in_thread(results):
    results.append(sum(classify(i) == "odd" for i in range(-3, 30)))
    results.append(loops(20))


def main():
    parts = []
    parts.append([classify(n) for n in (-1, 0, 3, 4)])
    parts.append(loops(10))
    parts.append(loops(100))
    parts.append(comprehensions(20))
    parts.append(drive_generator())
    parts.append(list(delegate()))
    parts.append(exceptions())
    parts.append(with_blocks())
    parts.append([matcher(v) for v in ((1, 1), (1, 2), {"k": 5}, 2.5, "s")])
    bump = make_counter()
    bump()
    parts.append(bump(5))
    parts.append(Square(3).perimeter)
    parts.append(fib(12))
    parts.append(asyncio.run(gather()))
    results = []
    worker = threading.Thread(target=in_thread, args=(results,))
    worker.start()
    worker.join()
    parts.append(results)
    lam = lambda x: (x if x else -x)
    parts.append([lam(v) for v in (0, 2)])
    return parts


if __name__ == "__main__":
    print("sample:", repr(main()))
