"""Compute cost of a `WaveGlow` configuration: multiply-accumulates per second of audio.

Counts what SqueezeWave's complexity notebook counts (Zhai et al., 2020): the convolutions and
matmuls of every flow step (WN start, conditioning, dilated, residual/skip and end convs, and
the invertible 1x1 convs). Biases, gates, the affine coupling itself and ActNorm cost a few
operations per value and are left out, as in the paper (< 1% here). WaveGlow's learned mel
upsampler is left out of the paper's count, so it is reported apart (`upsampler`), with the
interpolation of a "linear" frame-rate conditioning.

The cost is the same in both directions (vocoding runs the same convolutions as training's
forward pass) and does not depend on weight norm, which folds into the kernels.
"""

from __future__ import annotations

import inspect

from keras_waveglow.presets import get_preset


def _config_of(model_or_config) -> dict:
    from keras_waveglow.flow import WaveGlow

    given = model_or_config
    if isinstance(model_or_config, str):
        model_or_config = get_preset(model_or_config)
    elif isinstance(model_or_config, WaveGlow):
        model_or_config = model_or_config.get_config()
    elif not isinstance(model_or_config, dict):
        raise TypeError(
            "flow_macs takes a WaveGlow, a dict of its arguments or a preset name; got "
            f"{type(model_or_config).__name__}."
        )
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(WaveGlow.__init__).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    unknown = set(model_or_config) - set(defaults) - {"name", "trainable", "dtype"}
    if unknown:
        raise ValueError(f"flow_macs: unknown WaveGlow arguments {sorted(unknown)}.")
    if isinstance(given, dict):
        # A config WaveGlow refuses got a count (a negative rate, an unknown upsampling, a
        # flow left without channels): checked by building it without allocating weights.
        from keras_waveglow.hub import count_parameters

        count_parameters(model_or_config)
    return {**defaults, **model_or_config}


def flow_macs(model_or_config) -> dict:
    """Multiply-accumulates (MACs) per second of audio, by part, for any `WaveGlow` config.

    Args:
        model_or_config: a `WaveGlow`, a dict of its constructor arguments (missing ones take
            the defaults), or a preset name.

    Returns:
        A dict of floats, MACs per second of audio at the config's `sample_rate`:
        "in_layers", "cond_layers", "res_skip_layers", "invertible_convs", "start_convs",
        "end_convs"; "flow" (their sum: the paper's count); "upsampler" (apart);
        "total" (flow + upsampler); "macs_per_sample" (total / sample_rate); "flops"
        (2 x total, one multiply and one add per MAC); and "sample_rate".

    Example:
        >>> round(flow_macs("squeezewave_128s")["flow"] / 1e9, 2)
        1.04
    """
    config = _config_of(model_or_config)
    sample_rate = float(config["sample_rate"])
    n_group, hop = config["n_group"], config["hop_length"]
    n_mel, n_layers = config["n_mel_channels"], config["wn_layers"]
    channels, kernel = config["wn_channels"], config["wn_kernel_size"]
    steps = sample_rate / n_group  # grouped time steps per second
    frames = sample_rate / hop

    remaining, flow_channels = n_group, []
    for k in range(config["n_flows"]):
        if k > 0 and k % config["n_early_every"] == 0:
            remaining -= config["n_early_size"]
        flow_channels.append(remaining)

    n_flows = len(flow_channels)
    gated = 2 * channels  # the dilated conv's output: tanh and sigmoid halves
    if config["wn_separable"]:
        in_layer = kernel * channels + channels * gated
    else:
        in_layer = kernel * channels * gated
    if config["wn_skip_connections"]:
        res_skip = (n_layers - 1) * channels * gated + channels * channels
    else:
        res_skip = n_layers * channels * channels
    if config["mel_upsampling"] == "learned":
        cond = steps * n_group * n_mel * gated * n_layers
        upsampler = frames * n_mel * 4 * hop * n_mel  # transposed conv, kernel 4 * hop
    else:
        cond = frames * n_mel * gated * n_layers
        # linear interpolation: 2 MACs per upsampled conditioning value (nearest: a copy)
        linear = config["mel_upsampling"] == "linear" and hop > n_group
        upsampler = n_flows * steps * gated * n_layers * 2 if linear else 0.0

    parts = {
        "in_layers": n_flows * steps * n_layers * in_layer,
        "cond_layers": n_flows * cond,
        "res_skip_layers": n_flows * steps * res_skip,
        "invertible_convs": steps * sum(n * n for n in flow_channels),
        "start_convs": steps * sum(n // 2 * channels for n in flow_channels),
        "end_convs": steps * sum(channels * 2 * (n // 2) for n in flow_channels),
    }
    flow = sum(parts.values())
    total = flow + upsampler
    return {
        **parts,
        "flow": flow,
        "upsampler": upsampler,
        "total": total,
        "macs_per_sample": total / sample_rate,
        "flops": 2 * total,
        "sample_rate": sample_rate,
    }
