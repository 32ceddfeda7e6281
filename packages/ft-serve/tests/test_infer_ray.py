"""``ft infer`` data-parallel on a local two-node Ray cluster: two engine replicas, results merged in
dataset order into the same bytes a single-process run writes, and resumable the same way."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")  # before ray is imported: see ft_serve.infer.parallel
ray = pytest.importorskip("ray")

from ft_serve.infer import count_complete_rows, load_infer_config, run_infer  # noqa: E402
from ft_testing.data import write_dataset  # noqa: E402


@pytest.fixture(scope="module")
def two_node_cluster():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)  # a second raylet: Ray's multi-node code path, on one machine
    cluster.wait_for_nodes()
    import time

    import psutil

    started = time.time()
    yield cluster
    ray.shutdown()
    cluster.shutdown()
    # Workers whose raylet went down with the cluster can outlive it; a test leaves nothing running.
    for proc in psutil.process_iter(["cmdline", "create_time"]):
        cmdline = proc.info["cmdline"] or []
        if cmdline and cmdline[0].startswith("ray::") and proc.info["create_time"] >= started - 1:
            proc.kill()


@pytest.mark.distributed
def test_two_replicas_write_the_single_process_file(tiny_llama_path, tmp_path, two_node_cluster):
    rows = [{"instruction": f"Count to {i}.", "output": " ".join(str(k) for k in range(i))} for i in range(1, 19)]
    write_dataset(tmp_path / "data", "count", rows)
    args = [f"model_name_or_path={tiny_llama_path}", "template=smollm2", "dataset=count",
            f"dataset_dir={tmp_path / 'data'}", "max_new_tokens=16", "seed=3", "max_batch_size=4"]
    single = tmp_path / "single.jsonl"
    run_infer(load_infer_config(None, [*args, f"save_name={single}"]))

    # the parallel run continues a file that holds the first 7 rows (a resumed run), so one Ray run
    # proves both the ordered merge and resuming on the cluster
    parallel = tmp_path / "parallel.jsonl"
    parallel.write_bytes(b"".join(single.read_bytes().splitlines(keepends=True)[:7]))
    cfg = load_infer_config(None, [*args, f"save_name={parallel}", "ray_num_workers=2",
                                   f"ray_address={two_node_cluster.address}", "batch_size=5"])
    result = run_infer(cfg)
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    assert (result.rows, result.generated) == (18, 11)
    assert parallel.read_bytes() == single.read_bytes()
    assert count_complete_rows(parallel) == 18
