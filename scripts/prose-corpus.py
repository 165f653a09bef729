#!/usr/bin/env python3
"""Real-prose corpora with planted contradictions, for `kimera bench prose`.

Usage:
  scripts/prose-corpus.py cargo  OUT [--half even|odd|all] [--max-docs N] [--plants N] [--per-doc N]
                                     [--seed S] [--lock Cargo.lock] [--registry DIR]
  scripts/prose-corpus.py python OUT [--max-docs N] [--plants N] [--per-doc N] [--seed S]
                                     [--site-packages DIR]...

Builds, offline and deterministically, a folder of real documents and plants
contradictions inside them, then writes OUT/planted.jsonl (one planted pair per line)
and OUT/corpus.json (where each document came from, the arguments, the counts).
Standard library only; the same inputs and arguments give the same folder.

Sources:
  cargo   the README.md of every crate named in Cargo.lock (this repository's by default)
          that the cargo registry on this machine holds (~/.cargo/registry/src/*/NAME-VERSION/;
          any build fetches them), sorted by name and version. --half even/odd keeps every
          second one (the kimera cleaner was developed on the odd half; its figures are
          reported on the even half).
  python  the description (the body of METADATA) of every installed Python package whose
          Description-Content-Type is Markdown, sorted by name; the site-packages folders
          of the running python3 by default. To get a fixed set on any machine:
            python3 -m venv /tmp/prose-venv
            /tmp/prose-venv/bin/pip install --no-deps -r scripts/prose-corpus-python.txt
            scripts/prose-corpus.py python OUT --site-packages /tmp/prose-venv/lib/python3*/site-packages

Planting (--plants edits in all, at most --per-doc per document, of kinds in the mix
negation 2 : number 1 : antonym 1 : entity 1, each slot filled by the next document in a
seeded order that has an edit of that kind left): a candidate sentence is a whole paragraph or list item
outside code and HTML, plain ASCII prose of 6-35 words with a verb, no Markdown syntax,
one full stop at its end, nothing about licenses. Its edited copy is appended to the end
of the same document as a paragraph of its own; the original stays where it was. Edits:
  negation_added    "not" after the first auxiliary ("is" -> "is not", "can" -> "cannot",
                    "does" -> "does not", "has been" -> "has not been")
  negation_removed  a negation removed ("is not" -> "is", "doesn't" -> "does", "cannot" -> "can")
  number            a number changed: an integer n -> 3n+1 (a year 1900-2100 -> n-6), a decimal
                    x -> 3x with as many decimals; not in versions (1.2.3, "version 0.9", "v2"),
                    references or code
  antonym           one word replaced by its antonym from a fixed list (faster -> slower, ...)
  entity            a name inside the sentence replaced by another name of the same document (a
                    name: a word of 3+ letters capitalised inside sentences and never written
                    in lower case in the document)
"""
import argparse
import email.parser
import email.policy
import glob
import json
import os
import random
import re
import site
import sys

AUX_NOT = {
    "is": "is not", "are": "are not", "was": "was not", "were": "were not",
    "can": "cannot", "will": "will not", "should": "should not", "must": "must not",
    "may": "may not", "could": "could not", "would": "would not", "does": "does not",
    "do": "do not", "did": "did not",
}
HAVE = {"has", "have", "had"}
NEGATIONS = [
    (r"\bis not\b", "is"), (r"\bare not\b", "are"), (r"\bwas not\b", "was"),
    (r"\bwere not\b", "were"), (r"\bcannot\b", "can"), (r"\bcan not\b", "can"),
    (r"\bwill not\b", "will"), (r"\bshould not\b", "should"), (r"\bmust not\b", "must"),
    (r"\bdoes not\b", "does"), (r"\bdo not\b", "do"), (r"\bdid not\b", "did"),
    (r"\bisn't\b", "is"), (r"\baren't\b", "are"), (r"\bwasn't\b", "was"),
    (r"\bdoesn't\b", "does"), (r"\bdon't\b", "do"), (r"\bwon't\b", "will"),
    (r"\bcan't\b", "can"), (r"\bhas not\b", "has"), (r"\bhave not\b", "have"),
]
ANTONYMS = [
    ("faster", "slower"), ("fast", "slow"), ("larger", "smaller"), ("large", "small"),
    ("more", "less"), ("enabled", "disabled"), ("enable", "disable"), ("safe", "unsafe"),
    ("increase", "decrease"), ("increases", "decreases"), ("before", "after"),
    ("higher", "lower"), ("high", "low"), ("first", "last"), ("minimum", "maximum"),
    ("easy", "difficult"), ("simple", "complex"), ("synchronous", "asynchronous"),
    ("mutable", "immutable"), ("public", "private"), ("stable", "unstable"),
    ("supported", "unsupported"), ("valid", "invalid"), ("possible", "impossible"),
    ("required", "optional"), ("allowed", "forbidden"), ("includes", "excludes"),
    ("better", "worse"), ("best", "worst"), ("many", "few"), ("static", "dynamic"),
    ("explicit", "implicit"), ("compatible", "incompatible"), ("secure", "insecure"),
    ("always", "never"), ("cheap", "expensive"), ("lightweight", "heavyweight"),
]
ANTONYM = {}
for a, b in ANTONYMS:
    ANTONYM.setdefault(a, b)
    ANTONYM.setdefault(b, a)
