"""Multi-worker training: the environment picks the engine; two real processes on 127.0.0.1."""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_waveglow.distributed import JAX_ENV, Workers, setup_workers
from keras_waveglow.training import LAST_WEIGHTS, read_training_state

ROOT = Path(__file__).resolve().parents[1]
BACKEND = keras.backend.backend()


def test_setup_workers_reads_the_environment_and_rejects_bad_settings(monkeypatch):
    assert setup_workers({}) == Workers("single", 1, 0)
    assert Workers("single", 1, 0).is_chief
    with pytest.raises(ValueError, match="not valid JSON"):
        setup_workers({"TF_CONFIG": "{cluster"})
    for valid_json in ("[]", "null", '"x"', '{"cluster": null}'):  # AttributeError before
        with pytest.raises(ValueError, match='TF_CONFIG must be a JSON object with a "cluster"'):
            setup_workers({"TF_CONFIG": valid_json})
    two = '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}'
    for kind in ("evaluator", "ps"):  # outside the training cluster; was run as the chief
        with pytest.raises(ValueError, match=f"task type '{kind}': training runs on the chief"):
            setup_workers({"TF_CONFIG": two.replace('"type": "worker"', f'"type": "{kind}"')})
    jax_env = dict(zip(JAX_ENV, ("127.0.0.1:1234", "2", "1"), strict=True))
    other_backend_env = jax_env if BACKEND == "tensorflow" else {"TF_CONFIG": two}
    with pytest.raises(ValueError, match="KERAS_BACKEND is"):
        setup_workers(other_backend_env)
    if BACKEND == "jax":
        with pytest.raises(ValueError, match="missing"):
            setup_workers({JAX_ENV[0]: "127.0.0.1:1234"})
    workers = Workers("jax.distributed", 2, 1)
    assert not workers.is_chief
    assert workers.shard_rows(6) == (3, 6)
    with pytest.raises(ValueError, match="not a multiple of the 2 workers"):
        workers.shard_rows(3)
    # Two local replicas cannot split a 3-row batch: tf.data's rebatch would take rows across
    # global batches (a step would mix batch k's last row with batch k + 1's first).
    two_replicas = types.SimpleNamespace(num_replicas_in_sync=2)
    with pytest.raises(ValueError, match="3 rows, not a multiple of its 2 replicas"):
        Workers("tf.distribute", 1, 0, two_replicas).distribute(lambda start, stop: None, 3)
    # The JAX engine's data parallelism shards each process's rows over its devices: refused
    # by name as on TensorFlow (it failed inside JAX's sharding, after run_config.json).
    jax = pytest.importorskip("jax")
    monkeypatch.setattr(jax, "local_device_count", lambda: 2)
    with pytest.raises(ValueError, match="3 rows, not a multiple of its 2 devices"):
        Workers("jax.distributed", 2, 0).distribute(lambda start, stop: None, 6)
    assert Workers("jax.distributed", 2, 0).distribute(lambda start, stop: (start, stop), 8) == (
        0,
        4,
    )


# ------------------------------------------------------------------------------------------
# Two worker processes against one process
# ------------------------------------------------------------------------------------------

# The CLI, with a one-period discriminator: JAX's CPU compile of the full MPD + MSD step
# takes minutes; the code path is the same.
_WORKER = """
import functools, sys
import keras_waveglow.discriminators as discriminators
discriminators.WaveDiscriminator = functools.partial(
    discriminators.WaveDiscriminator, periods=(2,), n_scales=0
)
from keras_waveglow.cli import main
sys.exit(main(sys.argv[1:]))
"""
_TRAIN = ["train", "--preset", "tiny", "--data", str(ROOT / "data"), "--split", "all"]
_TRAIN += ["--batch-size", "2", "--segment-length", "2048", "--save-every", "1"]
_TRAIN += ["--gan", "--discriminator-width", "0.03125", "--discriminator-start", "2"]
_TRAIN += ["--sample-every", "0"]
_LOSSES = (
    "loss",
    "nll",
    "mel_mae",
    "discriminator_loss",
    "generator_adversarial",
    "feature_matching",
    "skipped_steps",
)
_TIMEOUT = 900  # seconds for one group of processes (JAX's compile on a busy 2-core machine)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cluster_env(n: int, ports: list[int], index: int) -> dict:
    if n == 1:
        return {}
    if BACKEND == "tensorflow":
        workers = ", ".join(f'"127.0.0.1:{port}"' for port in ports)
        tf_config = f'{{"cluster": {{"worker": [{workers}]}}, '
        tf_config += f'"task": {{"type": "worker", "index": {index}}}}}'
        return {"TF_CONFIG": tf_config}
    return dict(zip(JAX_ENV, (f"127.0.0.1:{ports[0]}", str(n), str(index)), strict=True))


