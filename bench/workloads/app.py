"""An application-shaped program: an interpreter for a small toy language ("Toy").

A hand-written lexer, a precedence-climbing parser that builds an AST of small classes, and a
tree-walking evaluator with lexical closures, lists, strings and a few builtins.  Each unit of work
lexes, parses and runs a handful of Toy programs (recursion, a sieve, sorting, closures, higher-order
functions, string building) and checks what they printed.
"""

REPS = 80  # units of work at full scale (about 1.5 s on a stock default build)


# --------------------------------------------------------------------------------------------- lexer

KEYWORDS = {"let", "fn", "if", "else", "while", "return", "true", "false", "nil", "for", "in"}
TWO_CHAR = {"==", "!=", "<=", ">=", "&&", "||"}
ONE_CHAR = set("+-*/%<>=!(){}[],;")


class Token:
    __slots__ = ("kind", "text", "line")

    def __init__(self, kind, text, line):
        self.kind = kind  # "num", "str", "name", "kw", "op", "eof"
        self.text = text
        self.line = line

    def __repr__(self):
        return "Token(%s, %r, line %d)" % (self.kind, self.text, self.line)


class ToyError(Exception):
    pass


def tokenize(src):
    tokens = []
    i = 0
    line = 1
    n = len(src)
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in " \t\r":
            i += 1
        elif c == "#":
            while i < n and src[i] != "\n":
                i += 1
        elif c.isdigit():
            j = i
            while j < n and src[j].isdigit():
                j += 1
            tokens.append(Token("num", src[i:j], line))
            i = j
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (src[j].isalnum() or src[j] == "_"):
                j += 1
            word = src[i:j]
            tokens.append(Token("kw" if word in KEYWORDS else "name", word, line))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 1
            if j >= n:
                raise ToyError("line %d: unterminated string" % line)
            tokens.append(Token("str", src[i + 1:j], line))
            i = j + 1
        elif src[i:i + 2] in TWO_CHAR:
            tokens.append(Token("op", src[i:i + 2], line))
            i += 2
        elif c in ONE_CHAR:
            tokens.append(Token("op", c, line))
            i += 1
        else:
            raise ToyError("line %d: unexpected character %r" % (line, c))
    tokens.append(Token("eof", "", line))
    return tokens


# ----------------------------------------------------------------------------------------------- AST

class Node:
    __slots__ = ()


class Num(Node):
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Str(Node):
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Const(Node):
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Var(Node):
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


class ListLit(Node):
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items


class BinOp(Node):
    __slots__ = ("op", "left", "right")

    def __init__(self, op, left, right):
        self.op, self.left, self.right = op, left, right


class Unary(Node):
    __slots__ = ("op", "operand")

    def __init__(self, op, operand):
        self.op, self.operand = op, operand


class Call(Node):
    __slots__ = ("func", "args")

    def __init__(self, func, args):
        self.func, self.args = func, args


class Index(Node):
    __slots__ = ("target", "index")

    def __init__(self, target, index):
        self.target, self.index = target, index


class FnLit(Node):
    __slots__ = ("name", "params", "body")

    def __init__(self, name, params, body):
        self.name, self.params, self.body = name, params, body


class Let(Node):
    __slots__ = ("name", "value")

    def __init__(self, name, value):
        self.name, self.value = name, value


class Assign(Node):
    __slots__ = ("target", "value")

    def __init__(self, target, value):
        self.target, self.value = target, value


class If(Node):
    __slots__ = ("cond", "then", "orelse")

    def __init__(self, cond, then, orelse):
        self.cond, self.then, self.orelse = cond, then, orelse


class While(Node):
    __slots__ = ("cond", "body")

    def __init__(self, cond, body):
        self.cond, self.body = cond, body


class ForIn(Node):
    __slots__ = ("name", "iterable", "body")

    def __init__(self, name, iterable, body):
        self.name, self.iterable, self.body = name, iterable, body


class Return(Node):
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class ExprStmt(Node):
    __slots__ = ("expr",)

    def __init__(self, expr):
        self.expr = expr


# -------------------------------------------------------------------------------------------- parser

