"""What ``ft api`` serves: LoRA adapters unmerged and chosen per request, reward models for
``/v1/score/evaluation``, LLaMA-Factory inference YAMLs as they are, ft exports."""

from __future__ import annotations

import textwrap

import httpx
import openai
import pytest

from ft_models.generation import SamplingParams, generate
from ft_serve.config import load_serve_config
from ft_serve.engines.transformers_engine import TransformersEngine
from ft_serve.prompts import chat_prompt_ids

USER = [{"role": "user", "content": "Name a colour."}]


def _lora(base_path, out, seed: int) -> str:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_path)
    # init_lora_weights=False: B is random too, so the adapter changes the output
    peft = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj", "down_proj"],
                                            init_lora_weights=False, lora_alpha=64))
    peft.save_pretrained(out)
    return str(out)


@pytest.fixture(scope="module")
def adapters(tiny_llama_path, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    return {"red": _lora(tiny_llama_path, root / "red", 1), "blue": _lora(tiny_llama_path, root / "blue", 2)}


def _alone(base_path, adapter_path, ids):
    """Greedy tokens of the base merged with one adapter, decoded without the server."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base_path)
    model = AutoModelForCausalLM.from_pretrained(base_path)
    if adapter_path:
        model = PeftModel.from_pretrained(model, adapter_path).merge_and_unload()
    return generate(model.eval(), tok, [ids], SamplingParams(max_tokens=10, temperature=0, ignore_eos=True))[0].text


def test_adapters_unmerged_per_request(tiny_llama_path, adapters, make_config, serve):
    cfg = make_config(f"adapter_name_or_path=red={adapters['red']},blue={adapters['blue']}")
    engine = TransformersEngine(cfg)
    engine.load()
    try:
        with serve(cfg, engine) as url:
            client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
            models = client.models.list().data
            assert [m.id for m in models] == ["tiny", "tiny:red", "tiny:blue"]
            ids = chat_prompt_ids(engine.template, engine.tokenizer, USER)

            def ask(model):
                return client.chat.completions.create(model=model, messages=USER, max_tokens=10, temperature=0,
                                                      extra_body={"ignore_eos": True}).choices[0].message.content

            import concurrent.futures as cf

            with cf.ThreadPoolExecutor(6) as pool:  # concurrent requests: the three decode in one mixed batch
                answers = list(pool.map(ask, ["tiny", "tiny:red", "tiny:blue"] * 2))
        assert answers[:3] == answers[3:]
        assert answers[0] == _alone(tiny_llama_path, None, ids)
        assert answers[1] == _alone(tiny_llama_path, adapters["red"], ids)
        assert answers[2] == _alone(tiny_llama_path, adapters["blue"], ids)
        assert len(set(answers[:3])) == 3
    finally:
        engine.shutdown()


def test_reward_model_scores(tiny_llama_path, tmp_path, make_config, serve):
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    config = LlamaConfig.from_pretrained(tiny_llama_path)
    config.num_labels = 1
    torch.manual_seed(0)
    rm = LlamaForSequenceClassification(config)
    rm.save_pretrained(tmp_path / "rm")
    tok = AutoTokenizer.from_pretrained(tiny_llama_path)
    tok.save_pretrained(tmp_path / "rm")
    cfg = load_serve_config(None, [f"model_name_or_path={tmp_path / 'rm'}", "template=smollm2", "served_model_name=rm"])
    engine = TransformersEngine(cfg)
    engine.load()
    texts = ["a short answer", "a much longer answer with more words in it"]
    with serve(cfg, engine) as url:
        r = httpx.post(f"{url}/v1/score/evaluation", json={"model": "rm", "messages": texts})
        assert r.status_code == 200
        body = r.json()
        assert body["object"] == "score.evaluation" and body["id"].startswith("scoreval-")
        r2 = httpx.post(f"{url}/v1/chat/completions", json={"model": "rm", "messages": USER})
        assert r2.status_code == 405
        assert httpx.post(f"{url}/v1/score/evaluation", json={"model": "rm", "messages": []}).status_code == 400
    with torch.inference_mode():
        expected = [float(rm(**tok(t, return_tensors="pt")).logits[0, 0]) for t in texts]
    assert body["scores"] == pytest.approx(expected, abs=1e-4)


def test_llamafactory_inference_yaml_loads_unchanged(tmp_path, tiny_llama_path):
    # LLaMA-Factory's examples/inference/llama3_lora_sft.yaml, model path changed
    path = tmp_path / "llama3_lora_sft.yaml"
    path.write_text(textwrap.dedent(f"""\
        model_name_or_path: {tiny_llama_path}
        adapter_name_or_path: saves/llama3-8b/lora/sft
        template: llama3
        infer_backend: huggingface  # choices: [huggingface, vllm, sglang]
        trust_remote_code: true
        finetuning_type: lora
        """))
    cfg = load_serve_config(path)
    assert cfg.adapter_name_or_path == ["saves/llama3-8b/lora/sft"] and cfg.template == "llama3"
    vllm = load_serve_config(path, ["infer_backend=vllm", "vllm_maxlen=2048", "vllm_gpu_util=0.5",
                                    'vllm_config={"max_num_seqs": 8}'])
    assert vllm.vllm_config == {"max_num_seqs": 8} and vllm.vllm_maxlen == 2048


def test_generating_keys_of_the_yaml_become_defaults(make_config):
    engine = TransformersEngine(make_config("temperature=0.3", "top_p=0.5", "max_new_tokens=7"))
    engine.load()
    engine.shutdown()
    assert engine.defaults == {"temperature": 0.3, "top_p": 0.5, "max_tokens": 7}
    greedy = TransformersEngine(make_config("do_sample=false"))
    greedy.load()
    greedy.shutdown()
    assert greedy.defaults == {"temperature": 0.0}
