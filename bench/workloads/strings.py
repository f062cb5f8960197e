"""String and dict processing: a generated corpus, word counts, bigrams, an inverted index, anagram
classes, run-length coding and a small formatted report.

Mixes Python-level loops with the str and dict methods implemented in C, the way text-munging scripts do.
"""

REPS = 380  # units of work at full scale (about 1.5 s on a stock default build)

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "an", "or", "el", "ip", "us"]


def lcg(seed):
    state = seed
    while True:
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        yield state


def make_corpus(n_words, seed):
    rnd = lcg(seed)
    vocab = []
    for i in range(300):
        parts = [SYLLABLES[next(rnd) % len(SYLLABLES)] for _ in range(1 + i % 3)]
        vocab.append("".join(parts))
    words = []
    for i in range(n_words):
        # A skewed pick so the frequency table has a long tail, as real text does.
        r = next(rnd)
        idx = (r % 300) * (r % 7 + 1) // 7
        w = vocab[idx]
        if i % 17 == 0:
            w = w.capitalize()
        words.append(w)
        if i % 11 == 10:
            words.append(".")
    return " ".join(words).replace(" .", ".")


def word_counts(text):
    counts = {}
    for sentence in text.split("."):
        for word in sentence.split():
            key = word.lower()
            counts[key] = counts.get(key, 0) + 1
    return counts


def bigrams(text):
    table = {}
    for sentence in text.split("."):
        words = sentence.lower().split()
        for a, b in zip(words, words[1:]):
            inner = table.setdefault(a, {})
            inner[b] = inner.get(b, 0) + 1
    best = 0
    for a, inner in table.items():
        for b, n in inner.items():
            if n > best:
                best = n
    return len(table), best


def inverted_index(text):
    index = {}
    for lineno, sentence in enumerate(text.split(".")):
        for word in set(sentence.lower().split()):
            index.setdefault(word, []).append(lineno)
    # Query: sentences that contain both of the two most widespread words.
    ranked = sorted(index, key=lambda w: (-len(index[w]), w))
    a, b = set(index[ranked[0]]), set(index[ranked[1]])
    return len(a & b) * 1000 + len(index)


def anagram_classes(words):
    classes = {}
    for w in words:
        classes.setdefault("".join(sorted(w)), set()).add(w)
    return sum(len(v) for v in classes.values() if len(v) > 1)


def rle_encode(s):
    out = []
    i = 0
    n = len(s)
    while i < n:
        ch = s[i]
        j = i + 1
        while j < n and s[j] == ch:
            j += 1
        run = j - i
        out.append(ch if run == 1 else "%d%s" % (run, ch))
        i = j
    return "".join(out)


def rle_decode(s):
    out = []
    num = ""
    for ch in s:
        if ch.isdigit():
            num += ch
        else:
            out.append(ch * (int(num) if num else 1))
            num = ""
    return "".join(out)


def report(counts):
    lines = []
    for word, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:40]:
        lines.append("{:<10} {:>6} {}".format(word, n, "*" * (n // 20)))
    return "\n".join(lines)


def checksum(s):
    h = 0
    for ch in s:
        h = (h * 131 + ord(ch)) & 0xFFFFFFFF
    return h


def unit():
    text = make_corpus(2500, 7)
    counts = word_counts(text)
    n_keys, best_pair = bigrams(text)
    idx = inverted_index(text)
    ana = anagram_classes(list(counts))
    squeezed = "".join(w[0] * (len(w) % 5 + 1) for w in text.split()[:1500])
    encoded = rle_encode(squeezed)
    if rle_decode(encoded) != squeezed:
        raise AssertionError("strings: run-length round trip failed")
    rep = report(counts)
    return (len(counts) * 7 + n_keys * 13 + best_pair + idx + ana + len(encoded) + checksum(rep)) & 0xFFFFFFFF


EXPECTED = 2888941133

# The function the breakpoint tools stop in.
BREAKPOINT = rle_encode

