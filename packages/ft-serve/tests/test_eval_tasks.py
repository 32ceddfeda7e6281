"""ft eval's config (LLaMA-Factory's keys, the models short form), LLaMA-Factory's MMLU-format
folders as harness tasks, and the local tasks in docs/examples/eval (data, scoring by ft-data's
scorers) — no model needed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from ft_core import ConfigError, DataError
from ft_serve.evaluation import legacy_group, load_eval_config, parse_legacy_task
from ft_serve.evaluation.legacy import read_mmlu_csv

ROOT = Path(__file__).resolve().parents[3]
EVAL = ROOT / "docs" / "examples" / "eval"
TASKS = EVAL / "tasks"


def test_llamafactory_eval_yaml_loads_unchanged():
    cfg = load_eval_config(EVAL / "mmlu_demo.yaml")
    assert (cfg.task, cfg.n_shot, cfg.lang, cfg.batch_size) == ("mmlu_demo_test", 5, "en", 4)
    assert cfg.out_dir() == Path("saves/eval-mmlu-demo")
    # llamafactory-cli's flag form on the command line
    cfg = load_eval_config(None, ["--model_name_or_path", "m", "--task", "mmlu_test", "--n_shot", "0"])
    assert (cfg.task, cfg.n_shot, cfg.task_dir) == ("mmlu_test", 0, "evaluation")


def test_models_short_form_and_names():
    cfg = load_eval_config(EVAL / "quickstart.yaml")
    specs = cfg.model_specs()
    assert [s.display_name() for s in specs] == ["base", "quickstart", "quickstart-merged"]
    assert [s.path for s in specs] == [None, "saves/quickstart", "saves/quickstart-merged"]
    cfg = load_eval_config(None, ["model_name_or_path=m", "tasks=a,b", "models=base,mine=saves/run/checkpoint-40",
                                  "limit=0.5", "gen_kwargs=max_gen_toks=32,temperature=0"])
    assert cfg.tasks == ["a", "b"] and cfg.limit == 0.5
    assert [s.display_name() for s in cfg.model_specs()] == ["base", "mine"]
    assert cfg.gen_kwargs == {"max_gen_toks": 32, "temperature": 0}
    assert load_eval_config(None, ["model_name_or_path=m", "tasks=a", "models=saves/run/checkpoint-40"]
                            ).model_specs()[0].display_name() == "run-checkpoint-40"


@pytest.mark.parametrize("overrides, expect", [
    (["tasks=a", "tempalte=smollm2"], "did you mean 'template'"),
    (["tasks=a", "models=x=a,x=b"], "two models are named 'x'"),
    (["model_name_or_path=m"], "at least one task"),
    (["tasks=a", "limit=2.5"], "integer"),
    (["tasks=a", "lang=fr"], "lang"),
])
def test_bad_config_is_one_line(overrides, expect):
    args = overrides if any(o.startswith("model_name_or_path=") for o in overrides) else ["model_name_or_path=m",
                                                                                          *overrides]
    with pytest.raises(ConfigError) as err:
        load_eval_config(None, args)
    assert expect in str(err.value) and "\n" not in str(err.value)


def test_mmlu_folder_becomes_groups_of_multiple_choice_tasks():
    group = legacy_group("mmlu_demo_test", EVAL, n_shot=2, lang="en")
    assert [g.alias for g in group] == ["STEM", "Social Sciences", "Humanities", "Other"]
    task = group.get("mmlu_demo_test_humanities").get("mmlu_demo_test_modern_history")
    doc = task.test_docs()[0]
    assert task.doc_to_text(doc) == (
        "In which year did the start of the First World War take place?\nA. 1894\nB. 1903\nC. 1918\nD. 1914\nAnswer:")
    assert task.doc_to_choice(doc) == ["A", "B", "C", "D"] and task.doc_to_target(doc) == 3
    assert task.config.description == "The following are multiple choice questions (with answers) about modern history.\n\n"
    assert task.config.num_fewshot == 2 and len(task.test_docs()) == 8 and len(task.fewshot_docs()) == 5
    zh = legacy_group("mmlu_demo_test", EVAL, n_shot=0, lang="zh").get("mmlu_demo_test_stem")
    zh_task = zh.get("mmlu_demo_test_elementary_arithmetic")
    assert zh_task.doc_to_text(zh_task.test_docs()[0]).endswith("\n答案：")
    assert zh_task.config.description.startswith("以下是中国关于elementary arithmetic考试的单项选择题")


def test_mmlu_csv_with_header_and_bad_rows(tmp_path):
    path = tmp_path / "x_test.csv"
    path.write_text("id,question,A,B,C,D,answer,explanation\n1,Q?,a,b,c,d,c,because\n", encoding="utf-8")
    assert read_mmlu_csv(path) == [{"question": "Q?", "A": "a", "B": "b", "C": "c", "D": "d", "answer": "C",
                                    "label": 2}]
    path.write_text("Q?,a,b,c,d\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"x_test.csv: row 1 has 5 fields"):
        read_mmlu_csv(path)
    path.write_text("Q?,a,b,c,d,A\nQ2?,a,b,c,d,E\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"row 2: answer 'E' is not one of A, B, C, D"):
        read_mmlu_csv(path)


def test_legacy_task_names_are_checked():
    with pytest.raises(ConfigError, match="<folder>_<split>"):
        parse_legacy_task("mmlu", EVAL)
    with pytest.raises(ConfigError, match="mapping.json not found"):
        parse_legacy_task("cmmlu_test", EVAL)
    assert parse_legacy_task("mmlu_demo_validation", EVAL).split == "val"


def _local_tasks(*names):
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(TASKS), include_defaults=False).load(list(names))["tasks"]


def test_local_tasks_score_gold_answers_with_ft_scorers():
    tasks = _local_tasks("rg_gsm_symbolic", "rg_basic_arithmetic", "rg_arith_mc", "humaneval_sandbox")
    gsm = tasks["rg_gsm_symbolic"]
    docs = list(gsm.test_docs())
    assert len(docs) == 200 and json.loads(docs[0]["entry"])["metadata"]["source_dataset"] == "gsm_symbolic"
    # reasoning-gym's verifier through ft_data's rg_verifier: the gold answer, a worked reply, a wrong one
    assert gsm.process_results(docs[0], [docs[0]["answer"]]) == {"acc": 1.0, "score": 1.0}
    assert gsm.process_results(docs[0], [f"They have 12 + 5 = {docs[0]['answer']} toys."])["acc"] == 1.0
    assert gsm.process_results(docs[0], ["41"]) == {"acc": 0.0, "score": 0.01}  # the verifier's partial credit
    arith = tasks["rg_basic_arithmetic"]
    doc = arith.test_docs()[1]
    assert (doc["question"], doc["answer"]) == ("Calculate 0 - 6.", "-6")
    assert arith.process_results(doc, ["0 - 6 = -6"]) == {"acc": 1.0, "score": 1.0}
    assert arith.process_results(doc, ["6"])["acc"] == 0.0
    mc = tasks["rg_arith_mc"]
    doc = mc.test_docs()[0]
    assert len(mc.test_docs()) == 200 and len(mc.doc_to_choice(doc)) == 4
    assert mc.doc_to_choice(doc)[mc.doc_to_target(doc)] == str(eval(doc["question"].removeprefix("Calculate ")[:-1]))
    human = tasks["humaneval_sandbox"]
    problems = {d["task_id"]: d for d in human.test_docs()}
    assert len(problems) == 164
    from ft_data.scorers.code_eval import humaneval_problems

    solution = humaneval_problems()["HumanEval/0"]["canonical_solution"]
    assert human.process_results(problems["HumanEval/0"], [solution]) == {"pass@1": 1.0}
    assert human.process_results(problems["HumanEval/0"], ["    return False\n"]) == {"pass@1": 0.0}
    # a chat reply: prose, then the whole function in a code block
    chat = "Here you go:\n```python\ndef has_close_elements(numbers, threshold):\n" + solution + "```"
    assert human.process_results(problems["HumanEval/0"], [chat]) == {"pass@1": 1.0}


def test_humaneval_refuses_without_an_os_sandbox_unless_the_config_allows(monkeypatch):
    from ft_core import SandboxUnavailableError
    from ft_core.sandbox import backends, forget_probes, weak_isolation_allowed
    from ft_serve.evaluation.config import load_eval_config

    cfg = load_eval_config(None, ["model_name_or_path=m", "tasks=humaneval_sandbox", "allow_weak_isolation=true"])
    assert cfg.allow_weak_isolation is True
    human = _local_tasks("humaneval_sandbox")["humaneval_sandbox"]
    doc = next(d for d in human.test_docs() if d["task_id"] == "HumanEval/0")
    from ft_data.scorers.code_eval import humaneval_problems

    solution = humaneval_problems()["HumanEval/0"]["canonical_solution"]
    forget_probes()
    monkeypatch.setattr(backends, "_probe", lambda name: f"{name}: simulated")
    monkeypatch.delenv("FT_SANDBOX_ALLOW_WEAK_ISOLATION", raising=False)
    try:
        with pytest.raises(SandboxUnavailableError, match="allow_weak_isolation"):
            human.process_results(doc, [solution])
        with weak_isolation_allowed(cfg.allow_weak_isolation):  # what run_eval does with the key
            assert human.process_results(doc, [solution]) == {"pass@1": 1.0}
    finally:
        forget_probes()


def test_local_task_data_without_the_needed_columns_names_the_row(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "answer": "1", "entry": "{}"}) + "\n"
                   + json.dumps({"question": "q", "answer": "1"}) + "\n", encoding="utf-8")
    (tmp_path / "mine.yaml").write_text(f"include: {TASKS / 'rg_gsm_symbolic.yaml'}\ntask: mine\n"
                                        f"dataset_kwargs:\n  data_file: {bad}\n", encoding="utf-8")
    from lm_eval.tasks import TaskManager

    with pytest.raises(ValueError, match=r"bad.jsonl: row 2 has no column 'entry'"):
        TaskManager(include_path=str(tmp_path), include_defaults=False).load(["mine"])
