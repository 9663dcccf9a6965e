"""Several training processes (on one machine or many): which engine, which worker, which rows.

`train()` calls `setup_workers()` first. It reads the environment and starts the engine the
backend already has for multi-process data parallelism:

- TensorFlow: `TF_CONFIG` naming more than one worker -> `tf.distribute.MultiWorkerMirroredStrategy`
  (the model is built and compiled inside its scope).
- JAX: `KERAS_DISTRIBUTION_JOB_ADDRESSES` (the coordinator's `host:port` first),
  `KERAS_DISTRIBUTION_NUM_PROCESSES` and `KERAS_DISTRIBUTION_PROCESS_ID` (Keras' own names) ->
  `keras.distribution.initialize()` (`jax.distributed`; on CPU with the gloo collectives)
  and `keras.distribution.DataParallel` over every device of every process.
- Neither: one process, nothing changes.

Every worker computes the same global step: it reads only its rows of the global batch (the
rows `shard_rows` gives it, from the same seeded file order), the noise is drawn for the global
batch from one replicated generator, and the step and skip counters and the discriminator-start
mask are replicated variables. So N workers with global batch B take the step one process takes
with batch B, and a checkpoint written by the chief (worker 0) resumes on any number of workers.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field

import keras

JAX_ENV = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)


@dataclass(frozen=True)
class Workers:
    """Where this process stands among the training processes.

    Args:
        engine: "single", "tf.distribute" or "jax.distributed".
        num_workers: int, number of processes.
        worker_index: int, this process's index (0 is the chief).
        strategy: the `tf.distribute` strategy (TensorFlow), else None.
    """

    engine: str = "single"
    num_workers: int = 1
    worker_index: int = 0
    strategy: object | None = field(default=None, compare=False)

    @property
    def is_chief(self) -> bool:
        """Whether this process writes checkpoints, logs and samples (worker 0)."""
        return self.worker_index == 0

    def scope(self):
        """The context to build and compile the model in (the strategy's scope, or none)."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def shard_rows(self, global_batch: int) -> tuple[int, int]:
        """The rows `[start, stop)` of each global batch that this worker reads.

        Args:
            global_batch: int, the batch size of one training step over all workers.

        Returns:
            `(start, stop)`; worker i reads rows `i * B / N` to `(i + 1) * B / N`.

        Raises:
            ValueError: when `global_batch` is not a multiple of the number of workers.
        """
        if global_batch % self.num_workers:
            raise ValueError(
                f"batch size {global_batch} is not a multiple of the {self.num_workers} workers; "
                "the batch size is the global batch, split evenly between the workers."
            )
        rows = global_batch // self.num_workers
        return self.worker_index * rows, (self.worker_index + 1) * rows

    def distribute(self, make_dataset, global_batch: int):
        """This worker's training data, in the form `fit` takes on this engine.

        Args:
            make_dataset: `make_dataset(start, stop)` -> a dataset whose batches are rows
                `[start, stop)` of the global batches (the same for every worker).
            global_batch: int, the batch size of one step over all workers.

        Returns:
            This worker's dataset; under TensorFlow a `tf.distribute` dataset built from it
            (split between the local replicas, in replica order).
        """
        start, stop = self.shard_rows(global_batch)
        if self.strategy is None:
            if self.engine == "jax.distributed":
                import jax

                local = jax.local_device_count()  # DataParallel shards over every device
                if (stop - start) % local:
                    raise ValueError(
                        f"batch size {global_batch} gives each process {stop - start} rows, "
                        f"not a multiple of its {local} devices; use a batch size divisible "
                        f"by {local * self.num_workers}."
                    )
            return make_dataset(start, stop)
        local_replicas = self.strategy.num_replicas_in_sync // self.num_workers
        if (stop - start) % local_replicas:
            # rebatch would cut replica batches across global batches: a step would mix two.
            raise ValueError(
                f"batch size {global_batch} gives each worker {stop - start} rows, not a "
                f"multiple of its {local_replicas} replicas; use a batch size divisible by "
                f"{self.strategy.num_replicas_in_sync}."
            )

        def per_worker(input_context):
            if input_context.input_pipeline_id != self.worker_index:
                raise RuntimeError(
                    f"TF_CONFIG says worker {self.worker_index}, tf.distribute says input "
                    f"pipeline {input_context.input_pipeline_id}."
                )
            dataset = make_dataset(start, stop)
            if local_replicas == 1:
                return dataset
            # Each local replica takes the next per-replica batch (static shapes kept).
            return dataset.rebatch((stop - start) // local_replicas, drop_remainder=True)

        return self.strategy.distribute_datasets_from_function(per_worker)


_WORKERS: Workers | None = None


@contextlib.contextmanager
def outside_distribution():
    """Runs one process's own work (the chief's file writes) outside a Keras distribution.

    Keras creates helper variables while saving; under a multi-process JAX distribution each
    creation is a collective that every process must join, so a save by the chief alone would
    wait for the others forever. Reading replicated weights needs no collective.
    """
    current = keras.distribution.distribution()
    if current is None:
        yield
        return
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(current)


def _tf_config_workers(tf_config: str) -> int:
    try:
        config = json.loads(tf_config)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}): {tf_config!r}") from error
    cluster = config.get("cluster", {}) if isinstance(config, dict) else None
    if not isinstance(cluster, dict):
        raise ValueError(
            f'TF_CONFIG must be a JSON object with a "cluster" object; got {tf_config!r}.'
        )
    task = config.get("task") or {}
    kind = task.get("type") if isinstance(task, dict) else None
    if kind not in (None, "chief", "worker"):
        # An evaluator (or ps) task is outside MultiWorkerMirroredStrategy's training cluster;
        # run as chief it would write over the workers' checkpoints.
        raise ValueError(
            f"TF_CONFIG task type {kind!r}: training runs on the chief and worker tasks only; "
            "score checkpoints with `keras-waveglow evaluate` in a process without TF_CONFIG."
        )
    return len(cluster.get("chief", [])) + len(cluster.get("worker", []))


