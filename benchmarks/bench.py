"""WaveGlow speed and memory benchmark: prints one JSON object per run.

Inference: audio samples per second (and real-time factor) of `WaveGlow.inverse` for a mel of
`--seconds` of audio, jit-compiled, warm-up excluded, median of `--repeats`, device synchronised
before the clock stops. Training: samples per second of one optimizer step (Adam, NLL) on a
batch of `--batch-size` x `--segment-length`.

Examples:
    python benchmarks/bench.py --backend jax --preset small --mode infer --seconds 2
    python benchmarks/bench.py --backend jax --preset nvidia_22k --mode infer --precision bf16 \
        --seconds 10
    python benchmarks/bench.py --backend jax --preset nvidia_22k --mode train --precision bf16 \
        --batch-size 12 --segment-length 16000
    python benchmarks/bench.py --backend torch-reference --preset small --mode infer --seconds 2
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

PRECISIONS = ("fp32", "tf32", "bf16", "fp16")


def _parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend",
        default=os.environ.get("KERAS_BACKEND", "tensorflow"),
        choices=["tensorflow", "jax", "torch-reference"],
    )
    parser.add_argument("--preset", default="small")
    parser.add_argument("--mode", default="infer", choices=["infer", "train"])
    parser.add_argument(
        "--precision",
        default="fp32",
        help=f"one of {PRECISIONS}, or several joined by commas (one JSON line each)",
    )
    parser.add_argument(
        "--conv-impl",
        default="matmul",
        choices=["conv", "matmul"],
        help="dilated conv implementation (keras_waveglow.layers.set_conv_implementation)",
    )
    parser.add_argument("--remat", action="store_true", help="WaveGlow(remat=True)")
    parser.add_argument("--device", default="auto", help="torch-reference: cpu, cuda or auto")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=2.0, help="inference audio length")
    parser.add_argument("--segment-length", type=int, default=16000, help="training segment")
    parser.add_argument("--sigma", type=float, default=0.6)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: default)")
    args = parser.parse_args(argv)
    args.precisions = args.precision.split(",")
    for precision in args.precisions:
        if precision not in PRECISIONS:
            parser.error(f"--precision {precision!r}: choose from {PRECISIONS}")
    return args


def _peak_host_memory_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _median_seconds(step, sync, repeats, warmup):
    for _ in range(warmup):
        sync(step())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sync(step())
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def _keras_bench(args, precision):
    os.environ["KERAS_BACKEND"] = args.backend
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import keras
    import numpy as np

    from keras_waveglow import WaveGlow
    from keras_waveglow.layers import set_conv_implementation
    from keras_waveglow.presets import get_preset

    set_conv_implementation(args.conv_impl)

    backend = keras.backend.backend()
    device = "cpu"
    if backend == "jax":
        import jax

        device = jax.devices()[0].device_kind
        matmul = "highest" if precision == "fp32" else "tensorfloat32"
        jax.config.update("jax_default_matmul_precision", matmul)
    else:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        device = gpus[0].name if gpus else "cpu"
        tf.config.experimental.enable_tensor_float_32_execution(precision == "tf32")
        if args.threads:
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    policy = {"bf16": "mixed_bfloat16", "fp16": "mixed_float16"}.get(precision, "float32")
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    config = get_preset(args.preset)
    model = WaveGlow(**config, remat=args.remat, seed=0)
    hop = model.hop_length
    rng = np.random.default_rng(0)

    if args.mode == "infer":
        frames = round(args.seconds * model.sample_rate / hop)
        mel = rng.standard_normal((args.batch_size, frames, model.n_mel_channels)).astype("f4")
        n_samples = args.batch_size * frames * hop
        step, sync = _compiled_inverse(model, mel, args.sigma, backend)
    else:
        length = args.segment_length - args.segment_length % model.n_group
        frames = 1 + length // hop
        mel = rng.standard_normal((args.batch_size, frames, model.n_mel_channels)).astype("f4")
        audio = rng.uniform(-0.5, 0.5, (args.batch_size, length)).astype("f4")
        model.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=True)
        n_samples = args.batch_size * length

        def step():
            return model.train_on_batch(mel, audio)

        def sync(out):
            return float(out)

    median, times = _median_seconds(step, sync, args.repeats, args.warmup)
    result = {
        "backend": backend,
        "device": device,
        "preset": args.preset,
        "mode": args.mode,
        "precision": precision,
        "conv_impl": args.conv_impl,
        "remat": args.remat,
        "batch_size": args.batch_size,
        "samples_per_call": n_samples,
        "median_s": median,
        "times_s": times,
        "samples_per_s": n_samples / median,
        "peak_memory_bytes": _peak_device_memory(backend),  # process peak so far
        "peak_host_memory_bytes": _peak_host_memory_bytes(),
        "keras": keras.__version__,
        "backend_version": _backend_version(backend),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
    }
    if args.mode == "infer":
        audio_seconds = n_samples / args.batch_size / model.sample_rate
        result["real_time_factor"] = median / audio_seconds  # < 1 is faster than real time
        result["audio_seconds"] = audio_seconds
    return result


def _compiled_inverse(model, mel, sigma, backend):
    """A jit-compiled `inverse(mel)` and a function that waits for its result."""
    import keras

    if backend == "jax":
        import jax

        variables = [v.value for v in model.variables]

        @jax.jit
        def run(state, mel, key):
            mapping = list(zip(model.variables, state, strict=True))
            with keras.StatelessScope(state_mapping=mapping):
                return model.inverse(mel, sigma=sigma, seed=key)

        keys = iter(range(10**6))

        def step():
            return run(variables, mel, jax.random.key(next(keys)))

        return step, lambda out: out.block_until_ready()
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def run(mel):
        return model.inverse(mel, sigma=sigma)  # the model's SeedGenerator advances per call

    def step():
        return run(mel)

    return step, lambda out: out.numpy()


def _backend_version(backend: str) -> str:
    """The installed version of the backend's own package (jax, tensorflow or torch)."""
    from importlib.metadata import version

    return version({"jax": "jax", "tensorflow": "tensorflow", "torch": "torch"}[backend])