STOP_CAPS = {"I", "The", "This", "That", "It", "A", "An", "In", "If", "For", "To", "When"}
DETS = {"the", "a", "an", "of", "for", "with", "in", "on", "to", "and", "or", "all", "some",
        "many", "these", "those", "its", "their", "your", "our", "by", "from", "as"}
SENTENCE = re.compile(r"[A-Z`*](?:[A-Za-z0-9 ,;:'\"`*()/%+&=\-]|(?<=\d)\.(?=\d))*[A-Za-z0-9`)*]\.")
LIST = re.compile(r"^(?:[-*+]|\d{1,3}[.)])\s+")
NUMBER = re.compile(r"(?<![\w.#@/'-])(\d+(?:\.\d+)?)(?![\w.'-]|\.\d)")
KINDS = ["negation", "number", "antonym", "entity"]


def words(s):
    return s[:-1].replace(",", " ").split()


def has_verb(ws):
    """An auxiliary or copula: the planted sentences are plain claims ("X is Y", "X can Y")."""
    return any(w.strip("`*").lower() in AUX_NOT or w.lower() in HAVE or w.lower().endswith("n't")
               for w in ws)


IMPERATIVES = {
    "add", "use", "remove", "see", "run", "install", "set", "call", "make", "check", "note",
    "try", "enable", "disable", "consider", "create", "pass", "import", "read", "follow",
    "open", "build", "configure", "replace", "put", "keep", "write", "specify", "define",
    "please", "refer", "visit", "avoid", "ensure", "pick", "choose", "click", "go", "get",
}
SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*])")


def continues(prev, nxt):
    """Whether kimera joins line `nxt` to the sentence `prev` left open (its text
    ingest's rule): after a sentence end or , ; : or a dash, or before a lowercase start."""
    end = prev.rstrip("\"')]")[-1:]
    return end in ".!?,;:-\u2013\u2014" or nxt[:1].islower()


def paragraphs(text):
    """(first line index, [lines]) of the prose paragraphs and list items, outside code,
    HTML, headings, tables, quotes and link definitions."""
    lines = text.split("\n")
    out, cur = [], None
    fence, html = None, False

    def close():
        nonlocal cur
        if cur:
            out.append(cur)
        cur = None

    for i, raw in enumerate(lines):
        l = raw.strip()
        if fence:
            if l.startswith(fence):
                fence = None
            continue
        if l.startswith("```") or l.startswith("~~~"):
            close()
            fence = l[:3]
            continue
        if html:
            html = bool(l)
            continue
        if not l:
            close()
            continue
        if l.startswith("<"):
            close()
            html = True
            continue
        indent = len(raw) - len(raw.lstrip())
        m = LIST.match(l)
        if l[0] in "#|>[!" or set(l) <= set("-=*_ ") or (indent >= 4 and not m and cur is None):
            close()
            continue
        if m:
            close()
            cur = (i, [l[m.end():]])
        elif cur is None:
            cur = (i, [l])
        else:
            cur[1].append(l)
    close()
    return out


