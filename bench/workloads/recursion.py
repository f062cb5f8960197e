"""Call-heavy recursion: naive Fibonacci, Takeuchi, binary trees, permutations, mutual recursion.

Almost every bytecode executed here is a call, a return or a comparison feeding one, so this is the
workload where per-call overhead (frame set-up, profiler and tracer call events) dominates.
"""

REPS = 300  # units of work at full scale (about 1.5 s on a stock default build)


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def tak(x, y, z):
    if y < x:
        return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y))
    return z


def make_tree(depth):
    if depth == 0:
        return (None, None)
    depth -= 1
    return (make_tree(depth), make_tree(depth))


def count_nodes(tree):
    left, right = tree
    if left is None:
        return 1
    return 1 + count_nodes(left) + count_nodes(right)


def tree_height(tree):
    left, right = tree
    if left is None:
        return 0
    return 1 + max(tree_height(left), tree_height(right))


def permutations(items, k, out):
    # Heap's algorithm, recursive form; `out` collects a rolling signature of every permutation.
    if k == 1:
        sig = 0
        for x in items:
            sig = sig * 7 + x
        out[0] = (out[0] * 31 + sig) % 1000000007
        out[1] += 1
        return
    permutations(items, k - 1, out)
    for i in range(k - 1):
        if k % 2 == 0:
            items[i], items[k - 1] = items[k - 1], items[i]
        else:
            items[0], items[k - 1] = items[k - 1], items[0]
        permutations(items, k - 1, out)


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


def gcd(a, b):
    return a if b == 0 else gcd(b, a % b)


def hanoi(n, src, dst, via, moves):
    if n == 0:
        return
    hanoi(n - 1, src, via, dst, moves)
    moves.append((src, dst))
    hanoi(n - 1, via, dst, src, moves)


def unit():
    total = fib(18)
    total += tak(14, 10, 5)
    tree = make_tree(11)
    total += count_nodes(tree) * 3 + tree_height(tree)
    out = [0, 0]
    permutations(list(range(6)), 6, out)
    total += out[0] + out[1]
    parity = 0
    for n in range(150, 300):
        parity += is_even(n)
    total += parity
    g = 0
    for a in range(1, 120):
        g += gcd(a * 7919, 104729 * (a % 13 + 1))
    total += g
    moves = []
    hanoi(11, "a", "c", "b", moves)
    total += len(moves) + sum(1 for s, d in moves if s == "a")
    return total


EXPECTED = 93607685

# The function the breakpoint tools stop in (a hot one: fib is most of the calls here).
BREAKPOINT = fib

