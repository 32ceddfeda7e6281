"""pytest plugin of ft-testing: sets the offline environment and exposes the shared fixtures."""

from __future__ import annotations

import os

# Tests never touch the network: hub ids resolve only from local caches.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
