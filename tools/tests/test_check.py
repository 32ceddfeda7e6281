"""`check`: a planted forbidden import and undeclared imports are caught, with a clear message;
the fake workspace as written passes."""

from __future__ import annotations

from _fake_workspace import write, write_member

from ft_tools.cli import main
from ft_tools.scan import imports_of, scan_workspace
from ft_tools.workspace import load_workspace


def check(root, capsys) -> tuple[int, str]:
    code = main(["--root", str(root), "check"])
    return code, capsys.readouterr().out


def test_sound_workspace_passes(fake_ws, capsys):
    code, out = check(fake_ws, capsys)
    assert code == 0, out
    assert "graph: ok" in out and "import scan: ok" in out and "lint-imports: ok" in out


def test_planted_forbidden_import_fails(fake_ws, capsys):
    write(fake_ws / "packages/ft-core/src/ft_core/loader.py", "import json\n\nimport ft_data\n")
    code, out = check(fake_ws, capsys)
    assert code == 1
    assert ("packages/ft-core/src/ft_core/loader.py:3: forbidden import: ft-core imports ft_data, "
            "but ft-core may not depend on ft-data") in out
    # import-linter's layers contract sees it too
    assert "lint-imports: FAILED" in out and "ft_core.loader -> ft_data" in out
    assert "check: FAILED" in out


def test_undeclared_internal_import_fails(fake_ws, capsys):
    # ft-data may depend on ft-templates, but this ft-data does not declare it
    write_member(fake_ws, "ft-data", ["ft-core>=0.1,<0.2"], "import ft_core\nimport ft_templates\n")
    code, out = check(fake_ws, capsys)
    assert code == 1
    assert ("packages/ft-data/src/ft_data/__init__.py:2: ft-data imports ft_templates but does not "
            "declare ft-templates: add it to [project] dependencies of packages/ft-data/pyproject.toml") in out
    assert "lint-imports: ok" in out  # the layers allow it: only the scan can see it


def test_undeclared_third_party_import_fails(fake_ws, capsys):
    write(fake_ws / "packages/ft-templates/src/ft_templates/render.py",
          "import os\n\nimport yaml\nfrom yaml import safe_load\n")
    code, out = check(fake_ws, capsys)
    assert code == 1
    assert ("packages/ft-templates/src/ft_templates/render.py:3 (and 1 more: "
            "packages/ft-templates/src/ft_templates/render.py:4): ft-templates imports yaml, but its "
            "distribution (pyyaml) is not a declared dependency") in out


def test_declared_guarded_and_type_checking_imports_pass(fake_ws):
    write_member(fake_ws, "ft-models", ["ft-core>=0.1,<0.2", "PyYAML>=6"], "import ft_core\nimport yaml\n",
                 extras='[project.optional-dependencies]\nplot = ["matplotlib>=3"]\n')
    write(fake_ws / "packages/ft-models/src/ft_models/extra.py", """\
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            import ft_data
        try:
            import vllm
        except ImportError:
            vllm = None


        def plot():
            import matplotlib.pyplot as plt
            return plt
        """)
    assert scan_workspace(load_workspace(fake_ws)) == []


def test_undeclared_lazy_import_is_still_caught(fake_ws):
    write(fake_ws / "packages/ft-models/src/ft_models/lazy.py", "def f():\n    import numpy\n")
    problems = scan_workspace(load_workspace(fake_ws))
    assert len(problems) == 1 and "ft-models imports numpy" in problems[0]


def test_imports_of_records_context(tmp_path):
    f = write(tmp_path / "m.py", "import a.b\nfrom c import d\nfrom . import e\n\ndef g():\n    import h\n")
    found = [(i.module, i.line, i.lazy) for i in imports_of(f)]
    assert found == [("a", 1, False), ("c", 2, False), ("h", 6, True)]


def test_ft_testing_may_import_lazily_for_higher_libraries(fake_ws):
    write_member(fake_ws, "ft-testing", ["ft-core>=0.1,<0.2"], "import ft_core\n")
    write(fake_ws / "packages/ft-testing/src/ft_testing/routing.py", """\
        def parquet_logs():
            import ft_data
            import polars
            return ft_data, polars
        """)
    assert scan_workspace(load_workspace(fake_ws)) == []
    write(fake_ws / "packages/ft-testing/src/ft_testing/eager.py", "import polars\n")
    problems = scan_workspace(load_workspace(fake_ws))
    assert len(problems) == 1 and "ft-testing imports polars" in problems[0]