def candidates(text):
    """(line index, sentence) of the sentences that may be edited (see the module doc)."""
    out = []
    for first, lines in paragraphs(text):
        # where kimera would cut the paragraph at a line break, a statement ends there
        pieces, start = [], 0
        for k in range(1, len(lines) + 1):
            if k == len(lines) or not continues(lines[k - 1], lines[k]):
                pieces.append((first + start, lines[start:k]))
                start = k
        for line0, plines in pieces:
            para = " ".join(plines)
            sentences = SPLIT.split(para)
            at = 0
            for j, sent in enumerate(sentences):
                off = para.index(sent, at)
                at = off + len(sent)
                prev = sentences[j - 1].split()[-1] if j else ""
                if prev and (len(prev) <= 3 or "." in prev[:-1]):
                    continue  # an abbreviation before it: the split may not be kimera's
                ws = words(sent)
                low = sent.lower()
                if (SENTENCE.fullmatch(sent) and sent.isascii() and "  " not in sent
                        and 6 <= len(ws) <= 35 and has_verb(ws)
                        and ws[0].strip("`*").lower() not in IMPERATIVES
                        and not any(k in low for k in ("licen", "copyright", "contribut"))):
                    # the line the sentence starts on
                    line, acc = line0, 0
                    for l in plines:
                        if acc + len(l) >= off:
                            break
                        acc += len(l) + 1
                        line += 1
                    out.append((line, sent))
    return out


def negate(s):
    for pat, rep in NEGATIONS:
        if re.search(pat, s):
            return "negation_removed", re.sub(pat, rep, s, count=1)
    ws = s.split(" ")
    for i, w in enumerate(ws[:-1]):
        lw = w.lower()
        if i == 0:
            continue
        if lw in AUX_NOT:
            ws[i] = AUX_NOT[lw] if w.islower() else w
            return "negation_added", " ".join(ws)
        if lw in HAVE and (ws[i + 1] == "been" or ws[i + 1].endswith("ed") or ws[i + 1].endswith("en")):
            ws[i] = w + " not"
            return "negation_added", " ".join(ws)
    return None


# a number named as a release ("Version 0.9", "release 3", "v2"): a name, not a quantity
VERSION_BEFORE = re.compile(r"(?:\b(?:version|versions|release|releases|ver)\s+|\bv)$", re.I)


def change_number(s, rng):
    code = [m.span() for m in re.finditer(r"`[^`]*`", s)]
    found = [
        m for m in NUMBER.finditer(s)
        if not any(a <= m.start() < b for a, b in code) and s[m.start() - 1:m.start()] not in "*("
        and not VERSION_BEFORE.search(s[:m.start()])
    ]
    if not found:
        return None
    m = rng.choice(found)
    n = m.group(1)
    if "." in n:
        decimals = len(n.split(".")[1])
        new = f"{float(n) * 3:.{decimals}f}"
    else:
        v = int(n)
        new = str(v - 6 if 1900 <= v <= 2100 else 3 * v + 1)
    if new == n:
        return None
    return "number", s[: m.start(1)] + new + s[m.end(1):]


def antonym(s, rng):
    ws = s[:-1].split(" ")
    hits = [i for i, w in enumerate(ws) if w.strip(",") in ANTONYM]
    if not hits:
        return None
    i = rng.choice(hits)
    w = ws[i].strip(",")
    ws[i] = ws[i].replace(w, ANTONYM[w])
    return "antonym", " ".join(ws) + "."


def entity(s, pool, rng):
    ws = s[:-1].split(" ")
    here = {w.strip(",") for w in ws}
    slots = [i for i, w in enumerate(ws) if i > 0 and w.strip(",") in pool]
    others = sorted(p for p in pool if p not in here)
    if not slots or not others:
        return None
    i = rng.choice(slots)
    old = ws[i].strip(",")
    # not a form of the same word ("API" / "APIs")
    others = [o for o in others if not (o.lower().startswith(old.lower()) or old.lower().startswith(o.lower()))]
    if not others:
        return None
    ws[i] = ws[i].replace(old, rng.choice(others))
    return "entity", " ".join(ws) + "."


def capitalised_pool(text):
    """Names of the document: words of 3+ letters that are capitalised inside sentences
    and never written in lower case in it (so "Rust", "SQLite", not "Supported")."""
    lower = set(re.findall(r"\b[a-z][a-z]+\b", text))
    pool = set()
    for _, s in candidates(text):
        for i, w in enumerate(words(s)):
            w = w.strip(",")
            if (i > 0 and w.isalpha() and w[0].isupper() and len(w) >= 3
                    and w not in STOP_CAPS and w.lower() not in lower):
                pool.add(w)
    return pool


def edits_of(text, rng):
    """Every possible edit of the document, by kind: {kind: [(line, original, kind_name, edited)]}."""
    pool = capitalised_pool(text)
    out = {k: [] for k in KINDS}
    for line, s in candidates(text):
        for kind, e in (
            ("negation", negate(s)),
            ("number", change_number(s, rng)),
            ("antonym", antonym(s, rng)),
            ("entity", entity(s, pool, rng)),
        ):
            if e and e[1] != s:
                out[kind].append((line, s, e[0], e[1]))
    return out


