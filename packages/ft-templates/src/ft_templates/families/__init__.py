"""The built-in templates (LLaMA-Factory names and strings), one ``register_template`` call each.

``family`` names the model family whose own Jinja chat template the entry mirrors; the parity
tests compare those against the committed Jinja assets (tests/assets/). Differences from a
family's Jinja that are deliberate are listed in docs/ft-templates.md.
"""

from . import deepseek_glm_openai, generic, google_microsoft, meta_mistral, others, qwen_hf

__all__ = ["deepseek_glm_openai", "generic", "google_microsoft", "meta_mistral", "others", "qwen_hf"]
