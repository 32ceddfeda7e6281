"""ft-templates: chat-template registry, tool-call formats, reasoning policy and Jinja export.

Example:
    >>> from ft_templates import get_template
    >>> t = get_template("qwen3").with_options(thinking="off")
    >>> prompt_ids, response_ids = t.encode_oneturn(tokenizer, [{"role": "user", "content": "hi"},
    ...                                                     {"role": "assistant", "content": "hello"}])
"""

from . import families as _families  # noqa: F401  (registers the built-in templates)
from .auto import template_from_tokenizer
from .check import CORPUS, compare, rank_templates
from .formatter import EmptyFormatter, Formatter, FunctionFormatter, StringFormatter, ToolFormatter
from .messages import from_openai, openai_tools, to_openai
from .registry import ALIASES, TEMPLATES, build_template, get_template, register_template
from .slots import BOS, EOS, Token
from .template import Message, ReasoningPolicy, Template, validate_messages
from .tokenizer import fix_tokenizer, prepare_template
from .tool_formats import TOOL_FORMATS, FunctionCall, ToolFormat, get_tool_format, register_tool_format

__version__ = "0.1.0"

__all__ = [
    "ALIASES", "BOS", "CORPUS", "EOS", "TEMPLATES", "TOOL_FORMATS",
    "EmptyFormatter", "Formatter", "FunctionCall", "FunctionFormatter", "Message", "ReasoningPolicy",
    "StringFormatter", "Template", "Token", "ToolFormat", "ToolFormatter",
    "__version__", "build_template", "compare", "fix_tokenizer", "from_openai", "get_template",
    "get_tool_format", "openai_tools", "prepare_template", "rank_templates", "register_template", "register_tool_format",
    "template_from_tokenizer", "to_openai", "validate_messages",
]