def cargo_docs(args):
    lock = open(args.lock, encoding="utf-8").read()
    pkgs = re.findall(r'\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"\nsource = "registry', lock)
    docs = []
    for name, version in sorted(set(pkgs)):
        found = sorted(glob.glob(os.path.join(os.path.expanduser(args.registry), "*", f"{name}-{version}", "README.md")))
        if found:
            docs.append((f"{name}-{version}", found[0]))
    if args.half != "all":
        docs = docs[0 if args.half == "even" else 1::2]
    out = []
    for name, path in docs:
        with open(path, encoding="utf-8", errors="replace") as f:
            out.append((name, path, f.read()))
    return out


def python_docs(args):
    dirs = args.site_packages or [d for d in site.getsitepackages() + [site.getusersitepackages()]]
    seen = {}
    for d in dirs:
        for meta in sorted(glob.glob(os.path.join(d, "*.dist-info", "METADATA"))):
            with open(meta, "rb") as f:
                msg = email.parser.BytesParser(policy=email.policy.compat32).parse(f)
            if "markdown" not in (msg.get("Description-Content-Type") or "").lower():
                continue
            body = msg.get_payload()
            if not isinstance(body, str) or not body.strip():
                body = msg.get("Description") or ""
            name = re.sub(r"[-_.]+", "-", (msg.get("Name") or "").lower())
            if name and body.strip() and name not in seen:
                seen[name] = (f"{name}-{msg.get('Version')}", meta, body)
    return [seen[k] for k in sorted(seen)]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("source", choices=["cargo", "python"])
    p.add_argument("out")
    p.add_argument("--half", choices=["even", "odd", "all"], default="all")
    p.add_argument("--max-docs", type=int, default=300)
    p.add_argument("--plants", type=int, default=60)
    p.add_argument("--per-doc", type=int, default=2)
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--lock", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Cargo.lock"))
    p.add_argument("--registry", default="~/.cargo/registry/src")
    p.add_argument("--site-packages", action="append")
    args = p.parse_args()

    docs = cargo_docs(args) if args.source == "cargo" else python_docs(args)
    docs = docs[: args.max_docs]
    if not docs:
        sys.exit(f"no {args.source} documents found")
    if os.path.exists(args.out) and os.listdir(args.out):
        sys.exit(f"{args.out} exists and is not empty")
    os.makedirs(args.out, exist_ok=True)

    rng = random.Random(args.seed)
    edits = [edits_of(text, rng) for _, _, text in docs]
    # slots in the mix 2:1:1:1, each filled by the next document (in a seeded order) that
    # has room and an unused edit of that kind
    pattern = ["negation", "number", "negation", "antonym", "entity"]
    slots = [pattern[i % len(pattern)] for i in range(args.plants)]
    order = list(range(len(docs)))
    rng.shuffle(order)
    chosen = {}  # doc index -> [edit]
    at = 0
    for kind in slots:
        for step in range(len(order)):
            d = order[(at + step) % len(order)]
            used = {e[0] for e in chosen.get(d, [])}
            options = [e for e in edits[d][kind] if e[0] not in used]
            if len(chosen.get(d, [])) < args.per_doc and options:
                chosen.setdefault(d, []).append(rng.choice(options))
                at = (at + step + 1) % len(order)
                break

    planted = []
    for d, (name, origin, text) in enumerate(docs):
        fname = f"{name}.md"
        for line, original, kind, edited in sorted(chosen.get(d, [])):
            body = text.rstrip("\n")
            text = body + "\n\n" + edited + "\n"
            planted.append({
                "file": fname, "kind": kind, "original": original, "edited": edited,
                "line_original": line + 1, "line_edited": body.count("\n") + 3,
            })
        with open(os.path.join(args.out, fname), "w", encoding="utf-8") as f:
            f.write(text)
    with open(os.path.join(args.out, "planted.jsonl"), "w", encoding="utf-8") as f:
        for row in planted:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    kinds = {}
    for row in planted:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    with open(os.path.join(args.out, "corpus.json"), "w", encoding="utf-8") as f:
        json.dump({
            "source": args.source, "args": {k: v for k, v in vars(args).items() if k != "out"},
            "documents": [{"file": f"{n}.md", "from": o} for n, o, _ in docs],
            "planted": len(planted), "planted_by_kind": kinds,
        }, f, indent=1)
    print(f"{len(docs)} documents, {len(planted)} planted ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}) in {args.out}")


if __name__ == "__main__":
    main()
