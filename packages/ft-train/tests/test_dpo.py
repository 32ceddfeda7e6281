"""The ``dpo`` stage on the tiny Llama: TRL's DPOTrainer on ft-data's pairwise rows.

Pairs: "What is a plus b?" with the right sum chosen and a wrong one rejected, in
LLaMA-Factory's ``ranking: true`` alpaca form.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
import torch
import yaml

from ft_core import ConfigError
from ft_train import load_train_config, run_train

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def pref_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = random.Random(1)
    rows = []
    for _ in range(16):
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        rows.append({"instruction": f"What is {a} plus {b}?", "input": "", "chosen": str(a + b),
                     "rejected": f"{a + b + rng.randint(1, 5)} or so"})
    root = tmp_path_factory.mktemp("pref")
    (root / "pairs.json").write_text(json.dumps(rows))
    (root / "add.json").write_text(json.dumps([{"instruction": r["instruction"], "input": "", "output": r["chosen"]}
                                               for r in rows]))
    info = {"pairs": {"file_name": "pairs.json", "ranking": True,
                      "columns": {"prompt": "instruction", "query": "input", "chosen": "chosen",
                                  "rejected": "rejected"}},
            "add": {"file_name": "add.json"}}
    (root / "dataset_info.json").write_text(json.dumps(info))
    return root


def dpo_config(tiny_config, pref_dir, **extra):
    cfg = {**tiny_config, "stage": "dpo", "dataset": "pairs", "dataset_dir": str(pref_dir), "max_steps": 12,
           "learning_rate": 1.0e-2, "per_device_train_batch_size": 4, "disable_shuffling": True, **extra}
    path = Path(cfg["output_dir"]).parent / "dpo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return load_train_config(path)


def history(output_dir: Path) -> list[dict]:
    state = json.loads((Path(output_dir) / "trainer_state.json").read_text())
    return [e for e in state["log_history"] if "loss" in e]


LOSSES = [{"pref_loss": name} for name in ("sigmoid", "hinge", "ipo", "bco_pair", "robust", "apo_zero",
                                            "sigmoid_norm", "orpo", "simpo", "kto_pair")]
LOSSES.append({"pref_loss": "sigmoid", "dpo_label_smoothing": 0.1})  # cDPO


@pytest.mark.parametrize("loss", LOSSES, ids=lambda o: "cdpo" if "dpo_label_smoothing" in o else o["pref_loss"])
def test_loss_goes_down_and_reward_accuracy_up(tiny_config, pref_dir, loss):
    cfg = dpo_config(tiny_config, pref_dir, pref_beta=0.5, plot_loss=True, **loss)
    run_train(cfg)
    logs = history(cfg.output_dir)
    first, last = logs[:4], logs[-4:]
    mean = lambda xs, k: sum(x[k] for x in xs) / len(xs)  # noqa: E731
    assert mean(last, "loss") < mean(first, "loss"), [x["loss"] for x in logs]
    accuracies = [x["rewards/accuracies"] for x in logs]
    if loss["pref_loss"] in ("orpo", "simpo"):
        # reference-free: the rewards are the policy's own log-probs, so accuracy starts where the
        # base model's preference is (high here) rather than at 0; the margin below must still grow
        assert mean(last, "rewards/accuracies") >= 0.75, accuracies
    else:
        assert mean(last, "rewards/accuracies") > mean(first, "rewards/accuracies") or \
            mean(last, "rewards/accuracies") == 1.0, accuracies
    assert mean(last, "rewards/margins") > mean(first, "rewards/margins")
    for key in ("rewards/chosen", "rewards/rejected", "logps/chosen", "logps/rejected"):
        assert key in logs[-1]
    assert (Path(cfg.output_dir) / "adapter_model.safetensors").is_file()
    # plot_loss draws the reward accuracy beside the loss
    assert (Path(cfg.output_dir) / "training_loss.png").is_file()
    assert (Path(cfg.output_dir) / "rewards_accuracies.png").is_file()


def _first_step_loss(cfg) -> float:
    from ft_train.data import load_data
    from ft_train.dpo import build_dpo_trainer
    from ft_train.modeling import load_tokenizer_and_template, load_trainable_model
    from ft_train.preference import load_reference_model

    tokenizer, template = load_tokenizer_and_template(cfg)
    data = load_data(cfg, "dpo", template, tokenizer)
    model = load_trainable_model(cfg)
    trainer = build_dpo_trainer(cfg, model, tokenizer, data.train_dataset, None, ref_model=load_reference_model(cfg))
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    with torch.no_grad():
        return float(trainer.compute_loss(trainer.model, batch)), trainer, batch


def test_disabled_adapter_reference_is_the_base(tiny_config, pref_dir):
    """The reference of a new LoRA is the model with the adapter disabled: no copy of the adapter,
    and its log-probs are the base model's (so the first-step loss is log 2 for sigmoid)."""
    cfg = dpo_config(tiny_config, pref_dir)
    loss, trainer, batch = _first_step_loss(cfg)
    peft_model = trainer.model
    assert list(peft_model.peft_config) == ["default"]  # TRL's "ref" copy was dropped
    # at step 0 the policy equals the reference: every log-ratio is 0, sigmoid loss = log 2
    assert loss == pytest.approx(0.693147, abs=1e-5)
    # the reference log-probs equal those of the plain base model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_config["model_name_or_path"], dtype=torch.float32)
    ref_chosen, ref_rejected = trainer.compute_ref_log_probs(peft_model, batch)
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
    with torch.no_grad():
        logits = base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    logp = torch.log_softmax(logits.float(), -1)
    target = labels[:, 1:]
    picked = logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1) * (target != -100)
    direct = picked.sum(-1)
    torch.testing.assert_close(torch.cat([ref_chosen, ref_rejected]), direct, atol=1e-4, rtol=1e-5)


