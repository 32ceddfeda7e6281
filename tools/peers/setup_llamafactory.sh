#!/usr/bin/env bash
# Install LLaMA-Factory 0.9.5 (the peer of ft's parity checks and benchmarks) into a throwaway,
# CPU-only venv, pinned, outside the ft workspace.
#
#   bash tools/peers/setup_llamafactory.sh        # PEERS defaults to $HOME/.cache/ft-peers
#   PEERS=/tmp/peers bash tools/peers/setup_llamafactory.sh
#
# Layout under $PEERS:
#   lf/                      the venv (lf/bin/llamafactory-cli, lf/bin/python)
#   stubs/torchaudio/        a stub package to put on PYTHONPATH (see below)
# Also installed: LLaMA-Factory's metrics extra (jieba, nltk, rouge-chinese), which its
# predict_with_generate needs.
#
# Idempotent: when lf/ already holds llamafactory==0.9.5 and torch==2.13.0 it only rewrites the
# stub and exits.
#
# Workarounds:
# * PyPI's torchvision/torchaudio wheels are CUDA builds that break beside CPU torch
#   ("operator torchvision::nms does not exist", "libc10_cuda.so: cannot open shared object
#   file"), so both are uninstalled.
# * LLaMA-Factory's data/mm_plugin.py imports torchaudio unconditionally but uses it only for
#   audio, so $PEERS/stubs holds a torchaudio whose attributes raise ImportError. Run the peer
#   with PYTHONPATH=$PEERS/stubs.
set -euo pipefail

LF_VERSION=0.9.5
TORCH_VERSION=2.13.0
PEERS="${PEERS:-$HOME/.cache/ft-peers}"
PYTHON="${PYTHON:-python3}"
VENV="$PEERS/lf"
STUBS="$PEERS/stubs"

log() { printf '[setup_llamafactory] %s\n' "$*" >&2; }

write_stub() {
    mkdir -p "$STUBS/torchaudio"
    cat > "$STUBS/torchaudio/__init__.py" <<'PY'
"""Stub torchaudio for LLaMA-Factory on CPU torch: importable, but any use raises ImportError."""


def __getattr__(name):
    raise ImportError(f"torchaudio is a stub here (torchaudio.{name} is unavailable): the CUDA wheel breaks CPU torch")
PY
}

installed_ok() {
    [ -x "$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - "$LF_VERSION" "$TORCH_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import PackageNotFoundError, version

want_lf, want_torch = sys.argv[1], sys.argv[2]
try:
    ok = version("llamafactory") == want_lf and version("torch").split("+")[0] == want_torch
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
PY
}

mkdir -p "$PEERS"
write_stub

if installed_ok; then
    log "llamafactory==$LF_VERSION with torch==$TORCH_VERSION already in $VENV"
else
    start=$(date +%s)
    log "installing llamafactory==$LF_VERSION, torch==$TORCH_VERSION into $VENV"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --disable-pip-version-check -q "torch==$TORCH_VERSION"
    "$VENV/bin/pip" install --disable-pip-version-check -q "torch==$TORCH_VERSION" "llamafactory==$LF_VERSION"
    log "installed in $(( $(date +%s) - start )) s"
fi

# LLaMA-Factory's metrics extra (predict_with_generate scores BLEU/ROUGE with them), pinned.
"$VENV/bin/pip" install --disable-pip-version-check -q "jieba==0.42.1" "nltk==3.10.4" "rouge-chinese==1.0.3"

# Every run: the CUDA torchvision/torchaudio wheels must not sit beside CPU torch.
"$VENV/bin/pip" uninstall --disable-pip-version-check -y -q torchvision torchaudio 2>/dev/null || true

# Smoke check: LLaMA-Factory's API module imports with the stub.
PYTHONPATH="$STUBS" HF_HUB_OFFLINE=1 "$VENV/bin/python" -c \
    "import llamafactory, llamafactory.api.app, torch; print('llamafactory', llamafactory.__version__, 'torch', torch.__version__)"
installed_ok || { log "version check failed after install"; exit 1; }
log "ready: PYTHONPATH=$STUBS $VENV/bin/llamafactory-cli api <yaml>"
