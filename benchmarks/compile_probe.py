"""JAX compile-cost probe of one `WaveGlowGAN` training step: prints JSON lines.

Traces `train_step` (no discriminator) with `jax.make_jaxpr` and `jax.jit(...).lower`, and
reports the jaxpr's top-level equation count, the StableHLO text length and, with `--compile`,
XLA's compile time (and with `--run` two executions). Run with
`TF_CPP_MIN_LOG_LEVEL=0 TF_CPP_VMODULE=hlo_pass_pipeline=1` to get XLA's time per HLO pass.

Diagnostic switches (`--patch`, comma-separated; they change the library only in this process):
`dwconv` computes `SeparableConv1D`'s depthwise taps with `keras.ops.depthwise_conv`; `inv`
gives the 1x1 convs' inverse matrix a closed-form VJP; `nomel` replaces the log-mel MAE by a
waveform MAE.

Usage:
    KERAS_BACKEND=jax python benchmarks/compile_probe.py --preset squeezewave_128l \\
        --batch-size 1 --segment-length 8192 --overrides '{"n_flows": 4}' --compile
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import keras
import numpy as np
from keras import ops


def _apply_patches(patches: set[str]) -> None:
    from keras_waveglow import layers, training

    if "dwconv" in patches:

        def depthwise(x, kernel, dilation):
            kernel = kernel[:, :, None]
            return ops.depthwise_conv(x, kernel, 1, padding="same", dilation_rate=dilation)

        layers._depthwise_taps = depthwise
    if "inv" in patches:
        import jax.numpy as jnp

        @jax.custom_vjp
        def inv(w):
            return jnp.linalg.inv(w)

        def inv_fwd(w):
            result = jnp.linalg.inv(w)
            return result, result

        def inv_bwd(result, g):
            return (-(result.T @ g @ result.T),)

        inv.defvjp(inv_fwd, inv_bwd)
        layers.Invertible1x1Conv.inverse_matrix = lambda self: inv(self.matrix())
    if "nomel" in patches:
        training.mel_mae_loss = lambda real, fake, config: ops.mean(ops.abs(real - fake))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="squeezewave_tiny")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--segment-length", type=int, default=8192)
    parser.add_argument("--mae-weight", type=float, default=4.0)  # WaveGlowGAN's default
    parser.add_argument("--overrides", default="{}", help="JSON WaveGlow arguments")
    parser.add_argument("--patch", default="", help="dwconv, inv, nomel (comma-separated)")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--run", action="store_true", help="with --compile: run twice")
    args = parser.parse_args(argv)
    _apply_patches({p for p in args.patch.split(",") if p})

    from keras_waveglow.flow import WaveGlow
    from keras_waveglow.training import WaveGlowGAN

    overrides = json.loads(args.overrides)
    keras.utils.set_random_seed(0)
    waveglow = WaveGlow.from_preset(args.preset, load_weights=False, seed=0, **overrides)
    model = WaveGlowGAN(waveglow, None, mae_weight=args.mae_weight)
    model.compile(keras.optimizers.Adam(1e-4, global_clipnorm=1.0))
    frames = 1 + args.segment_length // waveglow.hop_length
    rng = np.random.default_rng(0)
    mel = rng.standard_normal((args.batch_size, frames, waveglow.n_mel_channels)).astype("f")
    audio = (0.3 * rng.uniform(-1, 1, (args.batch_size, args.segment_length))).astype("f")
    state = tuple(
        [v.value for v in variables]
        for variables in (
            model.trainable_variables,
            model.non_trainable_variables,
            model.optimizer.variables,
            model.metrics_variables,
        )
    )

    def step(state, data):
        return model.train_step(state, data)

    start = time.perf_counter()
    jaxpr = jax.make_jaxpr(step)(state, (mel, audio))
    traced = time.perf_counter()
    lowered = jax.jit(step).lower(state, (mel, audio))
    text = lowered.as_text()
    result = {
        "preset": args.preset,
        "overrides": overrides,
        "patch": args.patch,
        "batch_size": args.batch_size,
        "segment_length": args.segment_length,
        "mae_weight": args.mae_weight,
        "jaxpr_top_eqns": len(jaxpr.jaxpr.eqns),
        "stablehlo_chars": len(text),
        "trace_s": round(traced - start, 2),
        "lower_s": round(time.perf_counter() - traced, 2),
    }
    print(json.dumps(result), flush=True)
    if args.compile:
        start = time.perf_counter()
        compiled = lowered.compile()
        result["compile_s"] = round(time.perf_counter() - start, 2)
        if args.run:
            for name in ("run1_s", "run2_s"):
                start = time.perf_counter()
                jax.block_until_ready(compiled(state, (mel, audio)))
                result[name] = round(time.perf_counter() - start, 2)
        print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
