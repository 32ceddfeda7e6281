"""Benchmark: streaming chat throughput of ``ft api`` against LLaMA-Factory 0.9.5's API, CPU, same run.

Both servers serve SmolLM2-135M-Instruct in fp32 with the smollm2 template: ft from its built-in
alias (``ft api model_name_or_path=smollm2-135m-instruct template=smollm2 infer_dtype=float32``),
LLaMA-Factory (``llamafactory-cli api``, ``infer_backend: huggingface``) from the plain HF export of
the same weights that the alias resolves to. LLaMA-Factory runs from the venv that
``tools/peers/setup_llamafactory.sh`` builds (``${PEERS:-~/.cache/ft-peers}/lf``); without it, or
with ``--no-peer``, ft is measured alone.

The servers run one after the other on a free loopback port (never both at once), each stopped
before the next starts. Each is warmed up with one short request, then for every client level N,
N threads (one ``openai.OpenAI`` client each) start together and each sends
``--requests-per-client`` streaming chat completions, one after another::

    messages=[{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
    max_tokens=64, temperature=0.8, stream=True, stream_options={"include_usage": True}

Per level: ok/errors, completion tokens, wall time of the whole level, tokens/s = completion tokens / wall, latency p50/p95 (request sent to stream
end) and TTFT p50/p95 (request sent to the first content chunk). The 1-minute load average is
recorded before each server starts and before each level.

Completion tokens come from the usage chunk. LLaMA-Factory 0.9.5 sends none, and its content
chunks are ``TextIteratorStreamer`` pieces (about one word each, not one token), so for a server
without usage the streamed text is re-tokenized with the model's tokenizer (``tokens_source``
says which). The count of content chunks, the other possible fallback, is kept beside it:
``tokens_per_s_by_chunks`` per level and ``value_lf_tokens_by_chunks`` in the ft/LLaMA-Factory
targets (that count makes LLaMA-Factory look slower). TTFT is to the first non-empty content
chunk: LLaMA-Factory's first one is its first word.

stdout: one JSON line per (server, level) as it finishes, then one JSON line with everything,
the medians over ``--reps`` and the targets: ft/LLaMA-Factory tokens/s at 8 clients (>= 6) and at
32 (>= 10), ft at 8 clients / ft at 1 (>= 3), ft TTFT p50 at 8 clients (< 1 s), each with
``pass`` (null when a level it needs was not measured). Progress goes to stderr.

Usage (from the workspace root)::

    bash tools/peers/setup_llamafactory.sh        # once: the LLaMA-Factory venv
    uv run python packages/ft-serve/benchmarks/api_throughput.py [--clients 1,8,32] \\
        [--requests-per-client 2] [--max-tokens 64] [--peer/--no-peer] [--reps 1]

Run it on an otherwise idle machine: the client threads share the CPU with the server.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

MODEL_ALIAS = "smollm2-135m-instruct"
TEMPLATE = "smollm2"
PROMPT = "Write a long story about a lighthouse keeper."
TEMPERATURE = 0.8
LF_VERSION = "0.9.5"
PEERS = Path(os.environ.get("PEERS", str(Path.home() / ".cache" / "ft-peers")))

TARGETS = {  # name: (what, threshold, comparison)
    "ft_vs_lf_tokens_per_s_at_8": ("ft tokens/s / LLaMA-Factory tokens/s at 8 clients", 6.0, ">="),
    "ft_vs_lf_tokens_per_s_at_32": ("ft tokens/s / LLaMA-Factory tokens/s at 32 clients", 10.0, ">="),
    "ft_8_vs_ft_1_tokens_per_s": ("ft tokens/s at 8 clients / ft tokens/s at 1 client", 3.0, ">="),
    "ft_ttft_p50_s_at_8": ("ft TTFT p50 at 8 clients, seconds", 1.0, "<"),
}


def log(message: str) -> None:
    print(f"[api_throughput] {message}", file=sys.stderr, flush=True)


def emit(row: dict[str, Any]) -> None:
    print(json.dumps(row), flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_1m() -> float:
    return round(os.getloadavg()[0], 2)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


# ---------------------------------------------------------------------------------------------
# servers


class Server:
    """One API server subprocess in its own process group; ``stop()`` is safe to call twice."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], ready_path: str, port: int,
                 workdir: Path, meta: dict[str, Any]) -> None:
        self.name, self.cmd, self.env, self.ready_path, self.port = name, cmd, env, ready_path, port
        self.workdir, self.meta = workdir, meta
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.model_id: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float) -> float:
        """Start and wait until ``ready_path`` answers 200; returns the seconds that took."""
        log(f"starting {self.name} on port {self.port}: {' '.join(self.cmd)} (log: {self.log_path})")
        start = time.perf_counter()
        with self.log_path.open("wb") as handle:
            self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.workdir, start_new_session=True)
        deadline = start + timeout_s
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.proc.returncode} while starting:\n"
                                   f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base_url + self.ready_path, timeout=5) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError(f"{self.name} did not answer {self.ready_path} within {timeout_s:.0f} s:\n"
                               f"{self.log_tail()}")
        took = time.perf_counter() - start
        with urllib.request.urlopen(self.base_url + "/v1/models", timeout=10) as resp:
            self.model_id = json.load(resp)["data"][0]["id"]
        log(f"{self.name} ready in {took:.1f} s, serving model {self.model_id!r}")
        return took

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        log(f"stopping {self.name} (pid {proc.pid})")
        for sig, wait_s in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue


