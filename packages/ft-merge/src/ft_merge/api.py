"""The Python API: :class:`Merger` (alias ``LLaMAMerger``), the seed's class with its method names.

Example:
    >>> m = Merger("base", ["ft_math", "ft_code"], ["math.jsonl", "code.jsonl"], output_dir="out")
    >>> results = m.merge_all_methods()          # out/{ties_magnitude,dare_random,ties_sparsegpt}/
    >>> path = m.merge_with_ties(return_model=False, output_path="out_ties")
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ft_core import atomic_output_dir, atomic_write_json, library_versions, write_run_json

from ._log import log, quiet_transformers
from .calibration import HessianStore, hessians_for_input
from .config import MergeConfig, ModelEntry
from .engine import finish_output_dir, stream_merge
from .evaluate import evaluate_model, heldout_texts, retention, task_loss
from .plan import MergePlan, preflight
from .report import peak_rss_gb, peak_vram_gb, print_table, report_key


def resolve_device(device: str | None) -> str:
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class Merger:
    """Merge fine-tunes of one base with any registered methods in one streaming pass.

    Positional arguments follow the seed's ``LLaMAMerger``; ``**options`` are any
    :class:`MergeConfig` field (``methods``, ``weights``, ``lambda_``, ``saliency``, ``eval``…).
    """

    def __init__(self, base_model_path: str | None = None, finetuned_model_paths: list[str] | None = None,
                 dataset_names: list[str] | None = None, output_dir: str = "./merged_models",
                 cache_dir: str = "./merge_cache", num_calibration_samples: int = 128,
                 calibration_seq_length: int = 512, density: float = 0.2, device: str | None = None,
                 *, config: MergeConfig | None = None, **options: Any) -> None:
        if config is None:
            paths = list(finetuned_model_paths or [])
            data = list(dataset_names or [])
            weights = options.pop("weights", None) or [1.0] * len(paths)
            densities = options.pop("densities", None) or [None] * len(paths)
            models = [ModelEntry(model=p, weight=weights[i], density=densities[i],
                                 calibration=data[i] if i < len(data) else None) for i, p in enumerate(paths)]
            config = MergeConfig(base_model=base_model_path or "", models=models, output_dir=output_dir,
                                 cache_dir=cache_dir, num_calibration_samples=num_calibration_samples,
                                 calibration_seq_length=calibration_seq_length, density=density,
                                 device=device or "auto", **options)
        self.config = config
        self.device = resolve_device(config.device)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.manifest: dict[str, Any] = {}
        self._stores: list[HessianStore | None] | None = None
        self._tokenizer: Any = None

    # -- pieces -----------------------------------------------------------------------------
    def tokenizer(self, plan: MergePlan) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(plan.base.path)
        return self._tokenizer

    def compute_and_save_hessians(self, plan: MergePlan | None = None) -> list[HessianStore | None]:
        """Calibration statistics of every input (cached under ``cache_dir``)."""
        plan = plan or preflight(self.config, check_output=False)
        if plan.needs == "none":
            return [None] * len(plan.inputs)
        tok = self.tokenizer(plan)
        stores, entries = [], []
        t0 = time.perf_counter()
        for i in range(len(plan.inputs)):
            store, entry = hessians_for_input(plan, i, tok, self.device)
            stores.append(store)
            entries.append(entry)
        self.manifest["calibration"] = entries
        self.manifest["calibration_time"] = round(time.perf_counter() - t0, 3)
        self._stores = stores
        return stores

    def _load(self, path: Path) -> Any:
        from transformers import AutoModelForCausalLM

        quiet_transformers()
        return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(self.device).eval()

    # -- the pipeline -----------------------------------------------------------------------
    def run(self, methods: list[str] | None = None, single_path: str | None = None,
            evaluate: bool | None = None) -> dict[str, dict[str, Any]]:
        """Preflight, calibrate (if any method needs it), merge in one pass, evaluate, report.

        With ``single_path`` one method is written directly there (no report files).
        """
        cfg = self.config.model_copy(update={"methods": methods} if methods else {})
        if single_path is not None:
            cfg = cfg.model_copy(update={"output_dir": single_path})
        started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        t_start = time.perf_counter()
        plan = preflight(cfg)
        self.manifest = {"argv": sys.argv, "versions": library_versions(), "seed": cfg.seed,
                         "methods": plan.method_names, "inputs": [
                             {"model": inp.spec, "path": str(inp.path), "kind": inp.kind,
                              **{k: v for k, v in inp.report.items() if k != "matched"},
                              "matched": len(inp.report.get("matched", []))} for inp in plan.inputs]}
        stores = self.compute_and_save_hessians(plan) if plan.needs != "none" else None
        results: dict[str, dict[str, Any]] = {}
        out = Path(cfg.output_dir)
        with atomic_output_dir(out, overwrite=cfg.overwrite_output_dir) as tmp:
            if single_path is not None:
                # One method: write into a subfolder of the temporary dir, then lift it up.
                timings = stream_merge(plan, stores, tmp)
                name = plan.method_names[0]
                finish_output_dir(plan, name, tmp / name)
                for f in (tmp / name).iterdir():
                    f.rename(tmp / f.name)
                (tmp / name).rmdir()
                self.manifest["timings"] = timings
                return {report_key(name): {**timings[name], "output_dir": str(out)}}
            timings = stream_merge(plan, stores, tmp)
            for name in plan.method_names:
                finish_output_dir(plan, name, tmp / name)
                results[report_key(name)] = {"merge_time": timings[name]["merge_time"],
                                             "output_dir": str(out / name)}
            self.manifest["timings"] = timings
            self.manifest["peak_rss_gb_after_merge"] = peak_rss_gb()
            do_eval = cfg.eval != "none" if evaluate is None else evaluate
            if do_eval or cfg.per_task_eval:
                self._evaluate(plan, tmp, results, do_eval)
            for name in plan.method_names:
                r = results[report_key(name)]
                r.update({"peak_rss_gb": peak_rss_gb(), "peak_vram_gb": peak_vram_gb()})
            self.manifest["fallback_tensors"] = {m: t["fallback_tensors"] for m, t in timings.items()}
            atomic_write_json(tmp / "comparison_results.json", _json_safe(results))
            atomic_write_json(tmp / "run_manifest.json", _json_safe(self.manifest))
            write_run_json(tmp, cfg.model_dump(by_alias=True), started, elapsed_s=time.perf_counter() - t_start,
                           extra={"status": "ok", "metrics": _json_safe(results)})
        print_table(results)
        return results

    def _evaluate(self, plan: MergePlan, tmp: Path, results: dict[str, dict[str, Any]], ppl: bool) -> None:
        cfg = plan.config
        tok = self.tokenizer(plan)
        tasks: dict[str, list[str]] = {}
        ref: dict[str, dict[str, float]] = {}
        if cfg.per_task_eval:
            for i, e in enumerate(cfg.models):
                if e.calibration:
                    try:
                        tasks[f"task_{i + 1}"] = heldout_texts(e.calibration, tok, cfg.per_task_rows,
                                                               cfg.calibration_split, cfg.text_field)
                    except Exception as exc:
                        log.warning("per-task eval: dataset %s unavailable (%s); skipped", e.calibration, exc)
            if tasks:
                from .calibration import load_calibration_model

                base = self._load(plan.base.path)
                ref["base"] = {t: task_loss(base, tok, x) for t, x in tasks.items()}
                del base
                for i in range(len(plan.inputs)):
                    t = f"task_{i + 1}"
                    if t in tasks:
                        ft = load_calibration_model(plan, i, self.device, finetuned=True)
                        ref.setdefault("ft", {})[t] = task_loss(ft, tok, tasks[t])
                        del ft
                self.manifest["per_task_reference"] = ref
        for name in plan.method_names:
            r = results[report_key(name)]
            model = self._load(tmp / name)
            t0 = time.perf_counter()
            if ppl:
                r.update(evaluate_model(model, tok, cfg.eval_dataset, cfg.eval_num_samples, cfg.eval, cfg.eval_seq_len))
            if tasks:
                r["per_task"] = {}
                for t, texts in tasks.items():
                    lm = task_loss(model, tok, texts)
                    r["per_task"][t] = {"loss": lm, "base_loss": ref["base"][t], "ft_loss": ref["ft"][t],
                                        "retention": retention(ref["base"][t], ref["ft"][t], lm)}
            r["eval_time"] = round(time.perf_counter() - t0, 3)
            del model

    # -- the seed's methods -----------------------------------------------------------------
    def merge_all_methods(self) -> dict[str, dict[str, Any]]:
        """The seed's three methods (plus any configured) into ``output_dir``, with the report."""
        return self.run()

    def _single(self, method: str, output_path: str | None, return_model: bool) -> Any:
        path = output_path or os.path.join(self.config.output_dir, method)
        self.run([method], single_path=path, evaluate=False)
        if return_model:
            from transformers import AutoModelForCausalLM

            return AutoModelForCausalLM.from_pretrained(path, low_cpu_mem_usage=True)
        return path

    def merge_with_ties(self, use_sparsegpt: bool = False, output_path: str | None = None, return_model: bool = True) -> Any:
        """TIES (magnitude, or SparseGPT saliency with ``use_sparsegpt``); the model or its path."""
        return self._single("ties_sparsegpt" if use_sparsegpt else "ties_magnitude", output_path, return_model)

    def merge_with_dare(self, use_sparsegpt: bool = False, output_path: str | None = None, return_model: bool = True) -> Any:
        """DARE (random, or the experimental saliency-mask variant with ``use_sparsegpt``)."""
        return self._single("dare_sparsegpt" if use_sparsegpt else "dare_random", output_path, return_model)

    def evaluate_model(self, model: Any, tokenizer: Any, eval_dataset: str = "wikitext", num_samples: int = 100) -> dict[str, Any]:
        """Perplexity of a model with this merger's evaluation mode."""
        return evaluate_model(model, tokenizer, eval_dataset, num_samples, self.config.eval, self.config.eval_seq_len)


LLaMAMerger = Merger


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return obj  # json writes Infinity, as the seed's results file does
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj
