"""Run LLaMA-Factory 0.9.5's dataset pipeline on parity cases and dump input_ids/labels as JSON.

Runs in the LLaMA-Factory venv (not the ft workspace):
    PYTHONPATH=/tmp/peers/stubs /tmp/peers/lf/bin/python tools/lf_parity/lf_dump.py CASES.json OUT.json
CASES.json: {"model": dir, "dataset_dir": dir, "cases": [{"name", "dataset", "template", "stage", "options"}]}
"""
import json
import os
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
from llamafactory.hparams import get_train_args
from llamafactory.model import load_tokenizer


class _FixedDate:
    """LLaMA-Factory's llama3 tool prompt prints today's date; ft-templates prints a fixed one
    (26 Jul 2024, as Meta's chat template does) so that encodings are reproducible. Freeze
    LLaMA-Factory's to the same date so the rest of the comparison stays meaningful."""

    @staticmethod
    def now():
        import datetime

        return datetime.datetime(2024, 7, 26)


def _freeze_date() -> None:
    from llamafactory.data import tool_utils

    tool_utils.datetime = _FixedDate


def main() -> None:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    _freeze_date()
    out = {}
    for case in spec["cases"]:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = {"model_name_or_path": spec["model"], "stage": case["stage"], "do_train": True,
                   "finetuning_type": "lora", "lora_target": "all", "dataset": case["dataset"],
                   "dataset_dir": spec["dataset_dir"], "template": case["template"], "overwrite_cache": True,
                   "output_dir": os.path.join(tmp, "out"), "report_to": "none", **case.get("options", {})}
            os.environ["HF_DATASETS_CACHE"] = os.path.join(tmp, "hf")
            model_args, data_args, training_args, _, _ = get_train_args(cfg)
            tm = load_tokenizer(model_args)
            template = get_template_and_fix_tokenizer(tm["tokenizer"], data_args)
            # LLaMA-Factory's DPO/ORPO/SimPO workflows load ranking data with stage "rm"
            stage = "rm" if case["stage"] in ("rm", "dpo", "orpo", "simpo") else case["stage"]
            dm = get_dataset(template, model_args, data_args, training_args, stage=stage, **tm)
            ds = dm["train_dataset"]
            cols = [c for c in ds.column_names if c.endswith("input_ids") or c.endswith("labels")]
            out[case["name"]] = {c: list(ds[c]) for c in cols}
    with open(sys.argv[2], "w") as handle:
        json.dump(out, handle)


if __name__ == "__main__":
    main()
