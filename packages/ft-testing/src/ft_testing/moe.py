"""ft-testing fixtures: tiny Mixture-of-Experts checkpoints (owned by ft-moe-convert).

Two kinds of checkpoint:

* ``save_tiny_moe(kind, directory)`` builds a random tiny Qwen3-MoE, Mixtral or DeepSeek-V3
  model with transformers and saves it in several shards with an index (the per-expert layout
  transformers writes by default), plus a tokenizer-free set of assets (config, generation
  config, a chat template and a custom ``modeling_*.py`` file) so asset copying can be checked.
* ``write_synthetic_moe(directory, ...)`` writes a per-expert checkpoint of any size straight
  from headers and bytes, without torch: fast, and used by the benchmark (several GB) and by
  the validation tests.

Importing this module is cheap: torch and transformers are imported inside the functions.

Example:
    >>> path = save_tiny_moe("qwen3_moe", tmp_path / "qwen")
    >>> sorted(p.name for p in path.glob("*.safetensors"))[:1]
    ['model-00001-of-00004.safetensors']
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = [
    "TINY_MOE_KINDS",
    "save_tiny_moe",
    "synthetic_moe_keys",
    "tiny_deepseek_v3_path",
    "tiny_mixtral_path",
    "tiny_moe_logits",
    "tiny_qwen3_moe_path",
    "write_synthetic_moe",
]

TINY_MOE_KINDS = ("qwen3_moe", "mixtral", "deepseek_v3")

_COMMON = dict(vocab_size=128, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
               num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=False)


def _config(kind: str):
    if kind == "qwen3_moe":
        from transformers import Qwen3MoeConfig

        # decoder_sparse_step=1 with mlp_only_layers=[0]: layer 0 is dense, 1 and 2 are MoE.
        return Qwen3MoeConfig(**_COMMON, head_dim=8, intermediate_size=48, moe_intermediate_size=16,
                              num_experts=4, num_experts_per_tok=2, decoder_sparse_step=1,
                              mlp_only_layers=[0], norm_topk_prob=True)
    if kind == "mixtral":
        from transformers import MixtralConfig

        return MixtralConfig(**_COMMON, intermediate_size=24, num_local_experts=4, num_experts_per_tok=2)
    if kind == "deepseek_v3":
        from transformers import DeepseekV3Config

        return DeepseekV3Config(**{**_COMMON, "num_key_value_heads": 4}, intermediate_size=48,
                                moe_intermediate_size=16, n_routed_experts=8, n_shared_experts=1,
                                num_experts_per_tok=2, n_group=2, topk_group=1, first_k_dense_replace=1,
                                kv_lora_rank=16, q_lora_rank=24, qk_rope_head_dim=4, qk_nope_head_dim=4,
                                v_head_dim=8)
    raise ValueError(f"unknown tiny MoE kind {kind!r}; expected one of {TINY_MOE_KINDS}")


_MODELING_STUB = '"""Custom modeling file of a tiny test model: only copied, never imported."""\n'
_CHAT_TEMPLATE = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"


def save_tiny_moe(kind: str, directory: str | Path, *, dtype: str = "bfloat16",
                  max_shard_size: str = "25KB", seed: int = 0) -> Path:
    """Save a random tiny ``kind`` model (``qwen3_moe``, ``mixtral``, ``deepseek_v3``) in shards.

    The checkpoint has the per-expert layout, several ``model-0000k-of-0000N.safetensors``
    shards and an index, ``dtype`` tensors (``"bfloat16"`` or ``"float32"``), and assets:
    ``config.json``, ``generation_config.json``, ``chat_template.jinja`` and ``modeling_tiny.py``.
    """
    import torch
    from transformers import AutoModelForCausalLM

    out = Path(directory)
    torch.manual_seed(seed)
    config = _config(kind)
    model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    # Random routers so that every expert gets tokens and logits depend on all experts.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() >= 1 and "norm" not in name:
                param.normal_(0.0, 0.2)
    model.save_pretrained(out, max_shard_size=max_shard_size)
    (out / "chat_template.jinja").write_text(_CHAT_TEMPLATE)
    (out / "modeling_tiny.py").write_text(_MODELING_STUB)
    return out


def tiny_moe_logits(path: str | Path, input_ids: list[int] | None = None):
    """Logits (float32 tensor) of the model in ``path`` on a fixed prompt, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path).eval()
    ids = torch.tensor([input_ids or [1, 5, 9, 17, 33, 65, 100, 127]])
    with torch.no_grad():
        return model(ids).logits.float()


def _tiny_fixture(kind: str):
    @pytest.fixture(scope="session")
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
        return save_tiny_moe(kind, tmp_path_factory.mktemp(kind) / "ckpt")

    fixture.__doc__ = f"A tiny random {kind} checkpoint in several bf16 shards (session-scoped)."
    return fixture


