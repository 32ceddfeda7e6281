"""``ft export``: merge adapters into the base and write a Hugging Face directory, atomically.

The directory holds sharded safetensors (``export_size`` GB per shard, with an index), the
config, ``generation_config.json`` (EOS = the template's stop tokens), the tokenizer with left
padding and the training template's Jinja chat template, and an Ollama ``Modelfile``. It is
written into a temporary sibling and renamed when complete.

Example:
    >>> run_export(load_export_config("docs/examples/merge_lora.yaml"))
    PosixPath('saves/smollm2-merged')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ft_core import ConfigError, atomic_output_dir, get_logger

from .config import ExportConfig
from .validation import validate_export_args

log = get_logger("ft.export")

_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


def check_export_config(cfg: ExportConfig) -> None:
    """Raise the first export-rule violation as a one-line ``ConfigError``."""
    errors = validate_export_args(cfg.model_dump())
    if cfg.export_legacy_format:
        errors.append("'export_legacy_format: true' (pickle .bin files) is not supported; ft writes safetensors")
    if cfg.export_hub_model_id:
        errors.append("'export_hub_model_id' is not supported; upload the exported directory with `hf upload`")
    if errors:
        raise ConfigError(errors[0])


def _slot_text(slot: Any, tokenizer: Any) -> str | None:
    if isinstance(slot, str):
        return slot
    name = getattr(slot, "kind", None)
    if name == "bos":
        return tokenizer.bos_token or ""
    if name == "eos":
        return tokenizer.eos_token or ""
    return getattr(slot, "text", None)


def _formatter_text(formatter: Any, tokenizer: Any, content: str) -> str | None:
    parts = []
    for slot in getattr(formatter, "slots", []):
        text = _slot_text(slot, tokenizer)
        if text is None:
            return None
        parts.append(text.replace("{{content}}", content))
    return "".join(parts)


def ollama_modelfile(template: Any, tokenizer: Any) -> str | None:
    """An Ollama Modelfile (Go template) equivalent to the template's single-prompt format, or None."""
    system = _formatter_text(template.format_system, tokenizer, "{{ .System }}")
    user = _formatter_text(template.format_user, tokenizer, "{{ .Content }}")
    assistant = _formatter_text(template.format_assistant, tokenizer, "{{ .Content }}")
    prefix = _formatter_text(template.format_prefix, tokenizer, "")
    if None in (system, user, assistant, prefix):
        return None
    body = (f"{prefix}{{{{ if .System }}}}{system}{{{{ end }}}}{{{{ range .Messages }}}}"
            f"{{{{ if eq .Role \"user\" }}}}{user}{{{{ else if eq .Role \"assistant\" }}}}{assistant}"
            "{{ end }}{{ end }}")
    lines = ["FROM .", "", f'TEMPLATE """{body}"""', ""]
    if template.default_system:
        lines += [f'SYSTEM """{template.default_system}"""', ""]
    for word in dict.fromkeys([tokenizer.eos_token, *template.stop_words]):
        if word:
            lines.append(f'PARAMETER stop "{word}"')
    lines.append("PARAMETER num_ctx 4096")
    return "\n".join(lines) + "\n"


def _chmod_like_mkdir(path: Path) -> None:
    """The temporary directory is private (mkdtemp: 0700); the model directory gets the usual mode."""
    import os

    mask = os.umask(0)
    os.umask(mask)
    path.chmod(0o777 & ~mask)


def merged_model(cfg: Any, tokenizer: Any) -> Any:
    """The base model with every adapter of ``adapter_name_or_path`` merged in (CPU, no grad)."""
    import ft_models

    model = ft_models.load_model(cfg.model_name_or_path, dtype="auto", revision=cfg.model_revision,
                                 cache_dir=cfg.cache_dir, trust_remote_code=cfg.trust_remote_code)
    if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
        ft_models.resize_embeddings(model, tokenizer)
    for adapter in cfg.adapter_name_or_path or []:
        model = ft_models.merge_lora_into(model, adapter)
    return model.eval()


def run_export(cfg: ExportConfig, overwrite: bool | None = None) -> Path:
    """Merge and write ``cfg.export_dir``; returns its path."""
    import torch

    from .modeling import load_tokenizer_and_template

    check_export_config(cfg)
    target = Path(str(cfg.export_dir))
    tokenizer, template = load_tokenizer_and_template(cfg)
    model = merged_model(cfg, tokenizer)
    if cfg.export_dtype != "auto":
        model = model.to(getattr(torch, _DTYPES[cfg.export_dtype]))
    stop_ids = template.get_stop_token_ids(tokenizer)
    gen = model.generation_config
    gen.eos_token_id = stop_ids if len(stop_ids) > 1 else stop_ids[0]
    gen.pad_token_id = tokenizer.pad_token_id
    tokenizer.padding_side = "left"  # for batched generation, the main use of an exported model
    over = bool(getattr(cfg, "overwrite_output_dir", False)) if overwrite is None else overwrite
    with atomic_output_dir(target, overwrite=over) as tmp:
        model.save_pretrained(tmp, max_shard_size=cfg.shard_size())
        tokenizer.save_pretrained(tmp)
        if cfg.ollama_modelfile and (text := ollama_modelfile(template, tokenizer)) is not None:
            (tmp / "Modelfile").write_text(text, encoding="utf-8")
        _chmod_like_mkdir(tmp)
    log.info("exported %s (%s) to %s", cfg.model_name_or_path, ", ".join(cfg.adapter_name_or_path or ["no adapter"]),
             target)
    return target