def _run(groups: list[list[list[str]]], log_dir: Path) -> None:
    """Starts every process of every group at once; each group is one training run.

    A group of n argument lists is n workers of one cluster (free ports on 127.0.0.1).
    Waits at most `_TIMEOUT` seconds; kills everything still running on any failure.
    """
    base = {k: v for k, v in os.environ.items() if k not in (*JAX_ENV, "TF_CONFIG", "XLA_FLAGS")}
    base.update(CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    processes = []
    try:
        for g, group in enumerate(groups):
            ports = [_free_port() for _ in group]
            for index, args in enumerate(group):
                log = open(log_dir / f"group{g}_worker{index}.log", "w")
                env = {**base, **_cluster_env(len(group), ports, index)}
                command = [sys.executable, "-c", _WORKER, *args]
                process = subprocess.Popen(
                    command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
                )
                processes.append((process, log))
        deadline = time.monotonic() + _TIMEOUT
        for process, _ in processes:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for process, log in processes:
            if process.poll() is None:
                process.kill()  # SIGKILL: JAX's distributed runtime catches SIGTERM
                process.wait()
            log.close()
    failed = [
        (log.name, Path(log.name).read_text()[-3000:])
        for process, log in processes
        if process.returncode != 0
    ]
    assert not failed, failed


def _log_rows(out: Path) -> list[dict]:
    with open(out / "log.csv", newline="") as f:
        return [{k: float(row[k]) for k in _LOSSES} for row in csv.DictReader(f)]


def _assert_same_steps(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want), (got, want)
    for step, (g, w) in enumerate(zip(got, want, strict=True), start=1):
        for name in _LOSSES:
            # The same float32 step; two processes sum the gradient halves in another order.
            # Measured: <= 3.2e-7 relative over 4 steps; the nll (~1e-3) gets 1e-6 absolute.
            np.testing.assert_allclose(
                g[name], w[name], rtol=1e-5, atol=1e-6, err_msg=f"step {step} {name}"
            )


@pytest.mark.slow
def test_two_worker_processes_train_like_one_and_resume(tmp_path):
    """GAN on, discriminator from step 3: 2 workers x 1 row == 1 process x 2 rows, step by step.

    Reference: one process, 4 steps. Two workers run steps 1-2 (each with its own --out, as on
    two machines: only the chief's folder may appear), then steps 3-4 are resumed from the
    chief's checkpoint on two workers sharing the folder, and on one process from a copy.
    """
    reference, chief, other, copy = (tmp_path / n for n in ("reference", "chief", "other", "one"))
    _run(
        [
            [[*_TRAIN, "--steps", "4", "--out", str(reference)]],
            [
                [*_TRAIN, "--steps", "2", "--out", str(chief)],
                [*_TRAIN, "--steps", "2", "--out", str(other)],
            ],
        ],
        tmp_path,
    )
    want = _log_rows(reference)
    _assert_same_steps(_log_rows(chief), want[:2])
    assert not other.exists()  # the second worker wrote nothing
    assert sorted(p.name for p in chief.glob("*.weights.h5")) == [
        "best.weights.h5",
        LAST_WEIGHTS,
    ]
    assert not list(chief.glob(".*.tmp-*"))
    assert read_training_state(chief)["step"] == 2

    shutil.copytree(chief, copy)
    resume = [*_TRAIN, "--steps", "4", "--resume"]
    _run(
        [
            [[*resume, "--out", str(chief)], [*resume, "--out", str(chief)]],  # 2 -> 2 workers
            [[*resume, "--out", str(copy)]],  # 2 workers -> 1 process
        ],
        tmp_path,
    )
    _assert_same_steps(_log_rows(chief), want)
    _assert_same_steps(_log_rows(copy), want)
    assert read_training_state(chief)["step"] == 4
