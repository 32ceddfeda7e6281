"""``python -m ft_serve.evaluation ARGS``: lm-eval's own command line with the ``ft`` model registered.

Example:
    $ python -m ft_serve.evaluation run --model ft --model_args model_name_or_path=smollm2-135m-instruct,template=smollm2 \\
          --tasks rg_gsm_symbolic --include_path docs/examples/eval/tasks --apply_chat_template --limit 20
"""

from lm_eval.__main__ import cli_evaluate

from . import lm_adapter  # noqa: F401  (registers the "ft" model)

if __name__ == "__main__":
    cli_evaluate()
