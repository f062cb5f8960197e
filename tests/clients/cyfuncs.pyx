# cython: language_level=3, profile=True, linetrace=True
# Compiled by tests/clients/run.sh with -DCYTHON_TRACE=1, once per interpreter: Cython's generated
# code reports calls, returns and lines to sys.setprofile/sys.settrace functions (cProfile among
# them) itself, by reading the thread state's tracing flags, so this is how 3.11's legacy hooks
# look to compiled code.

cdef int square(int x):
    return x * x


cpdef long sum_squares(int n):
    cdef long total = 0
    cdef int i
    for i in range(n):
        if i % 3 == 0:
            continue
        total += square(i)
    return total


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def classify(values):
    out = []
    for v in values:
        if v < 0:
            out.append("neg")
        elif v == 0:
            out.append("zero")
        else:
            out.append("pos")
    return out


def boom(n):
    if n == 0:
        raise ValueError("bottom")
    return boom(n - 1)


def catcher():
    caught = 0
    for n in (0, 2):
        try:
            boom(n)
        except ValueError:
            caught += 1
    return caught


def gen(n):
    for i in range(n):
        yield i * 2


def consume():
    total = 0
    for x in gen(4):
        total += x
    return total


def call_back(f, n):
    return [f(i) for i in range(n)]


def run():
    return [sum_squares(10), fib(7), classify([-2, 0, 5]), catcher(), consume(),
            call_back(lambda i: i + 1, 3)]