def test_pref_ftx_adds_the_sft_term(tiny_config, pref_dir):
    """``pref_ftx`` adds ftx × (mean NLL of the chosen answer tokens), checked against a direct computation."""
    plain, trainer, batch = _first_step_loss(dpo_config(tiny_config, pref_dir))
    with_ftx, trainer, batch = _first_step_loss(dpo_config(tiny_config, pref_dir, pref_ftx=0.5))
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
    n = labels.shape[0] // 2
    with torch.no_grad():
        logits = trainer.model(input_ids=batch["input_ids"][:n], attention_mask=batch["attention_mask"][:n]).logits
    nll = torch.nn.functional.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                                            labels[:n, 1:].reshape(-1), ignore_index=-100)
    assert with_ftx - plain == pytest.approx(0.5 * float(nll), abs=1e-4)


@pytest.mark.parametrize(("override", "message"), [
    ({"pref_loss": "nonsense"}, "key 'pref_loss': unknown loss 'nonsense'"),
    ({"pref_loss": "orpo", "ref_model": "other"}, "key 'ref_model': pref_loss 'orpo' is reference-free"),
    ({"pref_loss": "hinge", "dpo_label_smoothing": 0.1}, "key 'dpo_label_smoothing': pref_loss 'hinge' does not"),
    ({"pref_loss": "simpo", "pref_bco_weight": 0.5}, "key 'pref_bco_weight': the BCO term is built for TRL's"),
    ({"ref_model_adapters": "a"}, "key 'ref_model_adapters': needs 'ref_model'"),
    ({"reward_model": "other"}, "'reward_model' is not implemented in ft"),
    ({"loraplus_lr_ratio": 16.0}, "LoRA+ is not built for stage 'dpo' yet"),
])
def test_bad_preference_config_is_one_line(tiny_config, pref_dir, override, message):
    from ft_train.workflow import check_train_config

    with pytest.raises(ConfigError, match=re.escape(message)):
        check_train_config(dpo_config(tiny_config, pref_dir, **override))


def _losses(output_dir) -> list[float]:
    return [e["loss"] for e in history(output_dir)]


def test_explicit_base_ref_model_equals_the_disabled_adapter(tiny_config, pref_dir, tiny_llama_path):
    """A separate ``ref_model`` (a second copy of the base) trains exactly as the adapter-disabled
    reference does: the same losses at every step, not only at step 0 where both are log 2."""
    shared = {"max_steps": 4, "learning_rate": 2.0e-2, "pref_beta": 0.5}
    plain = dpo_config(tiny_config, pref_dir, **shared)
    run_train(plain)
    separate = dpo_config({**tiny_config, "output_dir": str(Path(tiny_config["output_dir"]).parent / "sep")},
                          pref_dir, ref_model=str(tiny_llama_path), **shared)
    _, trainer, _ = _first_step_loss(separate)
    assert trainer.ref_model is not None  # really a second model
    run_train(separate)
    ours, theirs = _losses(plain.output_dir), _losses(separate.output_dir)
    assert ours[0] == pytest.approx(0.693147, abs=1e-5)
    assert len(ours) == 4 and ours[-1] < ours[0]
    assert theirs == pytest.approx(ours, abs=1e-5)


