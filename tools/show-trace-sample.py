"""The sample program of `make show`: small functions, loops, a class, a generator."""


def primes(limit):
    sieve = [True] * limit
    found = []
    for n in range(2, limit):
        if sieve[n]:
            found.append(n)
            for multiple in range(n * n, limit, n): sieve[multiple] = False
    return found


def next_collatz(n):
    if n % 2 == 0:
        return n // 2
    return 3 * n + 1


def collatz_steps(n):
    steps = 0
    while n != 1:
        n = next_collatz(n)
        steps += 1
    return steps


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


class Account:
    def __init__(self, owner):
        self.owner = owner
        self.balance = 0

    def deposit(self, amount):
        if amount <= 0:
            raise ValueError("deposits must be positive")
        self.balance += amount


def transactions(n):
    for i in range(n):
        yield i % 7 - 1


def never_called():
    return "this line shows up as >>>>>> with --missing"


if __name__ == "__main__":
    found = primes(20000)
    longest = max(range(1, 2000), key=collatz_steps)
    account = Account("newcomer")
    refused = 0
    for amount in transactions(20000):
        try:
            account.deposit(amount)
        except ValueError:
            refused += 1
    print("primes below 20000:", len(found), "- longest Collatz chain below 2000 starts at", longest,
          "- fib(20) =", fib(20), "- balance", account.balance, "after", refused, "refused deposits")