def setup_workers(environ=None) -> Workers:
    """Starts the multi-process engine the environment asks for (once per process).

    Must run before the backend computes anything (TensorFlow configures its collectives and
    JAX its distributed runtime at start-up); `train()` calls it first.

    Args:
        environ: mapping to read (default `os.environ`).

    Returns:
        A `Workers`: the engine, the number of processes and this one's index.

    Raises:
        ValueError: a malformed TF_CONFIG, an incomplete set of KERAS_DISTRIBUTION_*
            variables, or variables for the other backend's engine.

    Example:
        >>> workers = setup_workers()  # with no TF_CONFIG / KERAS_DISTRIBUTION_* set
        >>> workers.engine, workers.num_workers, workers.is_chief
        ('single', 1, True)
    """
    global _WORKERS
    environ = os.environ if environ is None else environ
    backend = keras.backend.backend()
    wants_tf = _tf_config_workers(environ["TF_CONFIG"]) > 1 if environ.get("TF_CONFIG") else False
    jax_set = [name for name in JAX_ENV if environ.get(name)]
    if wants_tf and backend != "tensorflow":
        raise ValueError(
            f"TF_CONFIG names several workers but KERAS_BACKEND is {backend!r}; "
            f"on JAX set {', '.join(JAX_ENV)} instead."
        )
    if jax_set and backend != "jax":
        raise ValueError(
            f"{', '.join(jax_set)} set but KERAS_BACKEND is {backend!r}; "
            "on TensorFlow set TF_CONFIG instead."
        )
    if jax_set and len(jax_set) != len(JAX_ENV):
        missing = [name for name in JAX_ENV if name not in jax_set]
        raise ValueError(f"multi-process JAX needs {', '.join(JAX_ENV)}; missing {missing}.")
    if _WORKERS is not None:
        return _WORKERS
    if wants_tf:
        import tensorflow as tf

        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        resolver = strategy.cluster_resolver
        index = resolver.task_id if resolver.task_type in ("worker", None) else 0
        if resolver.task_type == "worker" and "chief" in resolver.cluster_spec().as_dict():
            index += 1
        count = _tf_config_workers(environ["TF_CONFIG"])
        workers = Workers("tf.distribute", count, index, strategy)
    elif jax_set:
        import jax

        # gloo is JAX's CPU collectives implementation; GPUs and TPUs bring their own.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        keras.distribution.initialize()
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=jax.devices(), auto_shard_dataset=False)
        )
        workers = Workers("jax.distributed", jax.process_count(), jax.process_index())
    else:
        workers = Workers()
    _WORKERS = workers
    return workers
