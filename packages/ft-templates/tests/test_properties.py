"""Properties: the text path and the ids path agree; templates survive pickling (datasets.map)."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ft_templates import get_template

# printable text (the GGUF-derived SmolLM2 tokenizer does not round-trip control characters)
text = st.text(alphabet=st.characters(whitelist_categories=("L", "N", "P", "S", "Zs"), whitelist_characters="\n",
                                      blacklist_characters="<>"), min_size=1, max_size=30)


@pytest.mark.parametrize("name", ["smollm2", "qwen3", "llama3", "mistral"])
@settings(max_examples=10, deadline=None)
@given(q1=text, a1=text, q2=text, a2=text, system=st.one_of(st.none(), text))
def test_ids_decode_to_the_rendered_text(name, smollm2_tokenizer, q1, a1, q2, a2, system):
    tok = smollm2_tokenizer
    template = get_template(name)
    messages = [{"role": "user", "content": q1}, {"role": "assistant", "content": a1},
                {"role": "user", "content": q2}, {"role": "assistant", "content": a2}]
    pairs = template.encode_multiturn(tok, messages, system)
    turns = template.render_turns(messages, system, bos=tok.bos_token, eos=tok.eos_token)
    assert [(tok.decode(s), tok.decode(t)) for s, t in pairs] == turns


@pytest.mark.parametrize("name", ["qwen3", "glm4", "chatglm3", "mistral"])
def test_templates_pickle(name, char_tok):
    template = get_template(name).with_options(thinking="off") if name == "qwen3" else get_template(name)
    clone = pickle.loads(pickle.dumps(template))
    assert clone == template
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert clone.encode_multiturn(char_tok, msgs) == template.encode_multiturn(char_tok, msgs)
