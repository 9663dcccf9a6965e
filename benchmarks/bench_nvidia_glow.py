"""Times NVIDIA's own `glow.py` inference on CPU from a checkout you provide: prints JSON.

The side-by-side baseline for the CPU speed claim. NVIDIA's code is not part of this project:
clone https://github.com/NVIDIA/waveglow yourself and pass the folder. Its `infer` draws noise
with `torch.cuda.FloatTensor`, which this script points at CPU tensors; nothing else is changed.
Same measurement rules as `bench.py`: warm-up excluded, median of repeats.

Usage:
    python benchmarks/bench_nvidia_glow.py --glow-dir ../waveglow --preset small --seconds 2 \\
        --threads 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--glow-dir", required=True, help="a checkout of NVIDIA/waveglow")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--sigma", type=float, default=0.6)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    glow_file = Path(args.glow_dir) / "glow.py"
    if not glow_file.is_file():
        parser.error(f"{glow_file} not found: --glow-dir must hold NVIDIA's glow.py")

    import torch

    from keras_waveglow.presets import get_preset

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.cuda.FloatTensor = lambda *size: torch.empty(*size)  # its noise, on the CPU
    sys.path.insert(0, str(glow_file.parent))
    import glow

    config = get_preset(args.preset)
    wn = {
        "n_layers": config["wn_layers"],
        "n_channels": config["wn_channels"],
        "kernel_size": config["wn_kernel_size"],
    }
    torch.manual_seed(0)
    model = glow.WaveGlow(
        config["n_mel_channels"],
        config["n_flows"],
        config["n_group"],
        config["n_early_every"],
        config["n_early_size"],
        wn,
    )
    model = glow.WaveGlow.remove_weightnorm(model).eval()
    frames = round(args.seconds * config["sample_rate"] / config["hop_length"])
    mel = torch.randn(1, config["n_mel_channels"], frames)
    times = []
    with torch.no_grad():
        for _ in range(args.warmup):
            model.infer(mel, sigma=args.sigma)
        for _ in range(args.repeats):
            start = time.perf_counter()
            audio = model.infer(mel, sigma=args.sigma)
            times.append(time.perf_counter() - start)
    median = statistics.median(times)
    seconds = audio.shape[1] / config["sample_rate"]
    result = {
        "backend": "nvidia-glow.py",
        "device": "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "preset": args.preset,
        "samples_per_call": int(audio.shape[1]),
        "median_s": median,
        "times_s": times,
        "samples_per_s": audio.shape[1] / median,
        "real_time_factor": median / seconds,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
