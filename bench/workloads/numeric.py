"""Loop-heavy numeric code: Mandelbrot escape counts, a sieve, modular matrix products, an n-body step.

Few calls, long `for`/`while` loops over integer and float arithmetic: the workload where per-line and
per-instruction overhead dominates and call events are rare.
"""

REPS = 300  # units of work at full scale (about 1.5 s on a stock default build)


def mandelbrot(width, height, max_iter):
    total = 0
    for py in range(height):
        ci = -1.2 + 2.4 * py / height
        for px in range(width):
            cr = -2.1 + 3.0 * px / width
            zr = zi = 0.0
            n = 0
            while n < max_iter and zr * zr + zi * zi <= 4.0:
                zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
                n += 1
            total += n
    return total


def sieve(limit):
    flags = [True] * (limit + 1)
    flags[0] = flags[1] = False
    i = 2
    while i * i <= limit:
        if flags[i]:
            j = i * i
            while j <= limit:
                flags[j] = False
                j += i
        i += 1
    count = 0
    last = 0
    for k in range(limit + 1):
        if flags[k]:
            count += 1
            last = k
    return count * 100003 + last


def matmul_mod(n, p):
    a = [[(i * 31 + j * 17 + 5) % p for j in range(n)] for i in range(n)]
    b = [[(i * 13 + j * 7 + 3) % p for j in range(n)] for i in range(n)]
    c = [[0] * n for _ in range(n)]
    for i in range(n):
        ai = a[i]
        ci = c[i]
        for k in range(n):
            aik = ai[k]
            bk = b[k]
            for j in range(n):
                ci[j] = (ci[j] + aik * bk[j]) % p
    trace = 0
    for i in range(n):
        trace = (trace + c[i][i] * (i + 1)) % p
    return trace


def nbody(steps):
    # Five bodies, plain lists, a fixed time step: deterministic IEEE arithmetic on every platform that
    # evaluates the same operations in the same order (both interpreters here do).
    bodies = [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 39.47],
        [4.84, -1.16, -0.10, 0.606, 2.81, -0.02, 0.037],
        [8.34, 4.12, -0.40, -1.01, 1.82, 0.008, 0.011],
        [12.89, -15.11, -0.22, 1.08, 0.868, -0.010, 0.0017],
        [15.37, -25.91, 0.179, 0.979, 0.594, -0.034, 0.002],
    ]
    dt = 0.01
    nb = len(bodies)
    for _ in range(steps):
        for i in range(nb):
            bi = bodies[i]
            for j in range(i + 1, nb):
                bj = bodies[j]
                dx = bi[0] - bj[0]
                dy = bi[1] - bj[1]
                dz = bi[2] - bj[2]
                d2 = dx * dx + dy * dy + dz * dz
                mag = dt / (d2 * d2 ** 0.5)
                mi = bi[6] * mag
                mj = bj[6] * mag
                bi[3] -= dx * mj
                bi[4] -= dy * mj
                bi[5] -= dz * mj
                bj[3] += dx * mi
                bj[4] += dy * mi
                bj[5] += dz * mi
        for b in bodies:
            b[0] += dt * b[3]
            b[1] += dt * b[4]
            b[2] += dt * b[5]
    energy = 0.0
    for b in bodies:
        energy += 0.5 * b[6] * (b[3] * b[3] + b[4] * b[4] + b[5] * b[5])
    return int(round(energy * 1e6))


def collatz_longest(limit):
    best = best_n = 0
    for start in range(1, limit):
        n = start
        steps = 0
        while n != 1:
            if n & 1:
                n = 3 * n + 1
            else:
                n >>= 1
            steps += 1
        if steps > best:
            best, best_n = steps, start
    return best * 1000003 + best_n


def unit():
    total = mandelbrot(24, 16, 60)
    total += sieve(12000)
    total += matmul_mod(16, 10007)
    total += nbody(120)
    total += collatz_longest(700)
    return total


EXPECTED = 288012438

# The function the breakpoint tools stop in (one line of its inner loop runs ~100k times per unit).
BREAKPOINT = matmul_mod

