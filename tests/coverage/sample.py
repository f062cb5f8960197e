"""A tiny stock ledger: the sample project of tests/coverage.

run.sh runs it under coverage.py with --branch, once with each core
(COVERAGE_CORE=sysmon and COVERAGE_CORE=pytrace), and compare.py checks that
the two reports agree.  The ledger reads a small text format, a record a line:

    add NAME QTY @ PRICE    remove NAME QTY    # comment    end

main() feeds it inputs chosen so that every construct below runs along each
of its paths: while/else and for/else with break and continue, loops and
functions on one line, nested conditions and early returns,
try/except/else/finally, a with statement whose manager swallows the error,
match with sequence, mapping and class patterns and guards, comprehensions
and generator expressions, generators (yield from, a return, one closed
half-way), closures, a decorator, lambdas, short-circuit operators,
conditional expressions, chained comparisons, assert, expressions over several
lines, and coroutines run by asyncio and by a driver of our own.
"""
import asyncio


class ParseError(ValueError):
    """A record the ledger cannot read."""


def counted(fn):
    """Decorator: count the calls of fn (a closure over `calls`)."""
    calls = 0

    def wrapper(*args):
        nonlocal calls
        calls += 1
        return fn(*args)
    wrapper.calls = lambda: calls
    return wrapper


def is_comment(line): return line.lstrip().startswith("#")


def words(line):
    """The words of a record, up to a trailing comment."""
    for word in line.split():
        if word.startswith("#"):
            return
        yield word


def first_word(line):
    # Leaves the generator suspended: it is closed (GeneratorExit) when dropped.
    return next(words(line), None)


AUDIT = []


@counted
def number(text, kind=float):
    try:
        value = kind(text.rstrip("%"))
    except ValueError:
        raise ParseError(f"not a number: {text!r}") from None
    else:
        assert value == value, "NaN is not a quantity"
    finally:
        AUDIT.append(text)
    return value


def records(lines):
    """The records (lists of words) before "end"; notes a missing "end"."""
    pos = 0
    while pos < len(lines):
        line = lines[pos]
        pos += 1
        if is_comment(line) or not line.strip():
            continue
        if first_word(line) == "end":
            break
        yield list(words(line))
    else:
        AUDIT.append("input ends without an end record")


class Adjustment:
    __match_args__ = ("name", "delta")

    def __init__(self, name, delta):
        self.name, self.delta = name, delta

    def __repr__(self):
        return f"Adjustment({self.name!r}, {self.delta})"


class Ledger:
    def __init__(self):
        self.stock, self.prices = {}, {}
        self.discount = 0.0
        self.rejected = []

    def apply(self, record):
        match record:
            case ["add", name, qty, "@", price]:
                self.stock[name] = self.stock.get(name, 0) + number(qty, int)
                self.prices[name] = number(price)
            case ["remove", name, qty] if name in self.stock:
                self.stock[name] -= number(qty, int)
            case {"discount": pct}:
                self.discount = number(pct) / 100
            case Adjustment(name, delta) if delta:
                self.stock[name] = self.stock.get(name, 0) + delta
            case _:
                raise ParseError(f"cannot apply {record!r}")


class Transaction:
    """Applies a record all or nothing: a bad one is rolled back and noted."""

    def __init__(self, ledger):
        self.ledger = ledger

    def __enter__(self):
        self.saved = dict(self.ledger.stock)
        return self.ledger

    def __exit__(self, kind, error, tb):
        if kind is None:
            return False
        self.ledger.stock = self.saved
        self.ledger.rejected.append(str(error))
        return issubclass(kind, ParseError)


def load(ledger, items):
    for item in items:
        with Transaction(ledger) as book:
            book.apply(item)
    return ledger


def level(qty, reorder_at=3):
    if qty <= 0:
        if qty < -5:
            return "owed"
        return "out"
    elif qty < reorder_at:
        return "low"
    return "plenty"


def first_below(ledger, limit):
    for name in sorted(ledger.stock):
        if ledger.stock[name] < limit:
            break
    else:
        return None
    return name


def checksum(text):
    h = 7
    for ch in text: h = (h * 31 + ord(ch)) % 65521
    while h >= 1000: h //= 10
    return h


def report(ledger):
    short = [name for name in ledger.stock if level(ledger.stock[name]) != "plenty"]
    worth = {name: round(qty * ledger.prices.get(name, 0) * (1 - ledger.discount), 2)
             for name, qty in ledger.stock.items()}
    total = sum(value for value in worth.values() if value > 0)
    ranked = sorted(worth, key=lambda name: (-worth[name], name))
    return short, worth, total, ranked


def summary(ledger):
    short, worth, total, ranked = report(ledger)
    best = ranked and ranked[0]
    problems = ledger.rejected or "none"
    mood = "busy" if total > 10 else "quiet"
    assert 0 <= ledger.discount < 1 or not worth, "discount out of range"
    return (f"{len(worth)} items worth {total:.2f} ({mood}), best {best!r},"
            f" short {short}, rejected {problems}")


def lines_of(*texts):
    for text in texts:
        yield from text.splitlines()
    yield "end"


class Tick:
    """An awaitable that suspends its coroutine once, for drive()."""

    def __await__(self):
        yield "tick"


async def lookup(feeds, name):
    await Tick()
    return feeds.get(name, "")


def drive(coroutine):
    """Runs a coroutine that awaits only Tick, without an event loop."""
    ticks = 0
    try:
        while True:
            coroutine.send(None)
            ticks += 1
    except StopIteration as done:
        return done.value, ticks


async def arrivals(feeds):
    for day in sorted(feeds):
        await asyncio.sleep(0)
        yield feeds[day]


async def collect(feeds):
    async def fetch(day):
        await asyncio.sleep(0)
        return feeds[day]
    texts = [text async for text in arrivals(feeds)]
    again = await asyncio.gather(*(fetch(day) for day in sorted(feeds)))
    assert texts == list(again)
    return texts


FEEDS = {
    "mon": "# delivery\nadd apple 12 @ 0.40\nadd pear 2 @ 0.75\n\nadd plum x @ 1.10",
    "tue": "remove apple 5  # sold\nremove kiwi 1\nadd fig 1 @ 2.00",
}


def main():
    texts = asyncio.run(collect(FEEDS))
    ledger = load(Ledger(), records(list(lines_of(*texts))))
    load(ledger, [{"discount": "10%"}, Adjustment("pear", 4), Adjustment("fig", 0),
                  {"discount": "a lot"}])
    partial = load(Ledger(), records(["add kiwi 1 @ 3", "remove kiwi 9"]))
    results = [
        summary(ledger), summary(partial), summary(Ledger()),
        [level(q) for q in (-9, 0, 2, 20)],
        first_below(ledger, 3), first_below(ledger, 0),
        checksum(FEEDS["mon"]), checksum(""),
        drive(lookup(FEEDS, "tue")), drive(lookup(FEEDS, "sun")),
        number.calls(), len(AUDIT),
    ]
    for result in results:
        print(result)


if __name__ == "__main__":
    main()