def ft_server(workdir: Path, model: str, extra: Sequence[str]) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "ft", "api", f"model_name_or_path={model}", f"template={TEMPLATE}",
           "infer_dtype=float32", *extra]
    env = {**os.environ, "API_HOST": "127.0.0.1", "API_PORT": str(port), "HF_HUB_OFFLINE": "1"}
    return Server("ft", cmd, env, "/health", port, workdir,
                  {"model": model, "overrides": list(extra)})


def lf_venv() -> Path:
    return Path(os.environ.get("LF_VENV", str(PEERS / "lf")))


def lf_installed(venv: Path) -> str | None:
    """Why LLaMA-Factory cannot run from ``venv``, or None when it can."""
    cli = venv / "bin" / "llamafactory-cli"
    if not cli.exists():
        return f"{cli} is missing (run: bash tools/peers/setup_llamafactory.sh)"
    probe = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "from importlib.metadata import version; print(version('llamafactory'))"],
                           capture_output=True, text=True)
    found = probe.stdout.strip()
    if probe.returncode != 0 or found != LF_VERSION:
        return f"{venv} holds llamafactory {found or '?'} , not {LF_VERSION} (rerun tools/peers/setup_llamafactory.sh)"
    return None


def hf_model_dir(model: str) -> str:
    """The plain HF directory of ``model`` (ft's alias resolved by ft-models; a path stays a path)."""
    if Path(model).is_dir():
        return str(Path(model).resolve())
    out = subprocess.run([sys.executable, "-c",
                          "import sys; from ft_models import resolve_model_path; "
                          "print(resolve_model_path(sys.argv[1]))", model],
                         capture_output=True, text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    path = out.stdout.strip().splitlines()[-1]
    if not (Path(path) / "config.json").exists():
        raise SystemExit(f"{model} resolves to {path}, which is not an HF model directory; pass --lf-model DIR")
    return path


def token_counter(model_dir: Callable[[], str]) -> Callable[[str], int]:
    """Counts tokens of a text with the model's ``tokenizer.json`` (loaded on first use)."""
    cache: list[Any] = []

    def count(text: str) -> int:
        if not cache:
            from tokenizers import Tokenizer

            cache.append(Tokenizer.from_file(str(Path(model_dir()) / "tokenizer.json")))
        return len(cache[0].encode(text, add_special_tokens=False).ids) if text else 0

    return count


def lf_server(workdir: Path, venv: Path, model_dir: str) -> Server:
    port = free_port()
    stubs = Path(os.environ.get("LF_STUBS", str(venv.parent / "stubs")))
    yaml = workdir / "lf_api.yaml"
    yaml.write_text(f"model_name_or_path: {model_dir}\ntemplate: {TEMPLATE}\n"
                    "infer_backend: huggingface\ninfer_dtype: float32\n")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update({"API_HOST": "127.0.0.1", "API_PORT": str(port), "PYTHONPATH": str(stubs),
                "HF_HUB_OFFLINE": "1"})
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return Server("llamafactory", [str(venv / "bin" / "llamafactory-cli"), "api", str(yaml)], env,
                  "/v1/models", port, workdir,
                  {"model": model_dir, "version": LF_VERSION, "venv": str(venv),
                   "max_concurrent": os.environ.get("MAX_CONCURRENT", "1 (LLaMA-Factory's default)")})


# ---------------------------------------------------------------------------------------------
# load


def one_request(client: Any, model: str, max_tokens: int) -> dict[str, Any]:
    sent = time.perf_counter()
    ttft = None
    chunks = 0
    text: list[str] = []
    usage_tokens = None
    finish = None
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": PROMPT}], max_tokens=max_tokens,
        temperature=TEMPERATURE, stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.usage is not None and chunk.usage.completion_tokens is not None:
            usage_tokens = chunk.usage.completion_tokens
        for choice in chunk.choices:
            if choice.delta is not None and choice.delta.content:
                chunks += 1
                text.append(choice.delta.content)
                if ttft is None:
                    ttft = time.perf_counter() - sent
            if choice.finish_reason:
                finish = choice.finish_reason
    latency = time.perf_counter() - sent
    return {"latency": latency, "ttft": ttft, "content_chunks": chunks, "usage_tokens": usage_tokens,
            "finish_reason": finish, "text": "".join(text)}


def run_level(server: Server, clients: int, requests_per_client: int, max_tokens: int,
              request_timeout: float, count_tokens: Callable[[str], int]) -> dict[str, Any]:
    import openai

    results: list[dict[str, Any]] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def worker() -> None:
        client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="none", max_retries=0,
                               timeout=request_timeout)
        try:
            barrier.wait()
            for _ in range(requests_per_client):
                try:
                    res = one_request(client, server.model_id or "", max_tokens)
                except Exception as exc:  # a failed request is counted, the level goes on
                    with lock:
                        errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
                    continue
                with lock:
                    results.append(res)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True, name=f"client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    load_before = load_1m()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start

    # Completion tokens: the usage chunk's count. A server without one (LLaMA-Factory 0.9.5 sends
    # none) gets its streamed text re-tokenized with the model's tokenizer: its chunks are
    # TextIteratorStreamer pieces (about a word each), not tokens, so counting them would
    # undercount its tokens. The chunk count is reported beside it (tokens_per_s_by_chunks).
    with_usage = [r for r in results if r["usage_tokens"] is not None]
    tokens = 0
    tokens_by_chunks = 0
    for r in results:
        if r["usage_tokens"] is not None:
            tokens += r["usage_tokens"]
            tokens_by_chunks += r["usage_tokens"]
        else:
            tokens += count_tokens(r["text"])
            tokens_by_chunks += r["content_chunks"]
    source = ("usage" if len(with_usage) == len(results) else
              "retokenized_text" if not with_usage else "mixed usage/retokenized_text")
    latencies = [r["latency"] for r in results]
    ttfts = [r["ttft"] for r in results if r["ttft"] is not None]
    finish: dict[str, int] = {}
    for r in results:
        finish[str(r["finish_reason"])] = finish.get(str(r["finish_reason"]), 0) + 1
    return {
        "server": server.name, "clients": clients, "requests_per_client": requests_per_client,
        "max_tokens": max_tokens, "requests": clients * requests_per_client, "ok": len(results),
        "errors": len(errors), "error_samples": sorted(set(errors))[:3],
        "completion_tokens": tokens, "tokens_source": source,
        "content_chunks": sum(r["content_chunks"] for r in results), "finish_reasons": finish,
        "wall_s": _r(wall), "tokens_per_s": _r(tokens / wall if wall > 0 else None, 2),
        "tokens_per_s_by_chunks": _r(tokens_by_chunks / wall if wall > 0 else None, 2),
        "latency_p50_s": _r(percentile(latencies, 50)), "latency_p95_s": _r(percentile(latencies, 95)),
        "ttft_p50_s": _r(percentile(ttfts, 50)), "ttft_p95_s": _r(percentile(ttfts, 95)),
        "load_avg_1m_before": load_before,
    }