def test_full_tuning_uses_the_starting_model_as_reference(tiny_config, pref_dir):
    cfg = dpo_config(tiny_config, pref_dir, finetuning_type="full", learning_rate=1.0e-4, max_steps=6,
                     pref_beta=0.5)
    loss, trainer, _ = _first_step_loss(cfg)
    assert trainer.ref_model is not None and loss == pytest.approx(0.693147, abs=1e-5)
    assert not any(p.requires_grad for p in trainer.ref_model.parameters())
    run_train(cfg)
    losses = _losses(cfg.output_dir)
    assert losses[-1] < losses[0]
    assert (Path(cfg.output_dir) / "model.safetensors").is_file()


@pytest.mark.parametrize("finetuning_type", ["lora", "full"])
def test_reference_free_losses_hold_no_reference(tiny_config, pref_dir, finetuning_type):
    cfg = dpo_config(tiny_config, pref_dir, pref_loss="simpo", finetuning_type=finetuning_type)
    _, trainer, _ = _first_step_loss(cfg)
    assert trainer.ref_model is None
    assert list(getattr(trainer.model, "peft_config", {"default": None})) == ["default"]


def test_ref_model_with_another_vocabulary_is_exit_2_before_loading(tiny_config, pref_dir, tiny_llama_path,
                                                                   tmp_path, helpers, monkeypatch):
    import shutil

    from transformers import AutoTokenizer

    from ft_train.cli import main

    other = tmp_path / "other"
    shutil.copytree(tiny_llama_path, other)
    tokenizer = AutoTokenizer.from_pretrained(other)
    tokenizer.add_tokens(["<extra_token_a>", "<extra_token_b>"])
    tokenizer.save_pretrained(other)
    import ft_models

    def no_weights(*args, **kwargs):
        raise AssertionError("a model was loaded before the vocabulary check")

    monkeypatch.setattr(ft_models, "load_model_and_tokenizer", no_weights)
    cfg = {**tiny_config, "stage": "dpo", "dataset": "pairs", "dataset_dir": str(pref_dir), "ref_model": str(other)}
    with pytest.raises(SystemExit) as exc:
        main(["train", str(helpers.write_yaml(tmp_path / "dpo.yaml", cfg))])
    assert exc.value.code == 2


def test_sharegpt_pairs_give_the_same_rows_as_alpaca_pairs(tiny_config, data_dir, tmp_path, helpers):
    """LLaMA-Factory's two ranking forms of the same pairs reach TRL as the same token ids."""
    from ft_train.data import load_data
    from ft_train.dpo import to_trl_rows
    from ft_train.modeling import load_tokenizer_and_template

    rows = {}
    for name in ("pairs", "pairs_sharegpt"):
        path = helpers.write_yaml(tmp_path / f"{name}.yaml", {**tiny_config, "stage": "dpo", "dataset": name,
                                                              "dataset_dir": str(data_dir)})
        cfg = load_train_config(path)
        tokenizer, template = load_tokenizer_and_template(cfg)
        rows[name] = to_trl_rows(load_data(cfg, "dpo", template, tokenizer).train_dataset).to_list()
    assert len(rows["pairs"]) == 40 and rows["pairs"] == rows["pairs_sharegpt"]


def test_dpo_on_a_dataset_without_pairs_is_exit_2(tiny_config, pref_dir, tmp_path, helpers):
    from ft_train.cli import main

    cfg = {**tiny_config, "stage": "dpo", "dataset": "add", "dataset_dir": str(pref_dir)}
    path = helpers.write_yaml(tmp_path / "dpo.yaml", cfg)
    with pytest.raises(SystemExit) as exc:
        main(["train", str(path)])
    assert exc.value.code == 2


def test_a_non_finite_loss_or_reward_stops_the_run_in_one_line():
    from types import SimpleNamespace

    from ft_train.callbacks import NonFiniteGuard, TrainingDivergedError

    guard = NonFiniteGuard()
    state = SimpleNamespace(global_step=17)
    guard.on_log(SimpleNamespace(fp16=False, learning_rate=1e-4), state, None, logs={"loss": 0.69})  # finite: fine
    with pytest.raises(TrainingDivergedError, match=r"step 17: rewards/chosen is nan; likely fp16 overflow") as exc:
        guard.on_log(SimpleNamespace(fp16=True, learning_rate=1e-4), state, None,
                     logs={"loss": 0.7, "rewards/chosen": float("nan")})
    assert "\n" not in str(exc.value) and exc.value.exit_code == 1
    with pytest.raises(TrainingDivergedError, match=r"step 17: loss is inf; .*learning_rate 0.5"):
        guard.on_log(SimpleNamespace(fp16=False, learning_rate=0.5), state, None, logs={"loss": float("inf")})
