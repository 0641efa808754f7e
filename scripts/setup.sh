#!/usr/bin/env bash
# Creates .venv (if missing) and installs the project with its development tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# torch's CPU build first: a bare torch requirement would pull a multi-GB CUDA build. The CPU build is named
# 2.13.0+cpu: taken where pip's own sources hold it (a local wheel, as on this project's machines), else from
# PyTorch's CPU index (PyPI has no +cpu build, so the first try fails at once; on macOS that index's build is plain).
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet "torch==2.13.0+cpu" 2>/dev/null \
    || .venv/bin/python -m pip install --quiet --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"
fi
.venv/bin/python -m pip install --quiet -e ".[torch,train,integrations,dev]"
# Headless Chromium for the replay viewer's browser tests (tests/test_replay_browser.py): Debian's package, installed
# where missing and where this script can (as root, with apt-get); elsewhere those tests skip and say why.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
  && ! command -v google-chrome >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
      echo "setup.sh: apt-get could not install chromium; the browser tests will skip" >&2
    fi
  else
    echo "setup.sh: no Chromium found and none installed (needs root and apt-get): the browser tests will skip;" \
      "install chromium, or set CHROMIUM=/path/to/chrome" >&2
  fi
fi
