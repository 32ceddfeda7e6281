"""`graph`: the declared graph is checked against the architecture table, for cycles, and for
sibling specifiers that no longer admit the workspace version."""

from __future__ import annotations

import json
from pathlib import Path

from _fake_workspace import write_member

from ft_tools.cli import main
from ft_tools.graph import check_graph, dependents, find_cycle, spec_admits, topo_order
from ft_tools.workspace import find_root, load_workspace

REAL_ROOT = Path(__file__).resolve().parents[2]


def test_real_workspace_graph_is_sound():
    ws = load_workspace(find_root(REAL_ROOT))
    assert check_graph(ws) == []
    order = topo_order(ws)
    assert order[0] == "ft-core"
    assert order.index("ft-data") > order.index("ft-templates")
    assert order.index("ft") > order.index("ft-train")


def test_fake_workspace_graph_passes(fake_ws, capsys):
    assert main(["--root", str(fake_ws), "graph"]) == 0
    out = capsys.readouterr().out
    assert "ft-data" in out and "-> ft-core, ft-templates" in out


def test_graph_json(fake_ws, capsys):
    assert main(["--root", str(fake_ws), "graph", "--json"]) == 0
    graph = json.loads(capsys.readouterr().out)
    assert graph["ft-data"] == ["ft-core", "ft-templates"]
    assert next(iter(graph)) == "ft-core"


def test_forbidden_edge_fails(fake_ws, capsys):
    write_member(fake_ws, "ft-core", ["ft-data>=0.1,<0.2"], "")
    assert main(["--root", str(fake_ws), "graph"]) == 1
    err = capsys.readouterr().err
    assert "forbidden edge ft-core -> ft-data" in err
    assert "packages/ft-core/pyproject.toml" in err
    # ft-core -> ft-data -> ft-core is also a cycle
    assert "dependency cycle: ft-core -> ft-data -> ft-core" in err


def test_sibling_edge_inside_one_layer_is_forbidden(fake_ws):
    write_member(fake_ws, "ft-models", ["ft-core>=0.1,<0.2", "ft-data>=0.1,<0.2"], "")
    problems = check_graph(load_workspace(fake_ws))
    assert problems == ["packages/ft-models/pyproject.toml: forbidden edge ft-models -> ft-data "
                        "(ft-models may depend on: ft-core)"]


def test_cycle_detected_even_when_the_table_allows_both_edges(fake_ws):
    write_member(fake_ws, "ft-core", ["ft-templates>=0.1,<0.2"], "")
    table = {"ft-core": frozenset({"ft-templates"}), "ft-templates": frozenset({"ft-core"}),
             "ft-data": frozenset({"ft-core", "ft-templates"}), "ft-models": frozenset({"ft-core"}),
             "ft": frozenset({"*"})}
    problems = check_graph(load_workspace(fake_ws), table)
    assert problems == ["dependency cycle: ft-core -> ft-templates -> ft-core"]


def test_find_cycle():
    assert find_cycle({"a": ("b",), "b": ("c",), "c": ()}) is None
    assert find_cycle({"a": ("b",), "b": ("c",), "c": ("a",)}) == ["a", "b", "c", "a"]


def test_unknown_library_is_reported(fake_ws):
    write_member(fake_ws, "ft-extra", ["ft-core>=0.1,<0.2"], "")
    problems = check_graph(load_workspace(fake_ws))
    assert len(problems) == 1 and "ft-extra is not a library of the architecture table" in problems[0]


def test_specifier_must_admit_the_workspace_version(fake_ws):
    write_member(fake_ws, "ft-templates", ["ft-core>=0.2,<0.3"], "")
    write_member(fake_ws, "ft", ["ft-core>=0.1", "ft-templates==0.1.0"], "")
    problems = check_graph(load_workspace(fake_ws))
    assert len(problems) == 2
    assert any("'ft-core>=0.2,<0.3' does not admit ft-core 0.1.0" in p for p in problems)
    assert any("the umbrella pins its libraries exactly; write ft-core==0.1.0" in p for p in problems)


def test_spec_admits():
    assert spec_admits(">=0.1,<0.2", "0.1.9")
    assert not spec_admits(">=0.1,<0.2", "0.2.0")
    assert spec_admits("==0.1.0", "0.1")
    assert spec_admits("~=1.4.2", "1.4.7") and not spec_admits("~=1.4.2", "1.5.0")
    assert spec_admits("==0.1.*", "0.1.3") and not spec_admits("!=0.1.3", "0.1.3")
    assert spec_admits("", "3.0.0")


def test_dependents_include_test_environments(fake_ws):
    ws = load_workspace(fake_ws)
    assert dependents(ws, {"ft-templates"}) == {"ft-templates", "ft-data", "ft"}
    assert dependents(ws, {"ft-core"}) == set(ws.members)


def test_conflicting_extras_are_read_from_the_root(fake_ws):
    from ft_tools.workspace import load_workspace

    root = fake_ws / "pyproject.toml"
    root.write_text(root.read_text().replace(
        "package = false\n",
        'package = false\nconflicts = [[{ package = "ft-models", extra = "gpu" }, { package = "fake-root", group = "dev" }]]\n'))
    assert load_workspace(fake_ws).conflicting_extras() == ["gpu"]
