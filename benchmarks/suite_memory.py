"""Resident memory of a test run, test by test: why `make test` splits each backend's suite.

Runs pytest in a child process (the arguments after `--` are pytest's) with a plugin that reads
the process's VmRSS after each test, and prints one JSON line per test (`test`, `rss_mb`) and a
last line with the peak, the final figure and the test count. A process keeps much of what it
traced (TensorFlow above all), so memory mostly grows; CI runs the TensorFlow and JAX suites
side by side on 24 GiB.

Usage:
    KERAS_BACKEND=tensorflow python benchmarks/suite_memory.py -- -m "not slow" \
        tests/test_training.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PLUGIN = """
import json, os

def _rss_mb():
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024

def pytest_runtest_logfinish(nodeid, location):
    with open(os.environ["RSS_TRACE"], "a") as trace:
        trace.write(json.dumps({"test": nodeid, "rss_mb": _rss_mb()}) + "\\n")
"""


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    pytest_args = argv[argv.index("--") + 1 :] if "--" in argv else argv
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "rss_trace_plugin.py").write_text(PLUGIN)
        trace = Path(folder, "trace.jsonl")
        env = {**os.environ, "RSS_TRACE": str(trace)}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [folder, env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "pytest", "-q", "-p", "rss_trace_plugin", *pytest_args]
        code = subprocess.run(command, env=env, stdout=subprocess.DEVNULL).returncode
        rows = (
            [json.loads(line) for line in trace.read_text().splitlines()] if trace.exists() else []
        )
    for row in rows:
        print(json.dumps(row))
    summary = {
        "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "pytest_args": pytest_args,
        "pytest_exit_code": code,
        "tests": len(rows),
        "peak_rss_mb": max((r["rss_mb"] for r in rows), default=None),
        "final_rss_mb": rows[-1]["rss_mb"] if rows else None,
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