PRECEDENCE = {
    "||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4,
    "+": 5, "-": 5, "*": 6, "/": 6, "%": 6,
}


class Parser:
    def __init__(self, tokens):
        self.tokens = tokens
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos]

    def next(self):
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def at(self, text):
        tok = self.tokens[self.pos]
        return tok.text == text and tok.kind in ("op", "kw")

    def expect(self, text):
        tok = self.next()
        if tok.text != text:
            raise ToyError("line %d: expected %r, got %r" % (tok.line, text, tok.text))
        return tok

    def program(self):
        stmts = []
        while self.peek().kind != "eof":
            stmts.append(self.statement())
        return stmts

    def block(self):
        self.expect("{")
        stmts = []
        while not self.at("}"):
            stmts.append(self.statement())
        self.expect("}")
        return stmts

    def statement(self):
        tok = self.peek()
        if tok.kind == "kw":
            if tok.text == "let":
                self.next()
                name = self.next().text
                self.expect("=")
                value = self.expression(0)
                self.expect(";")
                return Let(name, value)
            if tok.text == "fn" and self.tokens[self.pos + 1].kind == "name":
                self.next()
                name = self.next().text
                return Let(name, self.function_rest(name))
            if tok.text == "if":
                self.next()
                cond = self.expression(0)
                then = self.block()
                orelse = []
                if self.at("else"):
                    self.next()
                    orelse = [self.statement()] if self.at("if") else self.block()
                return If(cond, then, orelse)
            if tok.text == "while":
                self.next()
                cond = self.expression(0)
                return While(cond, self.block())
            if tok.text == "for":
                self.next()
                name = self.next().text
                self.expect("in")
                iterable = self.expression(0)
                return ForIn(name, iterable, self.block())
            if tok.text == "return":
                self.next()
                value = Const(None) if self.at(";") else self.expression(0)
                self.expect(";")
                return Return(value)
        expr = self.expression(0)
        if self.at("="):
            self.next()
            value = self.expression(0)
            self.expect(";")
            if not isinstance(expr, (Var, Index)):
                raise ToyError("line %d: cannot assign to that" % tok.line)
            return Assign(expr, value)
        self.expect(";")
        return ExprStmt(expr)

    def function_rest(self, name):
        self.expect("(")
        params = []
        while not self.at(")"):
            params.append(self.next().text)
            if self.at(","):
                self.next()
        self.expect(")")
        return FnLit(name, params, self.block())

    def expression(self, min_prec):
        left = self.unary()
        while True:
            tok = self.peek()
            prec = PRECEDENCE.get(tok.text) if tok.kind == "op" else None
            if prec is None or prec <= min_prec:
                return left
            self.next()
            left = BinOp(tok.text, left, self.expression(prec))

    def unary(self):
        if self.at("-") or self.at("!"):
            op = self.next().text
            return Unary(op, self.unary())
        return self.postfix(self.primary())

    def postfix(self, expr):
        while True:
            if self.at("("):
                self.next()
                args = []
                while not self.at(")"):
                    args.append(self.expression(0))
                    if self.at(","):
                        self.next()
                self.expect(")")
                expr = Call(expr, args)
            elif self.at("["):
                self.next()
                index = self.expression(0)
                self.expect("]")
                expr = Index(expr, index)
            else:
                return expr

    def primary(self):
        tok = self.next()
        if tok.kind == "num":
            return Num(int(tok.text))
        if tok.kind == "str":
            return Str(tok.text)
        if tok.kind == "name":
            return Var(tok.text)
        if tok.kind == "kw":
            if tok.text in ("true", "false", "nil"):
                return Const({"true": True, "false": False, "nil": None}[tok.text])
            if tok.text == "fn":
                return self.function_rest("<lambda>")
        if tok.text == "(":
            expr = self.expression(0)
            self.expect(")")
            return expr
        if tok.text == "[":
            items = []
            while not self.at("]"):
                items.append(self.expression(0))
                if self.at(","):
                    self.next()
            self.expect("]")
            return ListLit(items)
        raise ToyError("line %d: unexpected %r" % (tok.line, tok.text))


# ----------------------------------------------------------------------------------------- evaluator

