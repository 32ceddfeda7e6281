"""A reward model trained by ``ft train`` (stage ``rm``, LoRA) is served by ``ft api`` as it was saved:
``/v1/score/evaluation`` gives the scores the trainer's own predictions gave."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.timeout(300)


def test_rm_output_is_served_for_score_evaluation(tiny_llama_path, tmp_path):
    from fastapi.testclient import TestClient

    from ft_serve.api import create_app
    from ft_serve.config import load_serve_config
    from ft_serve.engines.transformers_engine import TransformersEngine
    from ft_train import load_train_config, run_train

    rng = random.Random(0)
    rows = []
    for _ in range(24):
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        rows.append({"instruction": f"What is {a} plus {b}?", "input": "", "chosen": str(a + b),
                     "rejected": f"{a + b + rng.randint(1, 5)} or so"})
    data = tmp_path / "data"
    data.mkdir()
    (data / "pairs.json").write_text(json.dumps(rows))
    (data / "dataset_info.json").write_text(json.dumps({"pairs": {"file_name": "pairs.json", "ranking": True, "columns": {
        "prompt": "instruction", "query": "input", "chosen": "chosen", "rejected": "rejected"}}}))
    out = tmp_path / "rm"
    cfg = {"model_name_or_path": str(tiny_llama_path), "stage": "rm", "do_train": True, "do_predict": True,
           "finetuning_type": "lora", "lora_target": "all", "dataset": "pairs", "eval_dataset": "pairs",
           "dataset_dir": str(data), "template": "smollm2", "cutoff_len": 64, "output_dir": str(out),
           "max_steps": 12, "learning_rate": 5.0e-3, "per_device_train_batch_size": 4, "report_to": "none",
           "save_strategy": "no", "logging_steps": 4, "disable_shuffling": True}
    (tmp_path / "rm.yaml").write_text(yaml.safe_dump(cfg))
    run_train(load_train_config(tmp_path / "rm.yaml"))
    predicted = [json.loads(line) for line in (out / "generated_predictions.jsonl").read_text().splitlines()]

    serve_cfg = load_serve_config(None, [f"model_name_or_path={out / 'reward_model'}", "template=smollm2",
                                         "served_model_name=rm"])
    engine = TransformersEngine(serve_cfg)
    engine.load()
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(Path(out / "reward_model"))
        texts = []
        for row in rows[:4]:
            for side in ("chosen", "rejected"):
                texts.append(tokenizer.apply_chat_template(
                    [{"role": "user", "content": row["instruction"]}, {"role": "assistant", "content": row[side]}],
                    tokenize=False))
        with TestClient(create_app(serve_cfg, engine, api_key="", load=False)) as client:
            reply = client.post("/v1/score/evaluation", json={"model": "rm", "messages": texts})
        assert reply.status_code == 200, reply.text
        scores = reply.json()["scores"]
    finally:
        engine.shutdown()
    served = [{"chosen": scores[2 * i], "rejected": scores[2 * i + 1]} for i in range(4)]
    for got, want in zip(served, predicted[:4], strict=True):
        assert got["chosen"] == pytest.approx(want["chosen"], abs=2e-3)
        assert got["rejected"] == pytest.approx(want["rejected"], abs=2e-3)