def warm_up(server: Server, request_timeout: float) -> None:
    import openai

    client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="none", max_retries=0,
                           timeout=request_timeout)
    try:
        res = one_request(client, server.model_id or "", 4)
        log(f"{server.name} warm-up: {res['latency']:.2f} s")
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------
# summary


def medians(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """server -> str(clients) -> medians over the reps of that (server, level)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["server"], row["clients"]), []).append(row)
    for (server, clients), mine in groups.items():
        entry: dict[str, Any] = {"n": len(mine)}
        for key in ("tokens_per_s", "tokens_per_s_by_chunks", "wall_s", "latency_p50_s", "latency_p95_s", "ttft_p50_s", "ttft_p95_s"):
            values = [r[key] for r in mine if r[key] is not None]
            entry[key] = _r(statistics.median(values), 3) if values else None
        entry["errors"] = sum(r["errors"] for r in mine)
        out.setdefault(server, {})[str(clients)] = entry
    return out


def targets(med: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    def get(server: str, clients: int, key: str) -> float | None:
        return med.get(server, {}).get(str(clients), {}).get(key)

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None or b == 0 else round(a / b, 3)

    values = {
        "ft_vs_lf_tokens_per_s_at_8": ratio(get("ft", 8, "tokens_per_s"), get("llamafactory", 8, "tokens_per_s")),
        "ft_vs_lf_tokens_per_s_at_32": ratio(get("ft", 32, "tokens_per_s"),
                                             get("llamafactory", 32, "tokens_per_s")),
        "ft_8_vs_ft_1_tokens_per_s": ratio(get("ft", 8, "tokens_per_s"), get("ft", 1, "tokens_per_s")),
        "ft_ttft_p50_s_at_8": get("ft", 8, "ttft_p50_s"),
    }
    # The same ratios with LLaMA-Factory's tokens counted as its content chunks (about words)
    by_chunks = {f"ft_vs_lf_tokens_per_s_at_{n}": ratio(get("ft", n, "tokens_per_s"),
                                                          get("llamafactory", n, "tokens_per_s_by_chunks"))
                 for n in (8, 32)}
    out = {}
    for name, (what, threshold, op) in TARGETS.items():
        value = values[name]
        passed = None if value is None else (value >= threshold if op == ">=" else value < threshold)
        out[name] = {"what": what, "value": value, "target": f"{op} {threshold:g}", "pass": passed}
        if name in by_chunks:
            out[name]["value_lf_tokens_by_chunks"] = by_chunks[name]
    return out


# ---------------------------------------------------------------------------------------------
# main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,8,32", help="comma-separated concurrent client levels")
    parser.add_argument("--requests-per-client", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure LLaMA-Factory 0.9.5 (default: when its venv exists)")
    parser.add_argument("--reps", type=int, default=1, help="repetitions (each starts the servers again)")
    parser.add_argument("--model", default=MODEL_ALIAS, help="ft's model (alias or HF dir)")
    parser.add_argument("--lf-model", default=None,
                        help="LLaMA-Factory's HF model dir (default: the directory --model resolves to)")
    parser.add_argument("--ft-override", action="append", default=[], metavar="KEY=VALUE",
                        help="extra ft api config key, e.g. max_batch_size=16 (repeatable)")
    parser.add_argument("--startup-timeout", type=float, default=600.0)
    parser.add_argument("--request-timeout", type=float, default=3600.0,
                        help="per request; LLaMA-Factory queues requests one at a time")
    args = parser.parse_args(argv)
    try:
        args.levels = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error(f"--clients must be comma-separated integers, got {args.clients!r}")
    if not args.levels or min(args.levels) < 1 or args.requests_per_client < 1 or args.reps < 1:
        parser.error("--clients, --requests-per-client and --reps must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    venv = lf_venv()
    peer_note = None
    use_peer = args.peer
    if not args.peer:
        peer_note = "--no-peer: LLaMA-Factory not measured"
    else:
        why = lf_installed(venv)
        if why:
            use_peer = False
            peer_note = f"LLaMA-Factory not measured: {why}"
    if peer_note:
        log(peer_note + "; measuring ft alone")

    # SIGINT (even where a shell started us with it ignored), SIGTERM and SIGHUP end the run like
    # Ctrl-C, so the finally below stops the servers.
    def interrupt(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)

    workdir = Path(tempfile.mkdtemp(prefix="ft-bench-api-"))
    lf_model = (args.lf_model or hf_model_dir(args.model)) if use_peer else None
    count_tokens = token_counter(lambda: lf_model or hf_model_dir(args.model))
    plan: list[tuple[str, Callable[[], Server]]] = [
        ("ft", lambda: ft_server(workdir, args.model, args.ft_override))]
    if use_peer:
        plan.append(("llamafactory", lambda: lf_server(workdir, venv, lf_model)))

    rows: list[dict[str, Any]] = []
    servers: list[dict[str, Any]] = []
    current: Server | None = None
    interrupted = False
    try:
        for rep in range(args.reps):
            for name, make in plan:
                load_before = load_1m()
                current = make()
                startup = current.start(args.startup_timeout)
                warm_up(current, args.request_timeout)
                servers.append({"server": name, "rep": rep, "load_avg_1m_before_start": load_before,
                                "startup_s": round(startup, 2), "model_id": current.model_id,
                                "command": current.cmd, **current.meta})
                for clients in args.levels:
                    row = {**run_level(current, clients, args.requests_per_client, args.max_tokens,
                                       args.request_timeout, count_tokens), "rep": rep,
                           "load_avg_1m_before_server": load_before}
                    rows.append(row)
                    emit(row)
                current.stop()
                current = None
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted; stopping the server and printing what was measured")
    finally:
        if current is not None:
            current.stop()

    med = medians(rows)
    summary = {
        "benchmark": "api_throughput_cpu", "interrupted": interrupted, "model": args.model,
        "lf_model": lf_model, "template": TEMPLATE, "clients": args.levels,
        "requests_per_client": args.requests_per_client, "max_tokens": args.max_tokens,
        "temperature": TEMPERATURE, "prompt": PROMPT, "reps": args.reps, "peer": use_peer,
        "peer_note": peer_note, "nproc": os.cpu_count(), "load_avg_1m_at_end": load_1m(),
        "servers": servers, "medians": med, "targets": targets(med), "rows": rows, "workdir": str(workdir),
    }
    emit(summary)
    return 130 if interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