class Env:
    __slots__ = ("vars", "parent")

    def __init__(self, parent=None):
        self.vars = {}
        self.parent = parent

    def lookup(self, name):
        env = self
        while env is not None:
            if name in env.vars:
                return env.vars
            env = env.parent
        raise ToyError("undefined variable %r" % name)


class Function:
    __slots__ = ("node", "closure")

    def __init__(self, node, closure):
        self.node = node
        self.closure = closure


class ReturnSignal(Exception):
    def __init__(self, value):
        self.value = value


def toy_str(v):
    if v is None:
        return "nil"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, list):
        return "[" + ", ".join(toy_str(x) for x in v) + "]"
    if isinstance(v, Function):
        return "<fn %s>" % v.node.name
    return str(v)


ARITH = {
    "+": lambda a, b: a + b if not isinstance(a, str) else a + toy_str(b),
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a // b,
    "%": lambda a, b: a % b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class Interpreter:
    def __init__(self):
        self.output = []
        self.globals = Env()
        self.globals.vars.update({
            "print": lambda *args: self.output.append(" ".join(toy_str(a) for a in args)),
            "len": len,
            "push": lambda lst, x: lst.append(x),
            "str": toy_str,
            "range": lambda n: list(range(n)),
        })
        self.dispatch = {
            Num: self.e_const, Str: self.e_const, Const: self.e_const, Var: self.e_var,
            ListLit: self.e_list, BinOp: self.e_binop, Unary: self.e_unary, Call: self.e_call,
            Index: self.e_index, FnLit: self.e_fn,
        }

    def run(self, src):
        for stmt in Parser(tokenize(src)).program():
            self.execute(stmt, self.globals)
        return self.output

    def execute_block(self, stmts, env):
        for stmt in stmts:
            self.execute(stmt, env)

    def execute(self, stmt, env):
        kind = type(stmt)
        if kind is ExprStmt:
            self.eval(stmt.expr, env)
        elif kind is Let:
            env.vars[stmt.name] = self.eval(stmt.value, env)
        elif kind is Assign:
            value = self.eval(stmt.value, env)
            target = stmt.target
            if type(target) is Var:
                env.lookup(target.name)[target.name] = value
            else:
                self.eval(target.target, env)[self.eval(target.index, env)] = value
        elif kind is If:
            if self.truthy(self.eval(stmt.cond, env)):
                self.execute_block(stmt.then, Env(env))
            elif stmt.orelse:
                self.execute_block(stmt.orelse, Env(env))
        elif kind is While:
            while self.truthy(self.eval(stmt.cond, env)):
                self.execute_block(stmt.body, Env(env))
        elif kind is ForIn:
            for item in self.eval(stmt.iterable, env):
                inner = Env(env)
                inner.vars[stmt.name] = item
                self.execute_block(stmt.body, inner)
        elif kind is Return:
            raise ReturnSignal(self.eval(stmt.value, env))
        else:
            raise ToyError("unknown statement %s" % kind.__name__)

    @staticmethod
    def truthy(v):
        return v is not None and v is not False and v != 0

    def eval(self, node, env):
        return self.dispatch[type(node)](node, env)

    def e_const(self, node, env):
        return node.value

    def e_var(self, node, env):
        return env.lookup(node.name)[node.name]

    def e_list(self, node, env):
        return [self.eval(x, env) for x in node.items]

    def e_binop(self, node, env):
        op = node.op
        if op == "&&":
            left = self.eval(node.left, env)
            return self.eval(node.right, env) if self.truthy(left) else left
        if op == "||":
            left = self.eval(node.left, env)
            return left if self.truthy(left) else self.eval(node.right, env)
        return ARITH[op](self.eval(node.left, env), self.eval(node.right, env))

    def e_unary(self, node, env):
        value = self.eval(node.operand, env)
        return -value if node.op == "-" else not self.truthy(value)

    def e_index(self, node, env):
        return self.eval(node.target, env)[self.eval(node.index, env)]

    def e_fn(self, node, env):
        return Function(node, env)

    def e_call(self, node, env):
        func = self.eval(node.func, env)
        args = [self.eval(a, env) for a in node.args]
        if not isinstance(func, Function):
            return func(*args)
        params = func.node.params
        if len(params) != len(args):
            raise ToyError("%s wants %d arguments, got %d" % (func.node.name, len(params), len(args)))
        call_env = Env(func.closure)
        call_env.vars.update(zip(params, args))
        try:
            self.execute_block(func.node.body, call_env)
        except ReturnSignal as r:
            return r.value
        return None


# ------------------------------------------------------------------------------------- Toy programs

PROGRAMS = [
    """
    # naive recursion
    fn fib(n) { if n < 2 { return n; } return fib(n - 1) + fib(n - 2); }
    print("fib", fib(13));
    """,
    """
    # sieve of Eratosthenes over a list
    let limit = 400;
    let flags = [];
    for i in range(limit) { push(flags, true); }
    let primes = [];
    let i = 2;
    while i < limit {
        if flags[i] {
            push(primes, i);
            let j = i * i;
            while j < limit { flags[j] = false; j = j + i; }
        }
        i = i + 1;
    }
    print("primes", len(primes), primes[len(primes) - 1]);
    """,
    """
    # insertion sort and a recursive quicksort
    let seed = 17;
    fn rand() { seed = (seed * 1103 + 12345) % 65536; return seed % 1000; }
    let xs = [];
    for k in range(60) { push(xs, rand()); }
    fn insertion(a) {
        let i = 1;
        while i < len(a) {
            let v = a[i];
            let j = i - 1;
            while j >= 0 && a[j] > v { a[j + 1] = a[j]; j = j - 1; }
            a[j + 1] = v;
            i = i + 1;
        }
        return a;
    }
    fn quick(a) {
        if len(a) < 2 { return a; }
        let pivot = a[0];
        let lo = []; let hi = [];
        let i = 1;
        while i < len(a) {
            if a[i] < pivot { push(lo, a[i]); } else { push(hi, a[i]); }
            i = i + 1;
        }
        let out = quick(lo);
        push(out, pivot);
        for x in quick(hi) { push(out, x); }
        return out;
    }
    let ys = [];
    for x in xs { push(ys, x); }
    let s1 = insertion(xs);
    let s2 = quick(ys);
    let same = true;
    for k in range(len(s1)) { if s1[k] != s2[k] { same = false; } }
    print("sorted", same, s1[0], s1[59]);
    """,
    """
    # closures and higher-order functions
    fn counter(step) { let n = 0; return fn() { n = n + step; return n; }; }
    let c3 = counter(3);
    let c5 = counter(5);
    let k = 0;
    while k < 100 { c3(); c5(); k = k + 1; }
    fn map(f, xs) { let out = []; for x in xs { push(out, f(x)); } return out; }
    fn filter(p, xs) { let out = []; for x in xs { if p(x) { push(out, x); } } return out; }
    fn fold(f, acc, xs) { for x in xs { acc = f(acc, x); } return acc; }
    let sq = map(fn(x) { return x * x; }, range(80));
    let odd = filter(fn(x) { return x % 2 == 1; }, sq);
    print("hof", c3(), c5(), fold(fn(a, b) { return a + b; }, 0, odd));
    """,
    """
    # string building
    let s = "";
    let i = 0;
    while i < 120 {
        if i % 15 == 0 { s = s + "FizzBuzz"; }
        else if i % 3 == 0 { s = s + "Fizz"; }
        else if i % 5 == 0 { s = s + "Buzz"; }
        else { s = s + i; }
        i = i + 1;
    }
    print("fizz", len(s));
    print(str([1, [2, 3], nil, true]));
    """,
]


def checksum(lines):
    h = 5381
    for line in lines:
        for ch in line:
            h = (h * 33 + ord(ch)) & 0xFFFFFFFF
        h = (h * 33 + 10) & 0xFFFFFFFF
    return h


def unit():
    out = []
    for src in PROGRAMS:
        out.extend(Interpreter().run(src))
    return checksum(out) + len(out)


EXPECTED = 3612428725

# The function the breakpoint tools stop in (the evaluator's call path, hit once per Toy call).
BREAKPOINT = Interpreter.e_call