tiny_qwen3_moe_path = _tiny_fixture("qwen3_moe")
tiny_mixtral_path = _tiny_fixture("mixtral")
tiny_deepseek_v3_path = _tiny_fixture("deepseek_v3")


# --- synthetic checkpoints written from headers and bytes (no torch) ---------------------------


def synthetic_moe_keys(layers: int, experts: int, hidden: int, inter: int, *, mixtral: bool = False,
                       prefix: str = "model.") -> Iterator[tuple[str, list[int]]]:
    """Names and shapes of a synthetic per-expert MoE checkpoint, in save order."""
    yield f"{prefix}embed_tokens.weight", [256, hidden]
    for layer in range(layers):
        base = f"{prefix}layers.{layer}"
        yield f"{base}.input_layernorm.weight", [hidden]
        yield f"{base}.self_attn.q_proj.weight", [hidden, hidden]
        if mixtral:
            yield f"{base}.block_sparse_moe.gate.weight", [experts, hidden]
        else:
            yield f"{base}.mlp.gate.weight", [experts, hidden]
        for e in range(experts):
            if mixtral:
                moe = f"{base}.block_sparse_moe.experts.{e}"
                yield f"{moe}.w1.weight", [inter, hidden]
                yield f"{moe}.w2.weight", [hidden, inter]
                yield f"{moe}.w3.weight", [inter, hidden]
            else:
                moe = f"{base}.mlp.experts.{e}"
                yield f"{moe}.down_proj.weight", [hidden, inter]
                yield f"{moe}.gate_proj.weight", [inter, hidden]
                yield f"{moe}.up_proj.weight", [inter, hidden]
    yield f"{prefix}norm.weight", [hidden]
    yield "lm_head.weight", [256, hidden]


def _fill(fh, nbytes: int, seed: int) -> None:
    # Distinct, cheap, non-constant bytes: a repeated block derived from the seed.
    block = (seed.to_bytes(8, "little") + os.urandom(4088)) * 16  # 64 KiB
    while nbytes > 0:
        chunk = block[: min(nbytes, len(block))]
        fh.write(chunk)
        nbytes -= len(chunk)


def write_synthetic_moe(directory: str | Path, *, layers: int = 2, experts: int = 4, hidden: int = 16,
                        inter: int = 8, dtype: str = "BF16", shard_bytes: int = 4096, mixtral: bool = False,
                        config: dict | None = None, keys: list[tuple] | None = None) -> Path:
    """Write a per-expert MoE checkpoint of random bytes from headers, in shards of ~``shard_bytes``.

    Memory stays flat whatever the size (bytes are streamed in 64 KiB blocks). ``keys``
    overrides the generated ``(name, shape)`` or ``(name, shape, dtype)`` list (to build broken checkpoints in tests);
    ``config`` is written as ``config.json`` (default: ``num_experts`` and the layer count).

    Example:
        >>> write_synthetic_moe(tmp_path / "big", layers=8, experts=64, hidden=2048, inter=1024,
        ...                     shard_bytes=2 * 10**9)  # about 6.4 GB of bf16
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    widths = {"BF16": 2, "F16": 2, "F32": 4, "F8_E4M3": 1}
    entries = list(keys if keys is not None else synthetic_moe_keys(layers, experts, hidden, inter,
                                                                    mixtral=mixtral))
    shards: list[list[tuple[str, list[int], int, str]]] = [[]]
    used = 0
    for name, shape, *rest in entries:  # an entry may carry its own dtype as a third item
        tdtype = rest[0] if rest else dtype
        nbytes = widths[tdtype]
        for dim in shape:
            nbytes *= dim
        if shards[-1] and used + nbytes > shard_bytes:
            shards.append([])
            used = 0
        shards[-1].append((name, shape, nbytes, tdtype))
        used += nbytes
    weight_map: dict[str, str] = {}
    total = 0
    for i, shard in enumerate(shards, 1):
        fname = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        header: dict[str, object] = {"__metadata__": {"format": "pt"}}
        offset = 0
        for name, shape, nbytes, tdtype in shard:
            header[name] = {"dtype": tdtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
            weight_map[name] = fname
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)
        with open(out / fname, "wb") as fh:
            fh.write(struct.pack("<Q", len(raw)) + raw)
            for j, (_, _, nbytes, _) in enumerate(shard):
                _fill(fh, nbytes, seed=i * 1_000_003 + j)
        total += offset
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    cfg = config if config is not None else {
        "model_type": "mixtral" if mixtral else "qwen3_moe", "num_hidden_layers": layers,
        ("num_local_experts" if mixtral else "num_experts"): experts}
    (out / "config.json").write_text(json.dumps(cfg, indent=2))
    return out
