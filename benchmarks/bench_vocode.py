"""`vocode` benchmark: compile time per shape bucket, throughput, and chunking cost, as JSON.

Runs `keras_waveglow.vocode` (the public path: NumPy noise, bucketing, chunked windows, Keras'
compiled predict function) on a random mel of `--seconds` of audio with a randomly initialised
model of `--preset` (speed does not depend on the weights). Reports the first call (compiles)
and the median of `--repeats` warm calls, for whole-utterance and chunked vocoding.

Examples:
    KERAS_BACKEND=tensorflow python benchmarks/bench_vocode.py --preset small --seconds 5
    KERAS_BACKEND=jax python benchmarks/bench_vocode.py --preset tiny --seconds 2 --chunk-frames 64
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--chunk-frames", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sigma", type=float, default=0.6)
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    from keras_waveglow import WaveGlow, vocode

    model = WaveGlow.from_preset(args.preset, seed=0)
    frames = max(1, int(args.seconds * model.sample_rate / model.hop_length))
    mel = np.random.default_rng(0).normal(-5.0, 2.0, (frames, model.n_mel_channels))
    mel = mel.astype("float32")
    audio_seconds = frames * model.hop_length / model.sample_rate

    def timed(**kwargs):
        start = time.perf_counter()
        vocode(mel, model, sigma=args.sigma, seed=0, batch_size=args.batch_size, **kwargs)
        return time.perf_counter() - start

    result = {
        "backend": keras.backend.backend(),
        "machine": platform.processor() or platform.machine(),
        "preset": args.preset,
        "audio_seconds": audio_seconds,
        "frames": frames,
    }
    for name, kwargs in (
        ("whole", {"chunk_frames": 1 << 20}),
        ("chunked", {"chunk_frames": args.chunk_frames}),
    ):
        first = timed(**kwargs)
        warm = statistics.median(timed(**kwargs) for _ in range(args.repeats))
        result[name] = {
            "first_call_s": first,
            "warm_s": warm,
            "samples_per_s": audio_seconds * model.sample_rate / warm,
            "real_time_factor": warm / audio_seconds,
        }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
