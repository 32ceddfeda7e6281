"""Writers of a tiny fake workspace (ft-core, ft-templates, ft-data, ft-models, umbrella ft)
for the build tool's tests: they never edit the real tree."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

ROOT_PYPROJECT = """\
[project]
name = "fake-root"
version = "0.0.0"
requires-python = ">=3.10"
dependencies = []

[tool.uv]
package = false

[tool.uv.workspace]
members = ["packages/*"]

[tool.uv.sources]
{sources}

[tool.importlinter]
root_packages = ["ft", "ft_core", "ft_templates", "ft_data", "ft_models"]

[[tool.importlinter.contracts]]
name = "layers"
type = "layers"
layers = ["ft", "ft_data | ft_models", "ft_templates", "ft_core"]
"""

LIBS = {
    # name: (dependencies, module source)
    "ft-core": ([], "import json\n"),
    "ft-templates": (["ft-core>=0.1,<0.2"], "import ft_core\n"),
    "ft-data": (["ft-core>=0.1,<0.2", "ft-templates>=0.1,<0.2"], "import ft_core\nimport ft_templates\n"),
    "ft-models": (["ft-core>=0.1,<0.2"], "from ft_core import json\n"),
    "ft": (["ft-core==0.1.0", "ft-templates==0.1.0", "ft-data==0.1.0", "ft-models==0.1.0"], ""),
}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def write_member(root: Path, name: str, deps: list[str], source: str, *, extras: str = "",
                 test_group: bool = False) -> Path:
    module = name.replace("-", "_")
    d = root / "packages" / name
    dep_lines = "".join(f'    "{x}",\n' for x in deps)
    sibling_sources = "".join(f"{x.split('>')[0].split('=')[0]} = {{ workspace = true }}\n"
                              for x in deps if x.startswith("ft"))
    write(d / "pyproject.toml", f'[project]\nname = "{name}"\nversion = "0.1.0"\n'
          f'requires-python = ">=3.10"\ndependencies = [\n{dep_lines}]\n{extras}\n'
          + ('[dependency-groups]\ntest = ["pytest"]\n\n' if test_group else "")
          + f"[tool.uv.sources]\n{sibling_sources}\n"
          '[build-system]\nrequires = ["uv_build>=0.9,<0.14"]\nbuild-backend = "uv_build"\n')
    write(d / "src" / module / "__init__.py", source)
    write(d / "CHANGELOG.md", f"# Changelog of {name}\n\n## 0.1.0 (unreleased)\n\n- First version.\n")
    write(d / "README.md", f"# {name}\n")
    return d


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout
