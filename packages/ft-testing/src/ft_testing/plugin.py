"""pytest plugin of ft-testing: sets the offline environment and exposes the shared fixtures.

Each fixture module is owned by one concern; this plugin only re-exports their fixtures so
that pytest finds them in every package's tests.
"""

from __future__ import annotations

import os

# Tests never touch the network: hub ids resolve only from local caches.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from ft_testing.data import *  # noqa: F403
from ft_testing.models import *  # noqa: F403
from ft_testing.moe import *  # noqa: F403
from ft_testing.routing_logs import *  # noqa: F403
