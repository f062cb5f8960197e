"""Sample project for the coverage.py client test (tests/coverage/run.sh): loops,
comprehensions, generators, try/finally, with, match, one-line loops."""


def line_while(n):
    i = t = 0
    while i < n:
        i += 1
        if i == 2:
            continue
        if i == 4:
            break
        t += i
    else:
        t = -1
    return t


def line_for(n):
    t = 0
    for x in range(n):
        if x == 5:
            break
        t += x
    else:
        t += 100
    return t


def line_one_line_loop(n):
    t = 0
    for x in range(n): t += x
    while t > 3: t -= 2
    return t


def line_one_line_function(): return 1


def line_nested(x):
    if x > 0:
        if x > 5:
            r = 2
        else:
            r = 1
    elif x < -5:
        r = -1
    else:
        r = 0
    return r


def line_try(x):
    try:
        if x:
            raise ValueError(x)
        y = 1
    except ValueError:
        y = 2
    else:
        y += 10
    finally:
        y += 1
    return y


class LineCM:
    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return True


def line_with(fail):
    with LineCM() as cm:
        if fail:
            raise KeyError(fail)
        x = 1
    return 2


def line_match(v):
    match v:
        case [a, b]:
            return a + b
        case {"k": k}:
            return k
        case int(x) if x > 3:
            return x
        case _:
            return None


def line_comprehensions(n):
    a = [x for x in range(n) if x % 2]
    b = {x: x
         for x in range(n)}
    return a, b


def line_genexpr(n):
    return sum(x for x in range(n))


def line_expressions(a, b):
    r = a and b
    s = a or b
    t = 1 if a else 2
    u = 0 < a < 5
    assert a or b, "never"
    return r, s, t, u


def line_generator(n):
    for i in range(n):
        yield i
    yield from range(2)


def line_use_generator():
    return list(line_generator(2))


async def line_coroutine(x):
    await LineAwaitable()
    return x


class LineAwaitable:
    def __await__(self):
        yield 1


def line_run_coroutine():
    c = line_coroutine(3)
    c.send(None)
    try:
        c.send(None)
    except StopIteration as e:
        return e.value


def line_multiline(x):
    y = (x +
         1)
    return y

LINE_PROGRAMS = [
    (line_while, (5,)), (line_while, (1,)), (line_for, (3,)), (line_for, (9,)),
    (line_one_line_loop, (4,)), (line_one_line_function, ()),
    (line_nested, (7,)), (line_nested, (1,)), (line_nested, (-9,)), (line_nested, (0,)),
    (line_try, (0,)), (line_try, (1,)), (line_with, (0,)), (line_with, (1,)),
    (line_match, ([1, 2],)), (line_match, ({"k": 3},)), (line_match, (5,)), (line_match, ("x",)),
    (line_comprehensions, (3,)), (line_genexpr, (3,)),
    (line_expressions, (0, 1)), (line_expressions, (2, 0)),
    (line_use_generator, ()), (line_run_coroutine, ()), (line_multiline, (1,)),
]

def main():
    for f, args in LINE_PROGRAMS:
        f(*args)
    list(line_generator(3))

if __name__ == "__main__":
    main()