def _peak_device_memory(backend):
    try:
        if backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            return stats.get("peak_bytes_in_use")
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            return tf.config.experimental.get_memory_info("GPU:0")["peak"]
    except Exception:  # memory stats are best effort: not every device reports them
        return None
    return None


def _torch_reference_bench(args, precision):
    """Our own PyTorch implementation of the published architecture (tests/torch_waveglow.py).

    Inference runs the model in the precision's dtype (fp16 and bf16: `model.half()` /
    `model.bfloat16()`, as NVIDIA's inference script does with `--is_fp16`); tf32 enables
    TF32 matmuls and convolutions. Training (NLL, Adam) keeps float32 weights and uses
    `torch.autocast` for bf16 / fp16 (fp16 with a GradScaler).
    """
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import torch

    from keras_waveglow.presets import get_preset
    from tests.torch_waveglow import WaveGlow as TorchWaveGlow

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.benchmark = True
    config = get_preset(args.preset)
    torch.manual_seed(0)
    params = inspect.signature(TorchWaveGlow).parameters
    shape = {k: v for k, v in config.items() if k in params and k != "weight_norm"}
    model = TorchWaveGlow(**shape, weight_norm=False).to(device)
    hop = config["hop_length"]
    half = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def sync(out):
        if device == "cuda":
            torch.cuda.synchronize()
        return out

    if args.mode == "infer":
        model.eval()
        dtype = half or torch.float32
        model.to(dtype)
        frames = round(args.seconds * config["sample_rate"] / hop)
        mel = torch.randn(args.batch_size, config["n_mel_channels"], frames, device=device)
        mel = mel.to(dtype)
        n_samples = args.batch_size * frames * hop

        def step():
            with torch.inference_mode():
                return model.infer(mel, sigma=args.sigma)

    else:
        length = args.segment_length - args.segment_length % config["n_group"]
        frames = 1 + length // hop
        mel = torch.randn(args.batch_size, config["n_mel_channels"], frames, device=device)
        audio = torch.rand(args.batch_size, length, device=device) - 0.5
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        scaler = torch.amp.GradScaler(enabled=precision == "fp16")
        n_samples = args.batch_size * length

        def step():
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device, dtype=half or torch.float32, enabled=half is not None):
                z, log_det = model(mel, audio)
                nll = (z.float().pow(2).sum() / 2 - log_det.sum()) / z.numel()
            scaler.scale(nll).backward()
            scaler.step(optimizer)
            scaler.update()
            return nll

    median, times = _median_seconds(step, sync, args.repeats, args.warmup)
    result = {
        "backend": "torch-reference",
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "preset": args.preset,
        "mode": args.mode,
        "precision": precision,
        "batch_size": args.batch_size,
        "samples_per_call": n_samples,
        "median_s": median,
        "times_s": times,
        "samples_per_s": n_samples / median,
        "peak_memory_bytes": torch.cuda.max_memory_allocated() if device == "cuda" else None,
        "peak_host_memory_bytes": _peak_host_memory_bytes(),
    }
    if args.mode == "infer":
        audio_seconds = frames * hop / config["sample_rate"]
        result["real_time_factor"] = median / audio_seconds
        result["audio_seconds"] = audio_seconds
    return result


def main(argv=None) -> int:
    args = _parse(argv)
    bench = _torch_reference_bench if args.backend == "torch-reference" else _keras_bench
    for precision in args.precisions:
        print(json.dumps(bench(args, precision)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
