#!/usr/bin/env python3
"""Generated English statements for benchmarks (`kimera check` latency, reactor scaling).

Usage: scripts/gen-statements.py N [SEED] [--closed ENTITIES] > statements.csv
(columns text,lang)

Facts about made-up entities over a bounded vocabulary: capitals, populations, dates,
locations, properties, with ~2% planted contradictions (the same fact negated or with
another value), so the store looks like a knowledge base rather than random text.
Standard library only; the same N and SEED give the same file.

--closed ENTITIES: a closed vocabulary, for measuring memory against input size with
the graph held fixed. Each statement describes one of ENTITIES named entities with a
kind, a property, a place and a colour, plus a founding year (which makes texts
distinct but adds no concept), e.g. "The old museum Kalomi in Peru, founded in 1890,
is painted red.". Every concept and association the learner can find in them is met
within the first ~100k statements, so 100k and 1M statements teach the same graph.
"""
import csv
import random
import sys

args = sys.argv[1:]
closed = None
if "--closed" in args:
    i = args.index("--closed")
    closed = int(args[i + 1])
    del args[i:i + 2]
n = int(args[0]) if len(args) > 0 else 100_000
rng = random.Random(int(args[1]) if len(args) > 1 else 42)
syl = ["ka", "lo", "mi", "ra", "ten", "vo", "si", "dar", "pel", "nu", "qua", "bri",
       "zo", "fen", "ul", "mar", "tis", "gor", "ena", "phi"]
kinds = ["company", "river", "village", "festival", "bridge", "museum", "ship", "school",
         "library", "mountain", "island", "orchestra", "factory", "stadium", "garden"]
places = ["France", "Peru", "Japan", "Kenya", "Norway", "Chile", "Egypt", "Canada",
          "India", "Spain", "Ghana", "Nepal", "Brazil", "Italy", "Poland", "Vietnam"]
props = ["old", "large", "small", "famous", "quiet", "busy", "private", "public",
         "modern", "historic", "expensive", "cheap"]
colours = ["red", "blue", "green", "white", "black", "yellow"]


def name():
    return "".join(rng.choice(syl) for _ in range(rng.randint(2, 3))).capitalize()


def fact():
    e, k = name(), rng.choice(kinds)
    t = rng.randrange(8)
    if t == 0:
        return f"The {k} {e} is located in {rng.choice(places)}."
    if t == 1:
        return f"{e} was founded in {rng.randint(1200, 2020)}."
    if t == 2:
        return f"The {k} {e} has {rng.randint(2, 900) * 10} members."
    if t == 3:
        return f"The {k} {e} is {rng.choice(props)}."
    if t == 4:
        return f"{e} is the largest {k} in {rng.choice(places)}."
    if t == 5:
        return f"The {k} {e} is painted {rng.choice(colours)}."
    if t == 6:
        return f"{e} is a {k} near {name()}."
    return f"{e} opens every day at {rng.randint(6, 11)} in the morning."


def closed_fact(entities):
    return (f"The {rng.choice(props)} {rng.choice(kinds)} {rng.choice(entities)} in "
            f"{rng.choice(places)}, founded in {rng.randint(1200, 2020)}, "
            f"is painted {rng.choice(colours)}.")


def contradict(s):
    for a, b in [(" is located in ", " is not located in "), (" is the largest ", " is the smallest "),
                 (" is painted ", " is never painted "), (" was founded in ", " was not founded in ")]:
        if a in s:
            return s.replace(a, b)
    return s.rstrip(".") + " is false."


w = csv.writer(sys.stdout)
w.writerow(["text", "lang"])
written = 0
if closed is not None:
    entities = sorted({name() for _ in range(closed * 20)})[:closed]
    if len(entities) < closed:
        sys.exit(f"--closed {closed}: only {len(entities)} distinct names")
    for _ in range(n):
        w.writerow([closed_fact(entities), "en"])
    sys.exit(0)
while written < n:
    s = fact()
    w.writerow([s, "en"])
    written += 1
    if written < n and rng.random() < 0.02:
        w.writerow([contradict(s), "en"])
        written += 1
