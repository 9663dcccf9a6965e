"""Training: flow likelihood + log-mel MAE + adversarial terms in one `model.fit` step.

`WaveGlowGAN` wraps a `WaveGlow` (the generator) and, optionally, a `WaveDiscriminator`.
Each training step

1. runs the flow forward on the real audio and takes WaveGlow's negative log-likelihood;
2. samples audio through the flow's inverse at `train_sigma` (z drawn with the flow's own
   `SeedGenerator`, so the step is reproducible and the inverse is differentiated through);
3. adds the L1 distance between the log-mels of sampled and real audio (the project's one mel
   definition), and, once the discriminator has started and its warm-up
   (`discriminator_warmup_steps`) is over, HiFi-GAN's least-squares adversarial and
   feature-matching terms;
4. updates the discriminator with its own optimizer on real vs. (detached) sampled audio.

Both optimizers live in one `keras.optimizers.MultiOptimizer` (routed by variable path), so
Keras' JAX trainer carries and checkpoints both states. The update itself is one pure function
of (weights, optimizer state, gradients) on every backend: a non-finite loss or gradient keeps
every weight and optimizer slot as it was (the step is skipped and counted), and before
`discriminator_start_step` the discriminator and its optimizer slots are held with a tensor
condition on the step counter (never a Python `if` frozen at trace time).

Only the gradient computation differs per backend: `tf.GradientTape` under TensorFlow,
`jax.value_and_grad` over a `keras.StatelessScope` under JAX.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import inspect
import json
import logging
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import keras
from keras import ops, saving

from keras_waveglow import _checks
from keras_waveglow._paths import is_pipe, is_training_checkpoint, keeps_pipe_lists
from keras_waveglow.audio import durable_replace
from keras_waveglow.discriminators import NORMALIZATIONS, PADDINGS
from keras_waveglow.distributed import outside_distribution
from keras_waveglow.flow import (
    WaveGlow,
    _keeping_weights,
    _restoring_jax_state,
    open_weights_file,
)
from keras_waveglow.losses import (
    OLD_STFT_FLOOR_DEFINITION,
    STFT_FLOOR_DEFINITION,
    check_group_mean_window,
    discriminator_loss,
    even_power_fraction,
    feature_matching_loss,
    generator_adversarial_loss,
    mel_mae_loss,
    multi_resolution_stft_loss,
    remove_group_mean,
    waveform_mae_loss,
    waveglow_nll,
)

_PACKAGE = "keras_waveglow"
logger = logging.getLogger(__name__)
_LOG_NAMES = (
    "loss",
    "nll",
    "mel_mae",
    "wave_mae",
    "mr_stft",
    "even_power",
    "generator_adversarial",
    "feature_matching",
    "discriminator_loss",
)


def _is_finite(x):
    return ops.all(ops.isfinite(ops.cast(x, "float32")))


def _all_finite(tensors):
    finite = ops.convert_to_tensor(True)
    for tensor in tensors:
        finite = ops.logical_and(finite, _is_finite(tensor))
    return finite


def _usable_gradients(grads):
    """Whether the optimizer can apply `grads`: every value finite and their float32 sum of
    squares too. Finite gradients whose global norm overflows (above about 1.8e19) turn into
    NaN under global-norm clipping (Keras scales them by `inf - inf`) and into infinite second
    moments in Adam without it; such a step is skipped like a non-finite one."""
    squares = ops.convert_to_tensor(0.0, "float32")
    for grad in grads:
        squares = squares + ops.sum(ops.square(ops.cast(grad, "float32")))
    return ops.logical_and(_all_finite(grads), ops.isfinite(squares))


@saving.register_keras_serializable(package=_PACKAGE)
class _MeanOfFiniteSteps(keras.metrics.Mean):
    """A loss's running mean over the steps that were not skipped; NaN when every step so
    far was skipped (a plain `Mean` then reads 0.0, which logs as a perfect loss)."""

    def result(self):
        count = ops.cast(self.count, self.dtype)
        mean = ops.divide_no_nan(self.total, count)
        return ops.where(count > 0, mean, ops.cast(float("nan"), self.dtype))


# The seed of the audio `evaluate` samples (see WaveGlowGAN._evaluate_terms).
_EVALUATION_SEED = 1234


@saving.register_keras_serializable(package=_PACKAGE)
class WaveGlowGAN(keras.Model):
    """WaveGlow trained on likelihood, log-mel MAE and (optionally) adversarial terms.

    Generator objective: `nll_weight * NLL + mae_weight * MAE_mel + waveform_mae_weight *
    MAE_wave + stft_weight * MR_STFT + g_active * (adv_weight * LSGAN_G + fm_weight * FM)`,
    with `g_active` = 1 from step `discriminator_start_step + discriminator_warmup_steps` on.
    Discriminator objective: `active * LSGAN_D`, with `active` = 1 from step
    `discriminator_start_step` on. Both networks update at once from one step's forward
    pass: the generator's adversarial and feature-matching terms use the discriminator of
    before its update (HiFi-GAN's loop updates the discriminator first and scores the
    generator with the updated one).

    Args:
        waveglow: the `WaveGlow` to train.
        discriminator: a `WaveDiscriminator` (or any Keras model mapping (B, T) audio to
            `(logits_list, features_list)`), or None for likelihood (+ MAE) training only.
        nll_weight: float, weight of the flow NLL. Default 1.0.
        mae_weight: float, weight of the log-mel L1 of sampled vs. real audio; 0 skips the
            inverse pass when there is no discriminator. Default 4.0, as `train`'s (measured
            on klettres, README; HiFi-GAN's 45 made the flow's likelihood collapse).
        adv_weight: float, weight of the least-squares generator loss. Default 1.0.
        fm_weight: float, weight of the feature-matching loss. Default 2.0.
        waveform_mae_weight: float, weight of the sample-wise L1. Default 0.0.
        stft_weight: float, weight of the multi-resolution STFT distance of sampled vs. real
            audio (`losses.multi_resolution_stft_loss`: resolves harmonics where the
            80-band log-mel's bands are wider than their spacing). Default 0.0.
        discriminator_start_step: int, training step from which the discriminator trains; the
            flow's adversarial terms count from here plus `discriminator_warmup_steps`.
            Default 0.
        discriminator_warmup_steps: int, steps after `discriminator_start_step` in which the
            discriminator trains alone: the generator's adversarial and feature-matching terms
            count from `discriminator_start_step + discriminator_warmup_steps` on. For
            fine-tuning a trained flow, whose samples a random discriminator would otherwise
            pull anywhere. Default 0.
        train_sigma: float, standard deviation of z when sampling audio for the MAE and
            adversarial terms. Default 0.6 (the usual inference sigma).
        remove_group_mean: bool, compare the sampled and the real audio in the log-mel MAE,
            waveform MAE and MR-STFT terms after removing their `n_group`-periodic means
            (`losses.remove_group_mean`), so these terms do not reward a pattern repeated in
            every group of the flow: the comb at multiples of `sample_rate / n_group` that
            the log-mel MAE otherwise builds (README). The adversarial terms see the audio as
            sampled. From random weights the comb still forms (README): `even_weight` is
            what keeps it away. Default False.
        group_mean_window: None, or an odd number of groups: with `remove_group_mean`, the
            periodic mean is a centred sliding mean over that many groups instead of the
            whole segment's, so a comb whose amplitude follows the mel is removed too
            (`losses.remove_group_mean`). Default None.
        even_weight: float, weight of the even part's share of the sampled audio's power
            (`losses.even_power_fraction`): the inverse pass runs a second time with the
            latent negated, and what both outputs share is penalised, so the terms on sampled
            audio cannot be met by a waveform the mel alone sets (where the comb lives). The
            log-mel MAE and the other terms still see only the first sample. Default 0.0.

    A step whose losses are not finite, or (without loss scaling) whose gradients or their
    float32 global norm are not, changes nothing and is counted in `skipped_steps`. Under a
    `LossScaleOptimizer` (float16), overflowing gradients are the optimizer's to skip (it
    lowers its scale); `skipped_steps` then counts only non-finite losses.

    Call arguments:
        mel: (B, F, n_mel) tensor; `model(mel)` vocodes with the wrapped WaveGlow.

    Example:
        >>> gan = WaveGlowGAN(WaveGlow.from_preset("tiny"), WaveDiscriminator(width=1 / 16))
        >>> gan.compile(optimizer=keras.optimizers.Adam(1e-4),
        ...             discriminator_optimizer=keras.optimizers.Adam(2e-4))
        >>> gan.fit(dataset_of_mel_audio_pairs, epochs=1, steps_per_epoch=100)
    """

    def __init__(
        self,
        waveglow: WaveGlow,
        discriminator: keras.Model | None = None,
        nll_weight: float = 1.0,
        mae_weight: float = 4.0,
        adv_weight: float = 1.0,
        fm_weight: float = 2.0,
        waveform_mae_weight: float = 0.0,
        discriminator_start_step: int = 0,
        train_sigma: float = 0.6,
        stft_weight: float = 0.0,
        remove_group_mean: bool = False,
        group_mean_window: int | None = None,
        even_weight: float = 0.0,
        discriminator_warmup_steps: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(waveglow, WaveGlow):
            raise TypeError(f"waveglow must be a keras_waveglow.WaveGlow; got {type(waveglow)}.")
        # Refused by name: NaN would drop a term unseen, 2.5 steps were truncated to 2, and
        # a train_sigma of 0 or NaN makes every weight non-finite in one step.
        nll_weight, mae_weight, adv_weight, fm_weight, waveform_mae_weight, stft_weight = (
            _checks.finite(name, value)
            for name, value in (
                ("nll_weight", nll_weight),
                ("mae_weight", mae_weight),
                ("adv_weight", adv_weight),
                ("fm_weight", fm_weight),
                ("waveform_mae_weight", waveform_mae_weight),
                ("stft_weight", stft_weight),
            )
        )
        even_weight = _checks.finite("even_weight", even_weight)
        train_sigma = _checks.finite("train_sigma", train_sigma, positive=True)
        discriminator_start_step = _checks.count(
            "discriminator_start_step", discriminator_start_step, 0
        )
        discriminator_warmup_steps = _checks.count(
            "discriminator_warmup_steps", discriminator_warmup_steps, 0
        )
        if discriminator is None:
            # Settings of the adversarial terms do nothing without one (`train` refuses them).
            given = {
                "discriminator_warmup_steps": (discriminator_warmup_steps, 0),
                "discriminator_start_step": (discriminator_start_step, 0),
                "adv_weight": (adv_weight, 1.0),
                "fm_weight": (fm_weight, 2.0),
            }
            for name, (value, default) in given.items():
                if value != default:
                    raise ValueError(
                        f"{name}={value} needs a discriminator (there is none: it would do "
                        "nothing)."
                    )
        elif not isinstance(discriminator, keras.Model):
            raise TypeError(
                "discriminator must be a keras.Model (e.g. WaveDiscriminator) or None; got "
                f"{type(discriminator).__name__} {discriminator!r:.40}."
            )
        elif not discriminator.trainable_variables:
            raise ValueError(
                "the discriminator has no trainable weights (trainable=False, or not built): a "
                "frozen discriminator is not supported."
            )
        adversarial_from = discriminator_start_step + discriminator_warmup_steps
        if adversarial_from >= 2**31:
            # The step counter is an int32: JAX failed inside fit with an OverflowError.
            raise ValueError(
                "discriminator_start_step + discriminator_warmup_steps must be below 2**31 (the "
                f"step counter's range); got {adversarial_from}."
            )
        self.waveglow = waveglow
        self.discriminator = discriminator
        self.nll_weight = nll_weight
        self.mae_weight = mae_weight
        self.adv_weight = adv_weight
        self.fm_weight = fm_weight
        self.waveform_mae_weight = waveform_mae_weight
        self.stft_weight = stft_weight
        self.even_weight = even_weight
        if group_mean_window is not None and not remove_group_mean:
            raise ValueError("group_mean_window needs remove_group_mean=True.")
        self.remove_group_mean = _checks.flag("remove_group_mean", remove_group_mean)
        self.group_mean_window = check_group_mean_window(group_mean_window, "group_mean_window")
        self.discriminator_start_step = discriminator_start_step
        self.discriminator_warmup_steps = discriminator_warmup_steps
        self.train_sigma = train_sigma
        self.log_names = [
            n
            for n in _LOG_NAMES
            if (n != "wave_mae" or self.waveform_mae_weight > 0)
            and (n != "mr_stft" or self.stft_weight > 0)
            and (n != "even_power" or self.even_weight > 0)
            and (
                discriminator is not None
                or n not in ("generator_adversarial", "feature_matching", "discriminator_loss")
            )
        ]
        self.trackers = [_MeanOfFiniteSteps(name=n) for n in self.log_names]
        if discriminator is not None:
            self._check_discriminator_paths()
        self.build()

    def build(self, input_shape=None):
        if self.built:
            return
        counter = {"shape": (), "initializer": "zeros", "dtype": "int32", "trainable": False}
        counter["aggregation"] = "only_first_replica"
        self.step_counter = self.add_weight(name="step_counter", **counter)
        self.skipped_steps = self.add_weight(name="skipped_steps", **counter)
        self.consecutive_skipped = self.add_weight(name="consecutive_skipped", **counter)
        self.built = True

    # ----------------------------------------------------------------------------------------
    # Optimizers
    # ----------------------------------------------------------------------------------------

    def _check_discriminator_paths(self):
        g_paths = [v.path for v in self.waveglow.variables]
        d_paths = [v.path for v in self.discriminator.variables]
        if not d_paths:
            raise ValueError("the discriminator has no weights; build it before wrapping it.")
        prefixes = sorted({p.split("/")[0] for p in d_paths})
        clash = [p for p in g_paths if p.split("/")[0] in prefixes]
        if clash:
            raise ValueError(
                f"generator and discriminator weights share path prefixes {prefixes} "
                f"(e.g. {clash[0]!r}); name the discriminator's sublayers differently."
            )
        self._discriminator_pattern = "^(?:" + "|".join(re.escape(p) for p in prefixes) + ")/.*"

    def compile(self, optimizer="adam", discriminator_optimizer=None, **kwargs):
        """Configures training with one optimizer for the flow and one for the discriminator.

        Args:
            optimizer: optimizer (or name) for the WaveGlow, e.g.
                `keras.optimizers.Adam(1e-4, global_clipnorm=1.0)` for gradient clipping by
                global norm; a ready `keras.optimizers.MultiOptimizer` is used as is.
            discriminator_optimizer: optimizer (or name) for the discriminator. Default:
                `Adam(2e-4, beta_1=0.8, beta_2=0.99)` (HiFi-GAN's).
            **kwargs: passed to `keras.Model.compile` (`jit_compile`, `steps_per_execution`,
                ...). `loss` and `metrics` are not used: the objective is fixed.

        Example:
            >>> gan.compile(keras.optimizers.Adam(1e-4, global_clipnorm=1.0))
        """
        kwargs.pop("loss", None)
        optimizer = keras.optimizers.get(optimizer)
        base = getattr(optimizer, "inner_optimizer", optimizer)
        if self.discriminator is not None and isinstance(base, keras.optimizers.MultiOptimizer):
            # A ready MultiOptimizer (as a saved model's): its map must route the
            # discriminator's weights to an optimizer of their own, or the flow's slots are
            # held at zero as the discriminator's before it starts (Adam from fresh slots).
            if discriminator_optimizer is not None:
                raise ValueError(
                    "a ready MultiOptimizer routes the discriminator's weights itself; "
                    "discriminator_optimizer would not be used: give one or the other."
                )
            routed = base._optimizer_map
            if routed(self.discriminator.trainable_variables[0]) is routed(
                self.waveglow.trainable_variables[0]
            ):
                raise ValueError(
                    "the MultiOptimizer gives the discriminator the generator's optimizer; map "
                    f"its weights ({self._discriminator_pattern!r}) to an optimizer of their own."
                )
        if self.discriminator is not None and not isinstance(base, keras.optimizers.MultiOptimizer):
            if discriminator_optimizer is None:
                discriminator_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.8, beta_2=0.99)
            discriminator_optimizer = keras.optimizers.get(discriminator_optimizer)
            if discriminator_optimizer is base:
                raise ValueError("the discriminator needs its own optimizer instance.")
            routes = keras.optimizers.OptimizerMap(
                default_optimizer=base,
                optimizer_map={self._discriminator_pattern: discriminator_optimizer},
            )
            multi = keras.optimizers.MultiOptimizer(routes, name="gan_optimizer")
            if base is not optimizer:  # keep a user's LossScaleOptimizer around both
                optimizer = keras.optimizers.LossScaleOptimizer(
                    multi,
                    initial_scale=optimizer.initial_scale,
                    dynamic_growth_steps=optimizer.dynamic_growth_steps,
                )
            else:
                optimizer = multi
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.trainable_variables)
        _save_wrapped_state_once(self.optimizer)
        self._index_variables()

    def compile_from_config(self, config):
        # compile() is overridden, so Keras would skip it on load; the saved config holds the
        # ready MultiOptimizer, which compile() takes as is.
        config = saving.deserialize_keras_object(config)
        self.compile(**config)

    @property
    def uses_loss_scaling(self) -> bool:
        """True when the optimizer is a `LossScaleOptimizer` (float16 training)."""
        return isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer)

    # Keras' saving walks `dir()`: these two properties name optimizers that `optimizer`
    # already holds, and were saved a second time under their own names (up to 2.2 GB of a
    # GAN checkpoint). Hidden from the walk; `load_weights` still reads files saved so.
    _OPTIMIZER_ALIASES = ("generator_optimizer", "discriminator_optimizer")

    def __dir__(self):
        return [name for name in super().__dir__() if name not in self._OPTIMIZER_ALIASES]

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Loads `save_weights` output, also files saved before the 2026-12-05 layout.

        Those (`.weights.h5`) held a GAN-less model's optimizer state under
        `generator_optimizer` instead of `optimizer`; it is read from there.

        Args:
            filepath: a `.weights.h5` file (or any file `keras.Model.load_weights` reads).
            skip_mismatch: as in `keras.Model.load_weights`.
            **kwargs: passed to `keras.Model.load_weights`.
        """
        legacy = _legacy_optimizer_state(filepath) if self.optimizer is not None else None
        if legacy is None:
            return super().load_weights(filepath, skip_mismatch=skip_mismatch, **kwargs)
        _ensure_optimizer_built(self)
        with warnings.catch_warnings():
            # The state is not under `optimizer`; Keras warns, loads no slot, and the
            # state is read from its old place right after.
            warnings.filterwarnings(
                "ignore",
                f"Skipping variable loading for optimizer '{re.escape(self.optimizer.name)}'",
            )
            super().load_weights(filepath, skip_mismatch=skip_mismatch, **kwargs)
        variables = self.optimizer.variables
        if len(legacy) != len(variables):
            message = (
                f"Skipping variable loading for optimizer '{self.optimizer.name}', because it "
                f"has {len(variables)} variables whereas the saved optimizer has "
                f"{len(legacy)} variables (read from {filepath}: generator_optimizer)."
            )
            warnings.warn(message, stacklevel=2)  # as Keras does; `train` makes it an error
            return None
        for i, variable in enumerate(variables):
            variable.assign(legacy[str(i)])
        return None

    @property
    def generator_optimizer(self):
        """The optimizer updating the WaveGlow's weights."""
        base = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        if isinstance(base, keras.optimizers.MultiOptimizer):
            return base._optimizer_map(self.waveglow.trainable_variables[0])
        return base

    @property
    def discriminator_optimizer(self):
        """The optimizer updating the discriminator's weights (None without one)."""
        if self.discriminator is None:
            return None
        base = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        return base._optimizer_map(self.discriminator.trainable_variables[0])

    def _index_variables(self):
        position = {id(v): i for i, v in enumerate(self.trainable_variables)}
        self._g_indices = [position[id(v)] for v in self.waveglow.trainable_variables]
        self._d_indices = (
            [position[id(v)] for v in self.discriminator.trainable_variables]
            if self.discriminator is not None
            else []
        )
        d_opt = self.discriminator_optimizer
        d_ids = {id(v) for v in d_opt.variables} if d_opt is not None else set()
        self._d_opt_indices = {i for i, v in enumerate(self.optimizer.variables) if id(v) in d_ids}

    @property
    def metrics(self):
        return list(self.trackers)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras' TensorFlow trainer, under a tf.distribute strategy, pulls a batch and
        # all-reduces it to build the model symbolically, even a built one. Under
        # MultiWorkerMirroredStrategy that reduce fails on a (mel, audio) tuple (Keras 3.15),
        # and the extra iterator starts the data generator an epoch early. This model is
        # built in __init__ and its optimizer in compile(): nothing is left to build.
        if self.optimizer is not None and self.optimizer.built:
            if all(layer.built for layer in self._flatten_layers()):
                return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    # ----------------------------------------------------------------------------------------
    # The objective, shared by every backend
    # ----------------------------------------------------------------------------------------

    def call(self, mel, training=None):
        return self.waveglow(mel, training=False)

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`, with (mel, audio) arrays checked before Keras traces the step.

        NumPy arrays and backend tensors get the WaveGlow's input checks here, eagerly (see
        `WaveGlow.fit`: on JAX, Keras 3.15.1 leaves every variable without a value when an
        error is raised while it traces a step). Datasets are checked in the step.

        Raises:
            ValueError: arrays the WaveGlow refuses (no audio, shapes that do not fit), or
                `sample_weight`/`class_weight` (see `_unpack`).
            TypeError: integer audio.
        """
        self._refuse_weights("fit", x, y, args, kwargs)
        self.waveglow._check_fit_arrays("fit", x, y, args, kwargs)
        args, kwargs = _keeping_weights("fit", (x, y), args, kwargs)
        with _restoring_jax_state(self), _no_empty_average(self):
            return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.evaluate`, with arrays checked first (see `fit` for why).

        Raises:
            ValueError: arrays the WaveGlow refuses, or `sample_weight`.
            TypeError: integer audio.
        """
        self._refuse_weights("evaluate", x, y, args, kwargs)
        self.waveglow._check_fit_arrays("evaluate", x, y, args, kwargs)
        args, kwargs = _keeping_weights("evaluate", (x, y), args, kwargs)
        with _restoring_jax_state(self):
            return super().evaluate(x, y, *args, **kwargs)

    _NO_WEIGHTS = (
        "WaveGlowGAN does not weight examples (its adversarial and feature-matching terms "
        "have no per-example form), so {} would be ignored; drop it, or train the likelihood "
        "alone with WaveGlow.fit, which takes per-example sample_weight."
    )

    def _refuse_weights(self, method: str, x, y, args: tuple, kwargs: dict) -> None:
        """Refuses `sample_weight`/`class_weight` and weighted `validation_data` arrays before
        Keras traces a step (they were dropped silently); a dataset's third element is
        refused when the step is traced (`_unpack`)."""
        from keras_waveglow.flow import _model_arguments

        named = _model_arguments(method, x, y, args, kwargs)
        for name in ("sample_weight", "class_weight"):
            if named.get(name) is not None:
                raise ValueError(self._NO_WEIGHTS.format(name))
        validation = named.get("validation_data")
        if isinstance(validation, list | tuple) and len(validation) == 3:
            if validation[2] is not None:
                raise ValueError(self._NO_WEIGHTS.format("validation_data's third element"))

    def _unpack(self, data):
        mel, audio, weight = keras.utils.unpack_x_y_sample_weight(data)
        if audio is None:
            raise ValueError("WaveGlowGAN trains on (mel, audio) pairs; got no audio.")
        if weight is not None:
            # Raised while Keras traces the step: on JAX the weights are put back
            # (`flow._KeepWeightsOnJax`), where Keras 3.15.1 alone left them empty.
            raise ValueError(self._NO_WEIGHTS.format("the dataset's third element"))
        return mel, audio

    def discriminator_active(self):
        """A boolean tensor: has the step counter reached `discriminator_start_step`?"""
        return ops.greater_equal(self.step_counter.value, self.discriminator_start_step)

    def adversarial_active(self):
        """A boolean tensor: do the generator's adversarial terms count at this step (the
        discriminator has started and its warm-up is over)?"""
        start = self.discriminator_start_step + self.discriminator_warmup_steps
        return ops.greater_equal(self.step_counter.value, start)

    def samples_audio(self) -> bool:
        """Whether a term beside the likelihood needs the inverse pass (audio from z)."""
        return (
            self.mae_weight > 0
            or self.waveform_mae_weight > 0
            or self.stft_weight > 0
            or self.even_weight > 0
        )

    def _sample_like(self, mel, audio, z=None):
        length = audio.shape[1] if audio.shape[1] is not None else ops.shape(audio)[1]
        return self.waveglow.inverse(mel, sigma=self.train_sigma, z=z)[:, :length]

    def _sampled(self, mel, audio, terms, noise=None):
        """Samples audio like `audio` (and, with `even_weight`, its mirror from the negated
        latent), adds the terms on it to `terms`; returns `(fake, weighted sum)`."""
        if self.even_weight <= 0:
            fake = self._sample_like(mel, audio, noise)
            return fake, self._sample_terms(audio, fake, terms)
        if noise is None:  # the draw `inverse` would make, kept so it can be negated
            noise = self._noise_like(mel, self.waveglow.seed_generator)
        fake = self._sample_like(mel, audio, noise)
        mirror = self._sample_like(mel, audio, -noise)
        total = self._sample_terms(audio, fake, terms)
        terms["even_power"] = even_power_fraction(fake, mirror)
        return fake, total + self.even_weight * terms["even_power"]

    def _noise_like(self, mel, seed):
        """z for sampling audio of `mel`'s length at `train_sigma`, drawn with `seed`."""
        waveglow = self.waveglow
        steps = ops.shape(mel)[1] * waveglow.hop_length // waveglow.n_group
        shape = (ops.shape(mel)[0], steps, waveglow.n_group)
        return keras.random.normal(shape, seed=seed) * self.train_sigma

    def _sample_terms(self, audio, fake, terms):
        """Adds the terms on sampled audio (log-mel MAE, and the waveform MAE and MR-STFT
        distance when weighted) to `terms`; returns their weighted sum."""
        if self.remove_group_mean:
            audio = remove_group_mean(audio, self.waveglow.n_group, self.group_mean_window)
            fake = remove_group_mean(fake, self.waveglow.n_group, self.group_mean_window)
        terms["mel_mae"] = mel_mae_loss(audio, fake, self.waveglow.mel_config)
        total = self.mae_weight * terms["mel_mae"]
        if self.waveform_mae_weight > 0:
            terms["wave_mae"] = waveform_mae_loss(audio, fake)
            total = total + self.waveform_mae_weight * terms["wave_mae"]
        if self.stft_weight > 0:
            terms["mr_stft"] = multi_resolution_stft_loss(audio, fake)
            total = total + self.stft_weight * terms["mr_stft"]
        return total

    def _objective(self, mel, audio, frozen_discriminator=None, noise=None):
        """Computes every term; returns `(terms, generator_total, discriminator_total)`.

        `frozen_discriminator(audio)` must run the discriminator with weights that receive no
        gradient (JAX); under TensorFlow the tape tells the two objectives apart instead.
        `noise`: the scaled z for the inverse pass (None: drawn from the flow's generator).
        """
        z, log_det = self.waveglow.forward(audio, mel)
        nll = waveglow_nll(z, log_det, sigma=self.waveglow.train_sigma)
        terms = {"nll": nll}
        generator_total = self.nll_weight * nll
        discriminator_total = ops.zeros((), "float32")
        has_gan = self.discriminator is not None
        if not (has_gan or self.samples_audio()):
            return terms, generator_total, discriminator_total
        fake, sampled = self._sampled(mel, audio, terms, noise)
        generator_total = generator_total + sampled
        if not has_gan:
            return terms, generator_total, discriminator_total
        active = ops.cast(self.discriminator_active(), "float32")
        g_active = ops.cast(self.adversarial_active(), "float32")
        # Training calls: a spectral norm takes a power-iteration step in each (HiFi-GAN's
        # discriminators run in train mode for both losses).
        frozen = frozen_discriminator or functools.partial(self.discriminator, training=True)
        real_logits, real_features = self.discriminator(audio, training=True)
        fake_logits, _ = self.discriminator(ops.stop_gradient(fake), training=True)
        d_loss, _, _ = discriminator_loss(real_logits, fake_logits)
        gen_logits, gen_features = frozen(fake)
        adv, _ = generator_adversarial_loss(gen_logits)
        real_features = keras.tree.map_structure(ops.stop_gradient, real_features)
        fm = feature_matching_loss(real_features, gen_features)
        terms.update(generator_adversarial=adv, feature_matching=fm, discriminator_loss=d_loss)
        generator_total = generator_total + g_active * (self.adv_weight * adv + self.fm_weight * fm)
        discriminator_total = active * d_loss
        return terms, generator_total, discriminator_total

    def _step_masks(self, grads, totals, grads_finite=None):
        """Decides what this step may change; returns `(finite, discriminator_ok, grads)`.

        `finite`: losses (and, without loss scaling, gradients and their global norm) are
        finite, so the step is applied. `discriminator_ok`: also the discriminator has
        started. Gradients of a skipped step are replaced by zeros so the optimizer's
        arithmetic stays finite either way.
        """
        finite = ops.logical_and(_is_finite(totals[0]), _is_finite(totals[1]))
        if not self.uses_loss_scaling:  # a LossScaleOptimizer handles overflowing gradients
            if grads_finite is None:
                grads_finite = _usable_gradients(grads)
            finite = ops.logical_and(finite, grads_finite)
        grads = [ops.where(finite, g, ops.zeros_like(g)) for g in grads]
        d_ok = finite
        if self.discriminator is not None:
            d_ok = ops.logical_and(finite, self.discriminator_active())
        return finite, d_ok, grads

    def _step_decision(self, grads, totals):
        """`(finite, discriminator_ok)` of `_step_masks`, without masking the gradients."""
        finite = ops.logical_and(_is_finite(totals[0]), _is_finite(totals[1]))
        if not self.uses_loss_scaling:
            finite = ops.logical_and(finite, _usable_gradients(grads))
        d_ok = finite
        if self.discriminator is not None:
            d_ok = ops.logical_and(finite, self.discriminator_active())
        return finite, d_ok

    def _held_on_skip(self) -> list[bool]:
        """Which non-trainable variables a skipped step puts back: all but the noise
        generators' states (the noise advances as on a taken step, on both backends). The
        forward pass writes some (ActNorm's data-dependent initialisation): a non-finite
        batch must not leave them NaN, or every later step would be skipped too."""
        return [not v.path.endswith("seed_generator_state") for v in self.non_trainable_variables]

    def _hold(self, new_values, old_values, discriminator_indices, finite, d_ok):
        """Keeps the old value wherever the step must not apply."""
        return [
            ops.where(d_ok if i in discriminator_indices else finite, new, old)
            for i, (new, old) in enumerate(zip(new_values, old_values, strict=True))
        ]

    def _count_and_log(self, terms, generator_total, discriminator_total, finite):
        """Advances the counters and the loss trackers (stateful; wrap in a scope on JAX)."""
        bad = ops.cast(ops.logical_not(finite), "int32")
        self.step_counter.assign(self.step_counter.value + 1)
        self.skipped_steps.assign(self.skipped_steps.value + bad)
        self.consecutive_skipped.assign((self.consecutive_skipped.value + bad) * bad)
        values = {"loss": generator_total, **terms}
        logs = {}
        for tracker in self.trackers:
            if tracker.name not in values:  # e.g. mel_mae in pure likelihood training
                continue
            # A skipped step leaves the running means alone (NaN would poison them).
            weight = ops.cast(finite, "float32")
            tracker.update_state(ops.where(finite, values[tracker.name], 0.0), sample_weight=weight)
            logs[tracker.name] = tracker.result()
        logs["skipped_steps"] = self.skipped_steps.value
        logs["consecutive_skipped"] = self.consecutive_skipped.value
        return logs

    # ----------------------------------------------------------------------------------------
    # train_step / test_step per backend
    # ----------------------------------------------------------------------------------------

    def train_step(self, *args):
        if keras.backend.backend() == "jax":
            return self._jax_train_step(*args)
        if keras.backend.backend() == "tensorflow":
            return self._tf_train_step(*args)
        raise NotImplementedError(
            f"WaveGlowGAN.train_step supports TensorFlow and JAX, not {keras.backend.backend()}."
        )

    def _tf_train_step(self, data):
        import tensorflow as tf

        mel, audio = self._unpack(data)
        g_vars = self.waveglow.trainable_variables
        d_vars = self.discriminator.trainable_variables if self.discriminator is not None else []
        noise = None
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            noise = self._replica_noise(mel, replica)
        held_state = [
            tf.identity(v.value) if hold else None
            for v, hold in zip(self.non_trainable_variables, self._held_on_skip(), strict=True)
        ]
        # A batch the flow refuses at run time (a dimension unknown when traced) must change
        # nothing: every op of the step, the discriminators' spectral-norm updates included
        # (which read no data), waits for the checks.
        audio, mel = self.waveglow._check_audio(audio, mel)
        with tf.control_dependencies([audio, mel]), tf.GradientTape(persistent=True) as tape:
            terms, g_total, d_total = self._objective(mel, audio, noise=noise)
            g_scaled = self.optimizer.scale_loss(g_total)
            d_scaled = self.optimizer.scale_loss(d_total)
        # One gradient call per sub-model (TF 2.21 cannot zero-fill unconnected Keras variables).
        g_grads = tape.gradient(g_scaled, g_vars)
        d_grads = tape.gradient(d_scaled, d_vars) if d_vars else []
        del tape
        grads = [None] * len(self.trainable_variables)
        for i, g in zip(self._g_indices, g_grads, strict=True):
            grads[i] = g
        for i, g in zip(self._d_indices, d_grads, strict=True):
            grads[i] = g
        grads = [
            ops.zeros_like(v) if g is None else tf.convert_to_tensor(g)
            for g, v in zip(grads, self.trainable_variables, strict=True)
        ]
        grads_finite = None
        share = None
        if replica is not None and replica.num_replicas_in_sync > 1:
            # Keras' TF optimizer sums gradients over replicas: scale the local-batch means so
            # the sum is the global-batch mean, and let every replica take the same decision.
            n = replica.num_replicas_in_sync
            grads = [g / n for g in grads]
            if self._optimizer_clips():
                # But it clips before it sums (Keras 3.15), i.e. each replica's share. Sum
                # here, and hand the optimizer the whole mean on replica 0, zeros elsewhere.
                grads = replica.all_reduce("SUM", grads)
                grads_finite = _usable_gradients(grads)
                share = ops.cast(ops.equal(replica.replica_id_in_sync_group, 0), "float32")
            else:
                local_bad = 1.0 - ops.cast(_usable_gradients(grads), "float32")
                grads_finite = replica.all_reduce("SUM", local_bad) < 0.5
            g_total, d_total = replica.all_reduce("MEAN", [g_total, d_total])
            terms = dict(zip(terms, replica.all_reduce("MEAN", list(terms.values())), strict=True))
        finite, d_ok, grads = self._step_masks(grads, (g_total, d_total), grads_finite)
        if share is not None:
            grads = [g * ops.cast(share, g.dtype) for g in grads]
        # TensorFlow has no stateless_apply (tf.distribute): apply, then restore what is held.
        trainable_before = [tf.identity(v.value) for v in self.trainable_variables]
        optimizer_before = [tf.identity(v.value) for v in self.optimizer.variables]
        self.optimizer.apply(grads, self.trainable_variables)
        for variables, before, d_indices in (
            (self.trainable_variables, trainable_before, set(self._d_indices)),
            (self.optimizer.variables, optimizer_before, self._d_opt_indices),
        ):
            after = [v.value for v in variables]
            held = self._hold(after, before, d_indices, finite, d_ok)
            for variable, value in zip(variables, held, strict=True):
                variable.assign(value)
        for variable, before in zip(self.non_trainable_variables, held_state, strict=True):
            if before is not None:
                variable.assign(ops.where(finite, variable.value, before))
        logs = self._count_and_log(terms, g_total, d_total, finite)
        strategy = tf.distribute.get_strategy()
        n = strategy.num_replicas_in_sync
        if n > 1 and n > len(strategy.extended.worker_devices):
            # Several workers: Keras reduces the logs with reduce("MEAN", axis=0), which needs
            # an axis (Keras 3.15); every replica holds the same (all-reduced) values.
            logs = {name: ops.reshape(value, (1,)) for name, value in logs.items()}
        return logs

    def _optimizer_clips(self) -> bool:
        """Whether an optimizer clips gradients (clipnorm, clipvalue or global_clipnorm)."""
        base = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        optimizers = [self.generator_optimizer, self.discriminator_optimizer, base]
        return any(
            getattr(optimizer, name, None)
            for optimizer in optimizers
            for name in ("clipnorm", "clipvalue", "global_clipnorm")
        )

    def _replica_noise(self, mel, replica):
        """This replica's slice of the noise a single device would draw for the global batch.

        Every replica draws the global batch's z from the same generator state and keeps its
        own rows, so a MirroredStrategy step equals the single-device step.
        """
        waveglow = self.waveglow
        n = replica.num_replicas_in_sync
        batch = ops.shape(mel)[0]
        steps = ops.shape(mel)[1] * waveglow.hop_length // waveglow.n_group
        z = keras.random.normal((batch * n, steps, waveglow.n_group), seed=waveglow.seed_generator)
        start = replica.replica_id_in_sync_group * batch
        return ops.slice(z, (start, 0, 0), (batch, steps, waveglow.n_group)) * self.train_sigma

    def _jax_train_step(self, state, data):
        import jax

        trainable_values, non_trainable_values, optimizer_values, metrics_values = state
        mel, audio = self._unpack(data)
        trainable = self.trainable_variables
        non_trainable = self.non_trainable_variables
        optimizer_variables = self.optimizer.variables

        def objective(trainable_values, non_trainable_values):
            mapping = [
                *zip(trainable, trainable_values, strict=True),
                *zip(non_trainable, non_trainable_values, strict=True),
                *zip(optimizer_variables, optimizer_values, strict=True),
            ]
            frozen = None
            if self.discriminator is not None:
                d_values = [jax.lax.stop_gradient(trainable_values[i]) for i in self._d_indices]
                d_state = self.discriminator.non_trainable_variables
                # stateless_call hands its keywords to `call` itself (no `training` context).
                takes_training = "training" in inspect.signature(self.discriminator.call).parameters
                options = {"training": True} if takes_training else {}

                def frozen(audio):
                    # Called inside the scope below: its state (a spectral norm's u and v)
                    # is read from the scope and its update written back, as a plain call's.
                    outputs, new_state = self.discriminator.stateless_call(
                        d_values, [v.value for v in d_state], audio, **options
                    )
                    for variable, value in zip(d_state, new_state, strict=True):
                        variable.assign(value)
                    return outputs

            with keras.StatelessScope(state_mapping=mapping) as scope:
                terms, g_total, d_total = self._objective(mel, audio, frozen)
                scaled = self.optimizer.scale_loss(g_total + d_total)
            new_non_trainable = [scope.get_current_value(v) for v in non_trainable]
            return scaled, (terms, g_total, d_total, new_non_trainable)

        grad_fn = jax.value_and_grad(objective, has_aux=True)
        (_, aux), grads = grad_fn(trainable_values, non_trainable_values)
        terms, g_total, d_total, forward_state = aux
        mapping = [
            *zip(trainable, trainable_values, strict=True),
            *zip(non_trainable, forward_state, strict=True),
        ]
        with keras.StatelessScope(state_mapping=mapping):
            finite, d_ok = self._step_decision(grads, (g_total, d_total))
        # A skipped step also keeps what the forward pass wrote (ActNorm's initialisation).
        non_trainable_values = [
            ops.where(finite, new, old) if hold else new
            for new, old, hold in zip(
                forward_state, non_trainable_values, self._held_on_skip(), strict=True
            )
        ]

        # A skipped step is one `lax.cond` around the whole update, not a `where` per weight,
        # gradient and optimizer slot: those selects all hang on one flag that depends on every
        # gradient, and XLA's CPU fusion pass grew superlinearly with them (squeezewave_128l's
        # step did not compile in 11 minutes; benchmarks/compile_probe.py).
        def apply(operands):
            grads, optimizer_values, trainable_values = operands
            new_trainable, new_optimizer = self.optimizer.stateless_apply(
                optimizer_values, grads, trainable_values
            )
            return list(new_trainable), list(new_optimizer)

        def keep(operands):
            _, optimizer_values, trainable_values = operands
            return list(trainable_values), list(optimizer_values)

        new_trainable, new_optimizer = jax.lax.cond(
            finite, apply, keep, (list(grads), list(optimizer_values), list(trainable_values))
        )
        # The discriminator and its optimizer slots also wait for its start step.
        trainable_values = [
            ops.where(d_ok, new, old) if i in self._d_indices else new
            for i, (new, old) in enumerate(zip(new_trainable, trainable_values, strict=True))
        ]
        optimizer_values = [
            ops.where(d_ok, new, old) if i in self._d_opt_indices else new
            for i, (new, old) in enumerate(zip(new_optimizer, optimizer_values, strict=True))
        ]
        mapping = [
            *zip(non_trainable, non_trainable_values, strict=True),
            *zip(self.metrics_variables, metrics_values, strict=True),
        ]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = self._count_and_log(terms, g_total, d_total, finite)
        non_trainable_values = [scope.get_current_value(v) for v in non_trainable]
        metrics_values = [scope.get_current_value(v) for v in self.metrics_variables]
        return logs, (trainable_values, non_trainable_values, optimizer_values, metrics_values)

    def _evaluate_terms(self, mel, audio):
        """`evaluate`'s (and `fit(validation_data=...)`'s) logs: the likelihood and the terms
        on sampled audio; the adversarial terms are left out (the discriminator is not run).
        The audio is sampled with a fixed seed, not the flow's generator: evaluating leaves
        the training noise where it was (it moved it, so validation changed the run), and
        a batch scores alike at every evaluation, so epochs compare. Audio is sampled where
        training samples it (`_objective`): likelihood alone (no sampled term, no
        discriminator) runs no inverse pass and logs no `mel_mae`, so its `val_loss` is the
        training loss's definition (an inverse pass that overflowed made it NaN)."""
        z, log_det = self.waveglow.forward(audio, mel)
        nll = waveglow_nll(z, log_det, sigma=self.waveglow.train_sigma)
        values = {"nll": nll}
        values["loss"] = self.nll_weight * nll
        if self.discriminator is not None or self.samples_audio():
            noise = self._noise_like(mel, _EVALUATION_SEED)
            _, sampled = self._sampled(mel, audio, values, noise)
            values["loss"] = values["loss"] + sampled
        for tracker in self.trackers:
            if tracker.name in values:
                tracker.update_state(values[tracker.name])
        return {t.name: t.result() for t in self.trackers if t.name in values}

    def test_step(self, *args):
        if keras.backend.backend() != "jax":
            mel, audio = self._unpack(args[0])
            return self._evaluate_terms(mel, audio)
        state, data = args
        trainable_values, non_trainable_values, metrics_values = state
        mel, audio = self._unpack(data)
        mapping = [
            *zip(self.trainable_variables, trainable_values, strict=True),
            *zip(self.non_trainable_variables, non_trainable_values, strict=True),
            *zip(self.metrics_variables, metrics_values, strict=True),
        ]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = self._evaluate_terms(mel, audio)
        non_trainable_values = [scope.get_current_value(v) for v in self.non_trainable_variables]
        metrics_values = [scope.get_current_value(v) for v in self.metrics_variables]
        return logs, (trainable_values, non_trainable_values, metrics_values)

    # ----------------------------------------------------------------------------------------
    # Serialization
    # ----------------------------------------------------------------------------------------

    def _seed_states(self):
        """The state variables of every `SeedGenerator` below this model, in a fixed order."""
        return [
            generator.state
            for layer in self._flatten_layers(include_self=True)
            for generator in layer._seed_generators
        ]

    def save_own_variables(self, store):
        # Keras does not save SeedGenerator states; exact resume needs the noise state too.
        super().save_own_variables(store)
        for i, state in enumerate(self._seed_states()):
            store[f"seed_state_{i}"] = state

    def load_own_variables(self, store):
        keys = list(store.keys())
        own = {k: store[k] for k in keys if not k.startswith("seed_state_")}
        super().load_own_variables(own)
        for i, state in enumerate(self._seed_states()):
            if f"seed_state_{i}" in keys:
                state.assign(store[f"seed_state_{i}"])

    def get_config(self):
        return {
            **super().get_config(),
            "waveglow": saving.serialize_keras_object(self.waveglow),
            "discriminator": (
                None
                if self.discriminator is None
                else saving.serialize_keras_object(self.discriminator)
            ),
            "nll_weight": self.nll_weight,
            "mae_weight": self.mae_weight,
            "adv_weight": self.adv_weight,
            "fm_weight": self.fm_weight,
            "waveform_mae_weight": self.waveform_mae_weight,
            "stft_weight": self.stft_weight,
            "remove_group_mean": self.remove_group_mean,
            "group_mean_window": self.group_mean_window,
            "even_weight": self.even_weight,
            "discriminator_start_step": self.discriminator_start_step,
            "discriminator_warmup_steps": self.discriminator_warmup_steps,
            "train_sigma": self.train_sigma,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["waveglow"] = saving.deserialize_keras_object(config["waveglow"])
        if config.get("discriminator") is not None:
            config["discriminator"] = saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)


# --------------------------------------------------------------------------------------------
# Checkpoints, resume, warm start
# --------------------------------------------------------------------------------------------

LAST_WEIGHTS = "last.weights.h5"
BEST_WEIGHTS = "best.weights.h5"
STATE_FILE = "training_state.json"
RECIPE_FILE = "run_config.json"  # what `train` was asked for; a resume must ask the same
# The multi-scale discriminator's convolutions: HiFi-GAN's groups, or dense (GAN runs
# recorded before `msd_groups` existed).
MSD_GROUPS = ("hifigan", "dense")
# How the discriminators pad: HiFi-GAN's, or Keras' "same" (GAN runs recorded before
# `discriminator_padding` existed).
DISCRIMINATOR_PADDINGS = PADDINGS
# How the discriminators' kernels are parametrised: HiFi-GAN's weight and spectral norm, or
# plain (GAN runs recorded before `discriminator_normalization` existed).
DISCRIMINATOR_NORMALIZATIONS = NORMALIZATIONS
GENERATOR_FILE = "waveglow.keras"
SNAPSHOT_DIR = "snaps"
BEST_GENERATOR_FILE = "waveglow_best.keras"


def _atomic_write(path: Path, write) -> Path:
    """Writes `path` through `write(tmp_path)` then `durable_replace`: never half a file at
    `path`, even after a crash of the machine.

    The temporary file sits beside the target (same file system, so the rename is atomic)
    and keeps the target's suffixes (Keras checks `.weights.h5` / `.keras`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes)
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.tmp-", suffix=suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # Keras refuses to overwrite silently in some paths; let it create the file
    try:
        write(Path(tmp))
        durable_replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _write_json_atomically(path: Path, payload: dict) -> None:
    def write(tmp: Path) -> None:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True), encoding="utf-8")

    _atomic_write(path, write)


def _save_wrapped_state_once(optimizer) -> None:
    """Saves the optimizers inside a `LossScaleOptimizer` or `MultiOptimizer` only once.

    A wrapper's `variables` are its own plus its inner optimizers', and Keras saves them
    all with the wrapper, then each inner optimizer's again beside it (Keras 3.15): a
    checkpoint twice the optimizer's size (three times for a float16 GAN). When the
    wrapper's variables hold every inner variable, the inner optimizers' own save and load
    are no-ops: the wrapper's entry is the whole state, read back by position. Inner
    optimizers whose variables the wrapper does not hold keep Keras' save and load.
    """
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        inner = [optimizer.inner_optimizer]
    elif isinstance(optimizer, keras.optimizers.MultiOptimizer):
        inner = list(optimizer.optimizers)
    else:
        return
    held = {id(v) for v in optimizer.variables}
    for child in inner:
        if all(id(v) in held for v in child.variables):
            child.save_own_variables = _held_by_wrapper
            child.load_own_variables = _held_by_wrapper
        _save_wrapped_state_once(child)


def _held_by_wrapper(store) -> None:
    """An inner optimizer's save/load: its state is in its wrapper's entry."""


def _legacy_optimizer_state(filepath) -> dict | None:
    """A GAN-less run's optimizer state from a checkpoint in the layout before 2026-12-05.

    Returns the arrays (by position, keyed "0", "1", ...) when the file is an h5 file whose
    `optimizer` entry holds no variables and whose `generator_optimizer` entry does; None
    for any other file (including GAN checkpoints of that layout, whose `optimizer` entry
    already held everything).
    """
    import h5py

    path = Path(filepath)
    if not path.name.endswith(".h5") or not path.is_file():
        return None
    try:
        with h5py.File(path, "r") as handle:
            old = handle.get("generator_optimizer/vars")
            new = handle.get("optimizer/vars")
            if old is None or (new is not None and len(new)):
                return None
            return {key: old[key][()] for key in old}
    except OSError:
        return None  # not an h5 file: Keras' own loader says what is wrong with it


def _recorded_data_files(out: Path) -> dict | None:
    """The `data_files` fingerprint a run's run_config.json recorded, or None."""
    try:
        payload = json.loads((Path(out) / RECIPE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    recorded = payload.get("data_files") if isinstance(payload, dict) else None
    return recorded if isinstance(recorded, dict) else None


# The names `_atomic_write`'s temporaries have (".<stem>.tmp-<random><suffix>").
_TEMPORARY_GLOB = ".*.tmp-*"


def _dead_start_leftover(path: Path) -> bool:
    """Whether a file in a run folder is what a start killed before its first checkpoint
    leaves: its recipe, log, TensorBoard folder, or a temporary of a file it was writing."""
    return path.name in (RECIPE_FILE, "log.csv", "tb") or path.match(_TEMPORARY_GLOB)


def _clean_stale_temporaries(directory: Path) -> None:
    """Removes temporaries of a run killed while saving (they never replaced anything), in
    the run folder and its snapshots' folder."""
    for folder in (directory, directory / SNAPSHOT_DIR):
        for stale in folder.glob(_TEMPORARY_GLOB):
            stale.unlink(missing_ok=True)


def _ensure_optimizer_built(model: WaveGlowGAN) -> None:
    if model.optimizer is None:
        raise ValueError("compile() the model before saving or restoring its training state.")
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def _average_is_empty(optimizer) -> bool:
    """Whether the optimizer has applied no step: Keras sets its moving average to the weights
    at the first step applied, so until then it holds zeros (skipped steps apply none)."""
    return int(ops.convert_to_numpy(optimizer.iterations)) == 0


@contextlib.contextmanager
def _no_empty_average(model):
    """Within the block (`fit`), the end-of-fit swap of the generator's moving average into its
    weights is skipped while no step was applied: a run whose every step was skipped (diverged
    from its start, or fp16 overflows) ended with a WaveGlow of zeros. `model`: a
    `WaveGlowGAN` (its generator's optimizer) or a `WaveGlow` (its own, unwrapped)."""
    if model.optimizer is None:
        optimizer = None
    elif isinstance(model, WaveGlowGAN):
        optimizer = model.generator_optimizer
    else:
        optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)
    if not getattr(optimizer, "use_ema", False):
        yield
        return
    finalize = optimizer.finalize_variable_values

    def finalize_unless_empty(var_list):
        if _average_is_empty(optimizer):
            return  # the trained (initial) weights stay
        finalize(var_list)
        # Keras assigns the average's array itself: on JAX the weight and its average then
        # share one buffer, and the next fit failed ("donate the same buffer twice").
        for variable in var_list:
            variable.assign(ops.copy(variable.value))

    optimizer.finalize_variable_values = finalize_unless_empty
    try:
        yield
    finally:
        del optimizer.finalize_variable_values


@contextlib.contextmanager
def generator_average_swapped_in(model: WaveGlowGAN):
    """Within the block, the WaveGlow holds its optimizer's moving average of its weights.

    When the generator's optimizer keeps an exponential moving average (`use_ema=True`), its
    values are assigned to the generator's trainable weights for the block and the trained
    values are put back after it (also on an error), so saving inside the block writes the
    averaged model while training goes on from the trained one. Without a moving average
    the block changes nothing.

    Args:
        model: a compiled `WaveGlowGAN`.

    Yields:
        True when the average is swapped in, False when the optimizer keeps none or has
        applied no step yet (its average then holds zeros, not weights).

    Example:
        >>> with generator_average_swapped_in(gan):
        ...     gan.waveglow.save_weights("average.weights.h5")
    """
    optimizer = model.generator_optimizer
    averages = getattr(optimizer, "_model_variables_moving_average", None)
    if not getattr(optimizer, "use_ema", False) or not averages or _average_is_empty(optimizer):
        yield False
        return
    variables = optimizer._trainable_variables  # the order of the averages
    trained = [ops.copy(v.value) for v in variables]
    try:
        for variable, average in zip(variables, averages, strict=True):
            variable.assign(average.value)
        yield True
    finally:
        for variable, value in zip(variables, trained, strict=True):
            variable.assign(value)


class TrainingCheckpoint(keras.callbacks.Callback):
    """Atomic checkpoints of the full training state: keeps the last and the best.

    Every `save_freq` steps and at the end of training (fit's last epoch, or a stop, also off
    that grid; with `save_freq=0` at every epoch end) it writes, each through a temporary file
    and an atomic rename, `last.weights.h5` (both networks, both optimizers' slots, the step
    and skip counters, the noise generator's state) and `training_state.json` (step, epoch,
    best monitored value). When `monitor` improves, the same weights are copied to
    `best.weights.h5`, and the generator alone is exported to `waveglow_best.keras`;
    `last.weights.h5` is written first and carries its save's ranking (best value, phase and
    step), so a kill between two of the files resumes with the uninterrupted run's ranking
    (`train(resume=True)` writes what a kill after `last` cut off: snapshot, best, state);
    `waveglow.keras` (last) is written at the end of training. A step that was skipped as
    non-finite never replaces the checkpoint (nor the best or the state file), so the last
    checkpoint is always a good one; its `keep_every` snapshot is still kept (the last finite
    step's generator), so the snapshot grid has no hole. With
    `keep_every`, a save at a multiple of it also keeps the generator's weights as
    `snaps/<step>.weights.h5` (with `snaps/<step>.time`, the Unix time): the snapshots that
    `benchmarks/learning_curves.py` scores and `average_generator_weights` averages. When the
    generator's optimizer keeps a moving average of the weights (`use_ema=True`), the
    snapshots and `waveglow_best.keras` hold that average (`generator_average_swapped_in`),
    `waveglow.keras` too (Keras' `fit` swaps the average in at its end), while
    `last.weights.h5`/`best.weights.h5` keep the trained weights and the average in the
    optimizer's slots, so a resumed run continues exactly.

    The "loss" of a GAN changes definition when its adversarial terms start
    (`discriminator_start_step + discriminator_warmup_steps`): they add a term of their own
    size. Ranked by "loss", the best is therefore the best within the current phase: at the
    first save whose logged mean holds only adversarial steps the best starts over, and a
    save whose mean spans the switch is not ranked (before, the best froze at the last step
    before the switch, so `waveglow_best.keras` never held an adversarially trained model).

    Args:
        directory: output folder (created).
        save_freq: int, save every this many training steps; 0 saves at epoch ends only.
            Default 100.
        monitor: str, the log to rank checkpoints by. Default "loss".
        mode: "min" or "max". Default "min".
        keep_every: int, keep the generator's weights of every save at a multiple of this
            many steps in `snaps/`; 0 keeps none. Default 0.

    Example:
        >>> gan.fit(ds, epochs=10, callbacks=[TrainingCheckpoint("runs/x", save_freq=500)])
    """

    def __init__(
        self,
        directory,
        save_freq: int = 100,
        monitor: str = "loss",
        mode: str = "min",
        keep_every: int = 0,
    ):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max'; got {mode!r}.")
        self.keep_every = _checks.count("keep_every", keep_every, 0)
        self.directory = Path(directory)
        self.save_freq = _checks.count("save_freq", save_freq, 0)
        self.monitor = monitor
        self.mode = mode
        self.best = None
        self.best_phase = None  # the loss definition `best` was ranked under (see _phase)
        self.best_step = None
        self.last_saved_step = None
        self._step = None  # the step counter, read at each epoch's start and counted on from there
        self._epoch_start = None  # the step counter when the epoch began: logs average since
        self._epoch = None  # Keras' index of the epoch running (the state's "epoch" of a save)
        state = read_training_state(self.directory)  # (checked even where `last` says more)
        # The ranking `last.weights.h5` carries is the one of its own save (atomic with it);
        # the state file, written after it, may be one save behind (runs before 2026-12-07
        # have only the state file).
        ranking = _checkpoint_ranking(self.directory / LAST_WEIGHTS) or state
        if ranking.get("monitor", monitor) == monitor and ranking.get("mode", mode) == mode:
            self.best = ranking.get("best")  # (ranked by another log: ranked anew)
            self.best_phase = ranking.get("best_phase", "likelihood")  # older: no GAN phase
            self.best_step = ranking.get("best_step")

    def on_train_begin(self, logs=None):
        per_call = int(getattr(self.model, "steps_per_execution", 1) or 1)
        epoch = (self.params or {}).get("steps") or 0  # None: a dataset of unknown length
        for name, value in (("save_freq", self.save_freq), ("keep_every", self.keep_every)):
            if per_call > 1 and (value % per_call or epoch % per_call):
                what = f"TrainingCheckpoint({name}={value})" if value % per_call else None
                what = what or f"an epoch of {epoch} steps"
                raise ValueError(
                    f"{what} with steps_per_execution={per_call}: callbacks see the model "
                    f"once every {per_call} steps (and at each epoch's end), so saves would "
                    "miss the grid; use multiples of steps_per_execution."
                )
        grid = per_call > 1 and (self.save_freq or self.keep_every)
        start = int(ops.convert_to_numpy(self.model.step_counter.value)) if grid else 0
        if start % per_call:
            # Every call then ends off the grid: no save would fall on a multiple of save_freq.
            raise ValueError(
                f"The run starts at step {start} with steps_per_execution={per_call}: "
                f"callbacks see the model every {per_call} steps from there, never at a "
                f"multiple of save_freq={self.save_freq} / keep_every={self.keep_every}. "
                "Resume from a checkpoint at a multiple of steps_per_execution, or take the "
                "first steps with steps_per_execution=1."
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        _clean_stale_temporaries(self.directory)

    def _improved(self, value) -> bool:
        if value is None or not math.isfinite(value):  # NaN: an epoch whose steps all failed
            return False
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def _phase(self, step: int) -> str:
        """The loss definition the logged mean (over the epoch's steps so far) is of:
        "likelihood" (no adversarial term), "adversarial" (every step with them), or "mixed"
        (the switch falls inside it). Only "loss" holds the adversarial terms."""
        model = self.model
        if self.monitor != "loss" or getattr(model, "discriminator", None) is None:
            return "likelihood"
        start = model.discriminator_start_step + model.discriminator_warmup_steps
        if step <= start:  # the steps ran with counter values below `start`
            return "likelihood"
        first = step - 1 if self._epoch_start is None else self._epoch_start
        return "adversarial" if first >= start else "mixed"

    def on_epoch_begin(self, epoch, logs=None):
        # Read once an epoch: Keras' batch index overshoots when a dataset of unknown length
        # ends inside a call of several steps, so the count is set right at each epoch.
        self._step = int(ops.convert_to_numpy(self.model.step_counter.value))
        self._epoch_start = self._step
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the epoch's index of the last step run (several per call with
        # steps_per_execution), so the count stays exact without reading the device.
        self._step = (self._epoch_start or 0) + batch + 1
        if self.save_freq > 0 and self._step % self.save_freq == 0:
            # The epoch the step is in: after a resume off the grid every save comes here,
            # and the state's epoch stayed at the resumed one's (on_epoch_end saves no step
            # twice).
            self.save(logs, epoch=self._epoch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq > 0:
            # Saves follow the step counter; an epoch end adds one only at the end of training
            # off that grid, and never a second save of the same step.
            step = self._step
            if step == self.last_saved_step:
                return
            # The last epoch of fit(epochs=N) (or a stop) ends training: saved off the grid
            # too, here and not in on_train_end, where fit has already swapped a moving
            # average into the weights.
            epochs = (self.params or {}).get("epochs")
            final = self.model.stop_training or (epochs is not None and epoch + 1 >= epochs)
            if step is not None and step % self.save_freq and not final:
                return
        self.save(logs, epoch=epoch)

    def on_train_end(self, logs=None):
        model = self.model
        with outside_distribution():
            _atomic_write(self.directory / GENERATOR_FILE, model.waveglow.save)

    def save(self, logs=None, epoch=None) -> bool:
        """Saves now; returns whether the checkpoint was written (not after a skipped step,
        which writes only its `keep_every` snapshot)."""
        with outside_distribution():  # the chief writes alone (see keras_waveglow.distributed)
            return self._save(logs, epoch)

    def _save(self, logs, epoch) -> bool:
        model = self.model
        logs = logs or {}
        _ensure_optimizer_built(model)
        step = int(ops.convert_to_numpy(model.step_counter.value))
        skipped = int(ops.convert_to_numpy(model.consecutive_skipped.value)) > 0
        # A skipped step leaves the checkpoint as it was: in a run that diverges, the last
        # finite step's weights are the ones that broke, and the save before the streak is
        # the one to resume or restart from.
        improved = False
        if not skipped:
            value = logs.get(self.monitor)
            value = None if value is None else float(value)
            phase = self._phase(step)
            if phase != "mixed" and phase != self.best_phase:
                self.best, self.best_phase = None, phase  # another loss: ranked anew
            improved = phase != "mixed" and self._improved(value)
            if improved:
                self.best, self.best_step = value, step
            # `last` first, carrying this save's ranking: each file below is replaced
            # atomically, and a kill between two of them resumes from `last` with the ranking
            # of its save (`_complete_interrupted_save` writes what the kill cut off).
            ranking = {
                "step": step,
                "best": self.best,
                "best_phase": self.best_phase,
                "best_step": self.best_step,
                "monitor": self.monitor,
                "mode": self.mode,
            }
            _write_checkpoint(self.directory / LAST_WEIGHTS, model, ranking)
        if self.keep_every and step > 0 and step % self.keep_every == 0:
            # The snapshot of a skipped step is kept all the same (the weights of the last
            # finite step: a curve point, not lost), so the grid of snapshots has no hole.
            _save_snapshot(self.directory, model, step)
        if skipped:
            return False
        if improved:
            _save_best(self.directory, model)
        if epoch is None:
            epoch = read_training_state(self.directory).get("epoch")
        _write_state(self.directory, model, ranking, epoch)
        self.last_saved_step = step
        return True


# The attribute of a run's `last.weights.h5` that holds the ranking of its save (JSON: step,
# best, best_phase, best_step, monitor, mode).
_RANKING_ATTRIBUTE = "keras_waveglow_ranking"


def _write_checkpoint(path: Path, model: WaveGlowGAN, ranking: dict) -> None:
    """`model.save_weights(path)` with `ranking` in the file, both replaced at once."""
    import h5py

    def write(tmp: Path) -> None:
        model.save_weights(tmp)
        with h5py.File(tmp, "a") as handle:
            handle.attrs[_RANKING_ATTRIBUTE] = json.dumps(ranking)

    _atomic_write(path, write)


def _checkpoint_ranking(path: Path) -> dict:
    """The ranking a checkpoint was saved with ({} for none: older, missing or unreadable)."""
    try:
        with open_weights_file(path) as handle:
            raw = handle.attrs.get(_RANKING_ATTRIBUTE)
    except (OSError, ValueError):
        return {}
    try:
        ranking = json.loads(raw) if raw is not None else {}
    except (TypeError, ValueError):
        return {}
    return ranking if isinstance(ranking, dict) else {}


def _write_state(directory: Path, model: WaveGlowGAN, ranking: dict, epoch) -> None:
    """`training_state.json`: a save's ranking, its epoch and the skip count."""
    skipped = int(ops.convert_to_numpy(model.skipped_steps.value))
    state = {**ranking, "epoch": epoch, "skipped_steps": skipped}
    _write_json_atomically(directory / STATE_FILE, state)


def _save_snapshot(directory: Path, model: WaveGlowGAN, step: int) -> None:
    """`snaps/<step>.weights.h5`: the generator (its moving average where it keeps one), and
    `snaps/<step>.time`, the Unix time."""
    snaps = directory / SNAPSHOT_DIR
    with generator_average_swapped_in(model):
        _atomic_write(snaps / f"{step}.weights.h5", model.waveglow.save_weights)
    stamp = f"{time.time():.3f}\n"
    _atomic_write(snaps / f"{step}.time", lambda tmp: tmp.write_text(stamp))


def _save_best(directory: Path, model: WaveGlowGAN) -> None:
    """Exports the generator (its moving average where it keeps one) to `waveglow_best.keras`,
    then copies `last.weights.h5` to `best.weights.h5`: a best checkpoint at a step implies
    the export of that step (what `_best_copy_cut_off` relies on)."""
    with generator_average_swapped_in(model):
        _atomic_write(directory / BEST_GENERATOR_FILE, model.waveglow.save)
    _atomic_write(
        directory / BEST_WEIGHTS,
        lambda tmp: shutil.copyfile(directory / LAST_WEIGHTS, tmp),
    )


# Blocks of each file's content the fingerprint reads, spread evenly over the file.
_FINGERPRINT_BLOCKS = 16
_FINGERPRINT_BLOCK_BYTES = 4096


def _files_fingerprint(files) -> dict:
    """How many files a run reads and digests of which, in which order, with what content.

    "sha256": the set (paths relative to their common folder, and sizes; a moved corpus keeps
    it). "order_sha256": the same paths in the order given (the data stream permutes list
    positions, so another order gives other batches). "content_sha256": each file's size and
    `_FINGERPRINT_BLOCKS` blocks of 4 KiB spread evenly over it (a file rewritten at the same
    size, as a re-run `prepare` writes, changes it almost surely; reading every byte would
    cost seconds to minutes on large corpora). A file that does not exist counts with size -1
    (the data pipeline names and skips it).
    """
    paths = [Path(f).resolve() for f in files]
    root = Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else Path()

    def size_and_sample(path: Path) -> tuple[int, str]:
        sample = hashlib.sha256()
        try:
            size = path.stat().st_size
            with open(path, "rb") as handle:
                last = max(size - _FINGERPRINT_BLOCK_BYTES, 0)
                for k in range(_FINGERPRINT_BLOCKS if size else 0):
                    handle.seek(last * k // (_FINGERPRINT_BLOCKS - 1))
                    sample.update(handle.read(_FINGERPRINT_BLOCK_BYTES))
        except OSError:
            size = -1
        return size, sample.hexdigest()

    names = [p.relative_to(root).as_posix() for p in paths]
    read = [size_and_sample(p) for p in paths]

    def digest(rows) -> str:
        return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()

    rows = list(zip(names, read, strict=True))
    return {
        "count": len(paths),
        "sha256": digest(sorted(f"{n}\t{size}" for n, (size, _) in rows)),
        "order_sha256": digest(names),
        "content_sha256": digest(sorted(f"{n}\t{size}\t{h}" for n, (size, h) in rows)),
    }


def _fingerprint_differences(then: dict, now: dict) -> list[str]:
    """What differs between two `_files_fingerprint`s, on the keys both have (a run recorded
    before a key existed is checked on the others)."""
    what = {
        "count": "the number of files",
        "sha256": "the files' names or sizes",
        "order_sha256": "their order",
        "content_sha256": "their content",
    }
    return [
        words for key, words in what.items() if key in then and key in now and then[key] != now[key]
    ]


def _check_or_record_recipe(out: Path, recipe: dict, resume: bool, **information) -> None:
    """Writes `out/run_config.json` on a new run; on a resumed one, refuses other settings.

    A resumed run continues exactly only with the settings it started with (the data stream,
    the losses and the optimizer all depend on them), so a resume that asks for different ones
    is refused with the differences named. Runs made before the file existed are not checked.
    `data` and `init_from` are recorded for reference, not compared (a resume ignores
    `init_from`, and a path may be spelled differently); `data_files` (the files' count and
    digest, `_files_fingerprint`) is compared where the run recorded it.
    """
    path = out / RECIPE_FILE
    recipe = json.loads(json.dumps(recipe))  # tuples -> lists, as read back
    if resume:
        if not path.exists():
            return
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not a valid run configuration ({error}).") from error
        if not isinstance(payload, dict) or not isinstance(payload.get("recipe", {}), dict):
            held = payload if not isinstance(payload, dict) else payload["recipe"]
            what = "the file" if held is payload else 'its "recipe"'
            raise ValueError(
                f"{path}: not a valid run configuration: {what} should be a JSON object "
                f"({{...}}, as train writes it), not a {_json_kind(held)}. Restore the run's "
                "file, or move it away (the resume is then not checked against the run's "
                "settings)."
            )
        then, now = payload.get("backend"), information.get("backend")
        switched = bool(now) and then != now and isinstance(then, str)
        if switched:
            # Keras' seeded generators draw other noise on each backend (the same saved seed
            # state): the run goes on from its checkpoint, but not as the uninterrupted one.
            warnings.warn(
                f"{out}: the run was trained on {then} and resumes on {now}, whose random "
                "numbers (latent noise, augmentation) differ for the same seed state: it "
                f"continues from its checkpoint, but does not repeat the uninterrupted {then} "
                "run exactly.",
                stacklevel=4,  # the caller of `train` (past its `keeps_pipe_lists` wrapper)
            )
        files_then, files_now = payload.get("data_files"), information.get("data_files")
        if isinstance(files_then, dict) and files_now:
            differences = _fingerprint_differences(files_then, files_now)
            if differences:
                raise ValueError(
                    f"{out}: resume reads other data than the run did ({files_then.get('count')} "
                    f"files then, recorded from {payload.get('data')!r}; {files_now['count']} "
                    f"now, from {information.get('data')!r}; differing: "
                    f"{', '.join(differences)}): the resumed run would not repeat the "
                    "uninterrupted one. Pass the run's data, or start a new run from its "
                    f"weights with --init-from {out / GENERATOR_FILE}."
                )
        recorded = _as_built(payload.get("recipe", {}))
        changed = {
            key: (recorded.get(key), value)
            for key, value in recipe.items()
            if key in recorded and recorded[key] != value
        }
        if changed:
            listed = "; ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
            raise ValueError(
                f"{out}: resume asks for settings other than the run's ({listed}); pass the "
                f"run's settings (recorded in {path}), or start a new run from its weights "
                f"with --init-from {out / GENERATOR_FILE}."
            )
        if switched:  # the last segment's backend: a resume back on the first warns again
            payload["backend"] = now
            _write_json_atomically(path, payload)
        return
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "recipe": recipe,
        **{
            k: v if isinstance(v, dict | int | float) or v is None else str(v)
            for k, v in information.items()
        },
    }
    _write_json_atomically(path, payload)


def _recorded_run_steps(out: Path) -> int | None:
    """The run's total steps as `run_config.json` records it (the last one asked for)."""
    try:
        steps = json.loads((out / RECIPE_FILE).read_text(encoding="utf-8")).get("steps")
    except (OSError, ValueError, AttributeError):
        return None
    return steps if isinstance(steps, int) and not isinstance(steps, bool) else None


def _record_run_steps(out: Path, steps: int) -> None:
    """Records `steps` as the run's total in its `run_config.json` (when it has one)."""
    path = out / RECIPE_FILE
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # no recipe (a run older than it): nothing to update
    if isinstance(payload, dict) and payload.get("steps") != steps:
        _write_json_atomically(path, {**payload, "steps": steps})


def read_training_state(directory) -> dict:
    """Reads `training_state.json` of a run folder ({} when there is none).

    Args:
        directory: the run folder given to `TrainingCheckpoint`.

    Returns:
        A dict with "step", "epoch", "best", "best_phase" (the loss definition "best" was
        ranked under: "likelihood" or "adversarial"), "best_step" (the step of
        `best.weights.h5`), "monitor", "mode", "skipped_steps" (runs written before a key
        existed lack it). Written after `last.weights.h5`, which carries its own save's
        ranking: after a kill between the two, this file is one save behind.
    """
    path = Path(directory) / STATE_FILE
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a valid training state file ({error}).") from error
    best = state.get("best") if isinstance(state, dict) else None
    if not isinstance(state, dict) or not (
        best is None or (isinstance(best, int | float) and not isinstance(best, bool))
    ):
        shape = (
            f"a {_json_kind(state)}"
            if not isinstance(state, dict)
            else f'"best" a {_json_kind(best)}'
        )
        raise ValueError(
            f'{path}: not a valid training state file: a JSON object with "step", '
            f'"epoch", "best" (a number or null), "monitor", "skipped_steps" was '
            f"expected, it holds {shape}. Move it away: a resume then takes the step from the "
            f"checkpoint, and its next save replaces {BEST_WEIGHTS}."
        )
    return state


def _json_kind(value) -> str:
    """The JSON name of a parsed value's type: for messages about a file of the wrong shape."""
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def restore_training_state(model: WaveGlowGAN, directory, which: str = "last") -> int:
    """Loads a run's checkpoint into a compiled model; returns the step to resume from.

    Restores both networks, both optimizers' slots, the step and skip counters and the noise
    generator, so the next step is the one an uninterrupted run would have taken; the data
    position is the returned step (skip that many batches of the same seeded dataset).

    Args:
        model: a compiled `WaveGlowGAN` built like the one that was saved.
        directory: the run folder.
        which: "last" or "best". Default "last".

    Returns:
        The number of training steps already taken.

    Example:
        >>> step = restore_training_state(gan, "runs/x")
        >>> gan.fit(dataset.skip(step), ...)
    """
    directory = Path(directory)
    path = directory / (LAST_WEIGHTS if which == "last" else BEST_WEIGHTS)
    if which == "best" and _best_copy_cut_off(directory):
        path = directory / LAST_WEIGHTS  # the best of its save, not copied yet
    if not path.exists():
        raise FileNotFoundError(f"{path}: no checkpoint to resume from.")
    _check_checkpoint_readable(path)
    _load_checkpoint(model, path)
    return int(ops.convert_to_numpy(model.step_counter.value))


def _best_copy_cut_off(directory: Path) -> bool:
    """Whether `last.weights.h5` is the best of its save while `best.weights.h5` is not that
    step (missing, unreadable or older): a kill between the two files."""
    ranking = _checkpoint_ranking(directory / LAST_WEIGHTS)
    step = ranking.get("step")
    if step is None or ranking.get("best_step") != step:
        return False
    summary = _checkpoint_summary(directory / BEST_WEIGHTS)
    return summary is None or summary[1] != step


def _complete_interrupted_save(model: WaveGlowGAN, directory: Path, keep_every: int = 0) -> bool:
    """Writes what a save killed after `last.weights.h5` did not: its `keep_every` snapshot,
    its best (`waveglow_best.keras`, `best.weights.h5`) and the state file, from `model`
    restored from that `last`. Returns whether anything was written.

    `last` is written first and carries its save's ranking (`_write_checkpoint`), so a kill
    after it resumes past that save: without this, a snapshot would be missing from the grid,
    the best of that save not copied, and the state file one save behind. Only for the chief,
    with `model` at `last`'s step (else nothing is written); a snapshot written here has the
    repair's time in its `.time` file.
    """
    directory = Path(directory)
    ranking = _checkpoint_ranking(directory / LAST_WEIGHTS)
    step = ranking.get("step")
    if step is None or step != int(ops.convert_to_numpy(model.step_counter.value)):
        return False
    written = False
    snapshot = directory / SNAPSHOT_DIR / f"{step}.weights.h5"
    if keep_every and step > 0 and step % keep_every == 0 and not snapshot.exists():
        _save_snapshot(directory, model, step)
        written = True
    if _best_copy_cut_off(directory):
        _save_best(directory, model)
        written = True
    state = read_training_state(directory)
    if state.get("step") != step:
        _write_state(directory, model, ranking, state.get("epoch"))
        written = True
    if written:
        logger.info("%s: completed the save of step %d that was cut off.", directory, step)
    return written


def _checkpoint_summary(path: Path) -> tuple[bool, int | None] | None:
    """(whether it holds an optimizer's state, its step counter if found) of a readable
    `.weights.h5` file; None when it cannot be read."""
    try:
        with open_weights_file(path) as handle:
            full = "optimizer" in handle
            step = None
            counter = handle.get("vars/0")  # WaveGlowGAN's first weight: step_counter
            if full and counter is not None and counter.shape == () and counter.dtype.kind in "iu":
                step = int(counter[()])
            return full, step
    except (OSError, ValueError):
        return None


def _check_checkpoint_readable(path: Path) -> None:
    """Refuses a run's checkpoint that HDF5 cannot open (empty, truncated by a full disk or a
    cut copy, damaged) before anything is loaded, naming it and what else in its run folder
    could be used instead. Nothing is changed or deleted."""
    try:
        with open_weights_file(path):
            return
    except ValueError as error:
        cause = error.__cause__ or "not an HDF5 file"
    run = path.parent
    size = path.stat().st_size
    usable = []
    for name in (BEST_WEIGHTS, LAST_WEIGHTS):
        other = run / name
        if other == path or not other.is_file():
            continue
        summary = _checkpoint_summary(other)
        if summary is None:
            usable.append(f"{name} (unreadable too)")
        elif summary[0]:
            at = f"step {summary[1]}" if summary[1] is not None else "an earlier step"
            usable.append(
                f"{name}, a full checkpoint at {at} that opens: copy it over {path.name} to "
                "resume from there"
            )
        else:
            usable.append(f"{name} (the generator's weights only: --init-from it)")
    snaps = sorted(
        (p for p in (run / SNAPSHOT_DIR).glob("*.weights.h5") if p.name.split(".")[0].isdigit()),
        key=lambda p: int(p.name.split(".")[0]),
    )
    if snaps:
        usable.append(
            f"{len(snaps)} generator snapshot(s) in {SNAPSHOT_DIR}/, the latest "
            f"{snaps[-1].relative_to(run)} (--init-from it)"
        )
    models = [n for n in (BEST_GENERATOR_FILE, GENERATOR_FILE) if (run / n).is_file()]
    if models:
        usable.append(f"the generator model(s) {', '.join(models)} (--init-from one)")
    if usable:
        offer = (
            f"What else {run} holds: {'; '.join(usable)}. (--init-from starts a new run, in "
            "another folder, from a generator's weights.)"
        )
    else:
        offer = f"{run} holds no other checkpoint, snapshot or generator to go on from."
    raise ValueError(
        f"{path}: the run's checkpoint cannot be read ({size} bytes; {cause}): truncated or "
        f"damaged (a full disk, a copy cut short?). Nothing was changed. {offer}"
    )


def _load_checkpoint(model: WaveGlowGAN, path: Path) -> None:
    """Loads a full training checkpoint into a compiled model; refuses a misfit optimizer."""
    _ensure_optimizer_built(model)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_weights(path)
    except ValueError as error:
        raise ValueError(
            f"{path}: checkpoint does not match this model (another preset or discriminator, "
            f"or another optimizer?): {error}"
        ) from error
    # Keras only warns when an optimizer's slot count differs, and then loads none of its
    # slots (moments, step count, moving average): the run would go on from a reset
    # optimizer. That is an error here.
    skipped = [str(w.message) for w in caught if "Skipping variable loading" in str(w.message)]
    if skipped:
        raise ValueError(
            f"{path}: the checkpoint's optimizer state does not fit this model's optimizer "
            "(resume with the settings the run started with, e.g. the same --ema and "
            f"--mixed-precision): {skipped[0]}"
        )
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _generator_group(handle, path):
    """The h5 group holding a WaveGlow's weights: the root of a `WaveGlow.save_weights` file,
    or the generator's group of a `WaveGlowGAN` training checkpoint (`layers/<name>`)."""
    if "couplings" in handle and "convinvs" in handle:
        return handle
    for group in handle.get("layers", {}).values():
        if "couplings" in group and "convinvs" in group:
            return group
    raise ValueError(f"{path}: holds no WaveGlow weights (no couplings/convinvs groups).")


def export_generator_weights(
    source,
    target,
    dtype: str | None = None,
    overwrite: bool = False,
    average: bool | None = None,
) -> Path:
    """Writes the generator's weights of a checkpoint as a `WaveGlow` `.weights.h5` file.

    The source is a training checkpoint (`last.weights.h5` / `best.weights.h5` of
    `keras-waveglow train`: both networks and both optimizers) or a `WaveGlow` weights file;
    the target holds the WaveGlow's weights alone, loadable with `WaveGlow.load_weights`,
    `from_preset(..., weights=...)` or `--init-from`. With `dtype="float16"` the float32
    arrays are stored in half precision (half the size; Keras casts them back to the
    variables' float32 on load: each weight rounded to the nearest float16, a relative error
    of at most 2**-11 from 6.1e-5 up; a weight beyond float16's range is refused). Written
    atomically: `target` is either the old file or the complete new one.

    A checkpoint of a run trained with a moving average of the weights (`train(ema=...)`,
    `--ema`) holds both the trained weights and, in the optimizer's slots, their average. By
    default the average is exported (what the run's snapshots and `waveglow.keras` hold): the
    run's recipe (`run_config.json` beside the checkpoint) rebuilds the model and optimizer the
    checkpoint came from, the checkpoint is loaded into it and the average swapped in.

    Args:
        source: str or path-like, the checkpoint.
        target: str or path-like, the `.weights.h5` file to write.
        dtype: None (keep) or "float16". Default None.
        overwrite: bool, replace an existing `target`. Default False.
        average: None (the moving average when the checkpoint's run kept one, else the
            trained weights), True (the moving average; an error when there is none) or
            False (the trained weights; a weights file, which holds one set, is exported
            as it is, with a warning). Default None.

    Returns:
        The `Path` of `target`.

    Raises:
        FileNotFoundError: `source` does not exist.
        FileExistsError: `target` exists and `overwrite` is False.
        ValueError: `source` holds no WaveGlow weights, `average=True` for a source without a
            moving average (a weights file, or a run without `--ema` or without its
            `run_config.json`), `target` does not end in `.weights.h5` or is a training
            checkpoint (never replaced, even with `overwrite`), or an unknown `dtype`.

    Example:
        >>> export_generator_weights("runs/x/last.weights.h5", "model.weights.h5", "float16")
    """
    import numpy as np

    source, target = Path(source), Path(target)
    _check_weights_files([source], target, dtype)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target}: exists; pass overwrite=True (--overwrite) to replace it.")
    with open_weights_file(source) as handle:
        checkpoint = _generator_group(handle, source) is not handle  # a GAN's full state
    # The recipe says whether the run kept an average; trained weights asked for need it not
    # (a damaged run_config.json beside the checkpoint blocked them).
    recipe = _read_recipe(source.parent) if checkpoint and average is not False else None
    ema = (recipe or {}).get("ema")
    asked_for_trained = average is False
    if average is None:
        average = ema is not None
        if checkpoint and recipe is None:
            warnings.warn(
                f"{source}: no {RECIPE_FILE} beside it tells whether its run kept a moving "
                "average (--ema): its trained weights are used. Put the run's "
                f"{RECIPE_FILE} beside the checkpoint to use the average (what the run's "
                "snapshots hold).",
                stacklevel=2,
            )
    if asked_for_trained and not checkpoint:
        warnings.warn(
            f"{source}: a WaveGlow weights file holds one set of weights, exported as they "
            "are: whether they are a run's trained weights or its moving average is not "
            "recorded in it (average=False / --trained choose within a training checkpoint).",
            stacklevel=2,
        )
    if average and ema is None:
        if not checkpoint:
            why = "a WaveGlow weights file holds one set of weights and no moving average"
        elif recipe is None:
            why = f"no {RECIPE_FILE} beside it tells how its run was trained"
        else:
            why = f"its run kept no moving average ({source.parent / RECIPE_FILE}: ema null)"
        raise ValueError(f"{source}: cannot export a moving average: {why}.")

    def convert(name, data):
        if dtype is not None and getattr(data, "dtype", None) == np.float32:
            return _as_float16(name, data, source)
        return data

    if not average:
        return _write_generator_file(source, target, convert)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.", dir=target.parent) as folder:
        averaged = Path(folder) / "average.weights.h5"
        _save_generator_average(source, recipe, averaged)
        return _write_generator_file(averaged, target, convert)


def _read_recipe(run: Path) -> dict | None:
    """The recipe recorded in a run folder's `run_config.json` (None when there is none)."""
    path = run / RECIPE_FILE
    if not path.is_file():
        return None
    try:
        recipe = json.loads(path.read_text(encoding="utf-8"))["recipe"]
        if not isinstance(recipe, dict):
            raise TypeError(f"'recipe' is a {type(recipe).__name__}")
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a valid run configuration ({error!r}).") from error
    return _as_built(recipe)


def _as_built(recipe: dict) -> dict:
    """A recorded recipe with the settings it was built with before they were recorded:
    an MR-STFT term that floored |STFT| (`stft_floor`), a dense multi-scale discriminator
    (`msd_groups`), Keras' "same" padding in the discriminators (`discriminator_padding`),
    plain discriminator kernels (`discriminator_normalization`),
    the adversarial weights before they were options (`adv_weight`,
    `fm_weight`, `discriminator_warmup_steps`: 1, 2 and 0)."""
    recipe = dict(recipe)
    if recipe.get("group_mean_window") is not None:  # the window implies the removal
        recipe["remove_group_mean"] = True
    if recipe.get("stft_weight") and "stft_floor" not in recipe:
        recipe["stft_floor"] = OLD_STFT_FLOOR_DEFINITION
    if recipe.get("gan"):
        recipe = {**_GAN_AS_BUILT, **recipe}
    return recipe


# What a GAN run recorded before these settings were recorded was built with.
_GAN_AS_BUILT = {
    "msd_groups": "dense",
    "discriminator_padding": "same",
    "discriminator_normalization": "none",
    "adv_weight": 1.0,
    "fm_weight": 2.0,
    "discriminator_warmup_steps": 0,
}


def _save_generator_average(source: Path, recipe: dict, target: Path) -> None:
    """Loads a checkpoint into the model its recipe builds and saves the generator's moving
    average as a WaveGlow weights file."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(_POLICIES[recipe.get("mixed_precision")])
    try:
        model = build_gan(
            recipe["preset"],
            gan=bool(recipe.get("gan")),
            discriminator_width=recipe.get("discriminator_width", 1.0),
            seed=recipe.get("seed", 0),
            msd_groups=recipe.get("msd_groups", "hifigan"),  # `_read_recipe`: old GANs dense
            discriminator_padding=recipe.get("discriminator_padding", "hifigan"),
            discriminator_normalization=recipe.get("discriminator_normalization", "hifigan"),
        )
        model.compile(**_optimizers(recipe))
        _load_checkpoint(model, source)
        if _average_is_empty(model.generator_optimizer):  # saved before a step was applied
            raise ValueError(
                f"{source}: saved before its run applied a step, so its moving average is "
                "still empty: export its trained weights (average=False, --trained)."
            )
        with generator_average_swapped_in(model) as swapped:
            if not swapped:  # the recipe says --ema, the optimizer holds no average
                raise ValueError(f"{source}: its optimizer holds no moving average.")
            model.waveglow.save_weights(target)
    finally:
        keras.config.set_dtype_policy(previous)


_KERAS_FILE_HINT = (
    " A .keras model (e.g. a run's waveglow.keras) is a zip: load it with "
    "keras.saving.load_model and save_weights, or export the run's last.weights.h5 or a snapshot."
)
_OTHER_FILE_HINT = (
    " An NVIDIA (PyTorch) checkpoint is imported with keras_waveglow.from_nvidia(path), whose "
    "save_weights writes a .weights.h5 file."
)


def _not_hdf5_hint(source: Path) -> str:
    """What to do with a weights source that is not HDF5: a .keras zip, or anything else."""
    import zipfile

    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            if "config.json" in archive.namelist():  # what every .keras archive holds
                return _KERAS_FILE_HINT
    return _KERAS_FILE_HINT if source.suffix == ".keras" else _OTHER_FILE_HINT


def _check_weights_files(sources, target: Path, dtype) -> None:
    """The argument checks shared by `export_generator_weights` and the averaging."""
    import h5py

    for source in sources:
        if not source.is_file():
            raise FileNotFoundError(f"{source}: no such checkpoint.")
        if not h5py.is_hdf5(source):
            raise ValueError(f"{source}: not a .weights.h5 (HDF5) file.{_not_hdf5_hint(source)}")
        if target.exists() and os.path.samefile(target, source):
            raise ValueError(f"{target}: the output would replace its own source checkpoint.")
    if not target.name.endswith(".weights.h5"):
        raise ValueError(f"{target}: the file name must end in .weights.h5 (Keras's rule).")
    if is_training_checkpoint(target):
        raise ValueError(
            f"{target}: a training checkpoint (both networks and their optimizers); it is "
            "never replaced by generator weights, even with overwrite=True: choose another "
            "target."
        )
    if dtype not in (None, "float16"):
        raise ValueError(f"dtype must be None or 'float16'; got {dtype!r}.")


def _write_generator_file(source: Path, target: Path, convert) -> Path:
    """Copies the generator group of `source` (its tree and attributes) to `target`
    atomically, each array through `convert(path_in_group, array)`."""
    import h5py

    def copy(group, into, prefix):
        for key, item in group.items():
            if isinstance(item, h5py.Group):
                copy(item, into.create_group(key), f"{prefix}{key}/")
                continue
            into.create_dataset(key, data=convert(f"{prefix}{key}", item[()]))
        for key, value in group.attrs.items():
            into.attrs[key] = value

    def write(tmp: Path) -> None:
        with open_weights_file(source) as handle, h5py.File(tmp, "w") as out:
            copy(_generator_group(handle, source), out, "")

    return _atomic_write(target, write)


def average_generator_weights(
    sources, target, dtype: str | None = None, overwrite: bool = False
) -> Path:
    """Writes the uniform average of several checkpoints' generator weights (checkpoint averaging).

    Snapshots of one training run wander around a minimum (the held-out figures move from one
    to the next); their mean often lies closer to it than any one of them (checkpoint
    averaging, Vaswani et al. 2017; stochastic weight averaging, Izmailov et al. 2018). Give
    checkpoints of one run (or of runs continued from one state): averaging independently
    trained flows gives nonsense. Every floating-point weight is averaged in float64 and stored
    as float32 (or float16 with `dtype="float16"`); non-float arrays are taken from the first
    source. The result is checked before it is written: every 1x1 convolution matrix must stay
    invertible (a finite log-determinant), else nothing is written.

    Args:
        sources: sequence of str or path-like, at least two training checkpoints
            (`last.weights.h5` of `keras-waveglow train`) and/or `WaveGlow` weights files of
            one configuration.
        target: str or path-like, the `.weights.h5` file to write (a `WaveGlow` weights file:
            `WaveGlow.load_weights`, `from_preset(..., weights=...)`, `--init-from`).
        dtype: None (float32) or "float16". Default None.
        overwrite: replace an existing `target`. Default False.

    Returns:
        The `Path` of `target`, written atomically.

    Raises:
        FileNotFoundError: a source does not exist.
        FileExistsError: `target` exists and `overwrite` is False.
        ValueError: fewer than two sources, a source without WaveGlow weights, sources whose
            weights differ in names or shapes (the file and the weight are named), an averaged
            1x1 convolution that is singular, a `target` not ending in `.weights.h5` or that is
            a training checkpoint (never replaced, even with `overwrite`), or an unknown
            `dtype`.

    Example:
        >>> average_generator_weights(
        ...     [f"runs/x/snaps/{s}.weights.h5" for s in (3000, 3500, 4000, 4500)],
        ...     "averaged.weights.h5",
        ... )
    """

    sources, target = [Path(s) for s in sources], Path(target)
    if len(sources) < 2:
        raise ValueError(f"averaging needs at least two checkpoints; got {len(sources)}.")
    _check_weights_files(sources, target, dtype)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target}: exists; pass overwrite=True (--overwrite) to replace it.")
    with tempfile.TemporaryDirectory(prefix=".average.") as folder:
        # A training checkpoint counts with the weights `export_generator_weights` gives by
        # default: the moving average when its run kept one (as its snapshots), else the
        # trained weights; a WaveGlow weights file as it is.
        generators = [
            _generator_weights_of(s, Path(folder) / f"{i}.weights.h5")
            for i, s in enumerate(sources)
        ]
        return _average_generator_files(sources, generators, target, dtype)


def _generator_weights_of(source: Path, spare: Path) -> Path:
    """`source` when it is a WaveGlow weights file, else its generator exported to `spare`."""
    with open_weights_file(source) as handle:
        standalone = _generator_group(handle, source) is handle
    return source if standalone else export_generator_weights(source, spare)


def _average_generator_files(sources, generators, target: Path, dtype) -> Path:
    """The averaging of `average_generator_weights` over WaveGlow weights files
    (`generators[i]` holds `sources[i]`'s weights; errors name the sources)."""
    import h5py
    import numpy as np

    def arrays(index: int) -> dict:
        found = {}
        with open_weights_file(generators[index]) as handle:
            group = _generator_group(handle, sources[index])
            group.visititems(
                lambda key, item: (
                    found.__setitem__(key, item[()]) if isinstance(item, h5py.Dataset) else None
                )
            )
        return found

    first = arrays(0)
    sums = {k: np.asarray(v, np.float64) for k, v in first.items() if _is_float_array(v)}
    for index, source in enumerate(sources[1:], start=1):
        other = arrays(index)
        if other.keys() != first.keys():
            extra = sorted(set(other) ^ set(first))[0]
            raise ValueError(
                f"{source}: its weights differ from {sources[0]}'s ({extra!r} is in one only); "
                "average checkpoints of one configuration."
            )
        for key, total in sums.items():
            if np.shape(other[key]) != total.shape:
                raise ValueError(
                    f"{source}: weight {key!r} has shape {np.shape(other[key])}, "
                    f"{total.shape} in {sources[0]}."
                )
            total += np.asarray(other[key], np.float64)
    means = {k: v / len(sources) for k, v in sums.items()}
    for key, value in means.items():  # a NaN passed every check below (nan > x is False)
        if not np.isfinite(value).all():
            raise ValueError(
                f"the average of {key!r} over {len(sources)} checkpoints holds non-finite "
                "values (a checkpoint holds NaN or inf there); nothing written."
            )
    _check_averaged_convinvs(first, means, len(sources))

    def convert(name, data):
        if name not in means:
            return data
        if dtype == "float16":
            return _as_float16(name, means[name], "the average")
        return means[name].astype(np.float32)

    return _write_generator_file(generators[0], target, convert)


def _check_averaged_convinvs(first: dict, means: dict, count: int) -> None:
    """Refuses an average whose 1x1 convolutions are no longer invertible.

    A plain convolution (its group holds one square matrix) is checked by `slogdet`. An
    LU-decomposed one (`lu_decomposed=True`: its group holds vectors too) is invertible when
    its fixed parts, the permutation and `sign_s` (the arrays of 0 and +-1 in the first
    checkpoint), are the same in every checkpoint: its raw `lower`/`upper` factors keep a zero
    diagonal by design, which `slogdet` called singular, refusing every LU average.
    """
    import numpy as np

    groups: dict[str, list[str]] = {}
    for key in means:
        if key.startswith("convinvs/"):
            groups.setdefault(key.rsplit("/", 1)[0], []).append(key)
    for keys in groups.values():
        lu = any(means[key].ndim == 1 for key in keys)
        for key in keys:
            value = means[key]
            if lu:
                fixed = np.isin(first[key], (-1.0, 0.0, 1.0)).all()
                if fixed and not np.array_equal(value, np.asarray(first[key], np.float64)):
                    raise ValueError(
                        f"{key!r} (a fixed part of an LU-decomposed 1x1 convolution) differs "
                        f"between the {count} checkpoints: they are not from one run; nothing "
                        "written."
                    )
            elif value.ndim == 2 and value.shape[0] == value.shape[1]:
                sign, logdet = np.linalg.slogdet(value)
                if sign == 0 or not np.isfinite(logdet):
                    raise ValueError(
                        f"the average of {key!r} over {count} checkpoints is singular "
                        "(are they from one run?); nothing written."
                    )


def _as_float16(name: str, data, source):
    """`data` stored in float16, refused (naming the weight) where a value is beyond its range
    (65504), which would be stored as inf."""
    import numpy as np

    limit = float(np.finfo(np.float16).max)
    if not np.isfinite(data).all():  # NaN: `peak > limit` is False, and NaN was stored
        raise ValueError(
            f"{source}: weight {name!r} holds non-finite values (NaN or inf); nothing written."
        )
    peak = float(np.max(np.abs(data), initial=0.0))
    if peak > limit:
        raise ValueError(
            f"{source}: weight {name!r} holds {peak:.6g}, beyond float16's range ({limit:g}): "
            "export it in float32 (without --float16); nothing written."
        )
    return data.astype(np.float16)


def _is_float_array(value) -> bool:
    import numpy as np

    return np.issubdtype(np.asarray(value).dtype, np.floating)


def _config_differences(source: dict, target: dict) -> str:
    """`key: file's -> model's` for the flow settings two WaveGlow configs disagree on ("" when
    none)."""
    skip = {"name", "trainable", "dtype", "seed"}
    keys = sorted((set(source) | set(target)) - skip)
    changed = [
        f"{key}: {source.get(key)!r} in the file, {target.get(key)!r} in the model"
        for key in keys
        if source.get(key) != target.get(key)
    ]
    return "; ".join(changed)


def load_initial_weights(waveglow: WaveGlow, path) -> WaveGlow:
    """Warm start: copies weights from a saved model or checkpoint into `waveglow`.

    Accepts a `.keras` file (a `WaveGlow`, or a `WaveGlowGAN` whose generator is used), a
    `.weights.h5` file of a `WaveGlow` or a training checkpoint of `keras-waveglow train`
    (its generator is used), the name of a preset with weights (`presets.WEIGHTS`: its
    bundled or downloaded weights, `hub.preset_weights_file`), or an NVIDIA PyTorch
    checkpoint (anything else, read with `keras_waveglow.convert.from_nvidia`).

    Args:
        waveglow: the model to initialise (same configuration as the source).
        path: str or path-like, or a preset name with weights.

    Returns:
        `waveglow`, with the weights loaded.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the source's WaveGlow differs from `waveglow` (other shapes, or more or
            fewer weights: a `.weights.h5` file is checked with `flow.check_weights_file`
            before anything is loaded), or the file holds no WaveGlow.

    Example:
        >>> model = load_initial_weights(WaveGlow.from_preset("arctic_16k"), "model.keras")
    """
    from keras_waveglow import presets

    if str(path) in presets.WEIGHTS and not Path(path).exists():  # a preset with weights
        from keras_waveglow.hub import preset_weights_file

        path = preset_weights_file(str(path))
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no such file to initialise from (nor a preset with weights: "
            f"{', '.join(sorted(presets.WEIGHTS))}).{presets.did_you_mean(str(path))}"
        )
    if path.name.endswith(".weights.h5"):
        from keras_waveglow.flow import check_weights_file

        with open_weights_file(path) as handle:
            standalone = _generator_group(handle, path) is handle
        if standalone:
            check_weights_file(waveglow, path)  # load_weights ignores arrays left over
            waveglow.load_weights(path)
            return waveglow
        with tempfile.TemporaryDirectory() as tmp:
            generator = export_generator_weights(path, Path(tmp) / "g.weights.h5")
            check_weights_file(waveglow, generator, source=path)
            waveglow.load_weights(generator)
        return waveglow
    if path.suffix == ".keras":
        from keras_waveglow._paths import check_keras_archive

        check_keras_archive(path)  # Keras would say "File not found"
        source = keras.saving.load_model(path, compile=False)
        if isinstance(source, WaveGlowGAN):
            source = source.waveglow
        if not isinstance(source, WaveGlow):
            raise ValueError(f"{path}: holds a {type(source).__name__}, not a WaveGlow.")
    else:
        from keras_waveglow.convert import from_nvidia

        source = from_nvidia(path)
    if source.get_config()["n_flows"] != waveglow.n_flows or len(source.weights) != len(
        waveglow.weights
    ):
        differences = _config_differences(source.get_config(), waveglow.get_config())
        raise ValueError(
            f"{path}: its WaveGlow configuration differs from the model's "
            f"({differences or 'the same settings, other weights'})."
        )
    for target, value in zip(waveglow.weights, source.weights, strict=True):
        if tuple(target.shape) != tuple(value.shape):
            raise ValueError(
                f"{path}: weight {target.path} has shape {tuple(value.shape)} in the file, "
                f"{tuple(target.shape)} in the model."
            )
    # Equal shapes, another flow (dilations, upsampling, a log-scale bound): the weights load,
    # but were trained for another computation. Said, not refused (fine-tuning into a clamp
    # is a choice); the mel front end (rate, fmin, fmax) may differ without a word.
    front_end = {"sample_rate", "fmin", "fmax", "n_fft", "win_length", "hop_length"}
    flow = {k: v for k, v in source.get_config().items() if k not in front_end}
    other = {k: v for k, v in waveglow.get_config().items() if k not in front_end}
    differences = _config_differences(flow, other)
    if differences:
        warnings.warn(
            f"{path}: its flow differs from the model's ({differences}); its weights are "
            "loaded, trained for the other computation.",
            stacklevel=2,
        )
    for target, value in zip(waveglow.weights, source.weights, strict=True):
        target.assign(value)
    return waveglow


class StopOnConsecutiveSkips(keras.callbacks.Callback):
    """Stops training after `patience` non-finite (skipped) steps in a row.

    Single bad batches are skipped by `WaveGlowGAN` and counted; only a run that keeps
    producing NaN/inf stops, and then the last checkpoint (written before the bad streak,
    since skipped steps never replace it) is the one to resume or restart from; `train`
    reports the stop (`stopped_on_skips`) and the CLI exits with status 1.

    Args:
        patience: int >= 1. Default 10.
    """

    def __init__(self, patience: int = 10):
        super().__init__()
        self.patience = _checks.count("patience", patience, 1)
        self.stopped_at_step = None

    def on_train_batch_end(self, batch, logs=None):
        streak = (logs or {}).get("consecutive_skipped")
        if streak is not None and int(float(streak)) >= self.patience:
            self.stopped_at_step = int(ops.convert_to_numpy(self.model.step_counter.value))
            self.model.stop_training = True


class TrainingLog(keras.callbacks.Callback):
    """Writes `log.csv`: one row per epoch with the epoch, the step it ended at and fit's logs.

    The step makes rows map to steps where epochs do not (the last epoch of a run, or one
    stopped by a signal, is shorter than `--save-every`, and a resume numbers on from there).
    A resumed run appends in the columns of the log it continues (a value it lacks is "NA",
    a column the log lacks is left out): a log begun before the `step` column existed stays
    without it, instead of rows shifted against its header (what `keras.callbacks.CSVLogger`
    writes when its columns differ from the file's).

    Args:
        path: the CSV file.
        append: continue the file when it exists (a resumed run); else it is replaced.
    """

    def __init__(self, path, append: bool = False):
        super().__init__()
        self.path = Path(path)
        self.append = bool(append)
        self._columns = None

    def on_train_begin(self, logs=None):
        self._columns = None
        if self.append and self.path.exists():
            with open(self.path, newline="", encoding="utf-8") as f:
                rows = list(csv.reader(f))
            header = rows[0] if rows else None
            self._columns = header or None
            if header and "step" in header:
                self._drop_rows_after(header, rows[1:])
        elif self.path.exists():
            self.path.unlink()

    def _drop_rows_after(self, header: list, rows: list) -> None:
        """Drops the rows of steps after the one the run resumes from: an epoch that ended on
        a skipped step logged its row, but no checkpoint; the resume redoes those steps and
        logged them again."""
        start = int(ops.convert_to_numpy(self.model.step_counter.value))
        at = header.index("step")

        def after(row) -> bool:
            try:
                return int(row[at]) > start
            except (IndexError, ValueError):
                return False

        kept = [row for row in rows if not after(row)]
        if len(kept) == len(rows):
            return

        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows([header, *kept])

        _atomic_write(self.path, write)

    def on_epoch_end(self, epoch, logs=None):
        step = int(ops.convert_to_numpy(self.model.step_counter.value))
        row = {"epoch": epoch, "step": step}
        for key, value in (logs or {}).items():
            value = ops.convert_to_numpy(value)
            row[key] = float(value) if value.ndim == 0 else str(value.tolist())
        new = self._columns is None
        if new:
            self._columns = ["epoch", "step", *sorted(k for k in row if k not in ("epoch", "step"))]
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(self._columns)
            writer.writerow([row.get(column, "NA") for column in self._columns])


class _StepTensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard with its batch summaries at the model's step: Keras counts batches
    from 0 in every `fit`, so a resumed run wrote its `batch_*` scalars over the first run's
    steps (its `epoch_*` ones follow `initial_epoch` already)."""

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._global_train_batch = int(ops.convert_to_numpy(self.model.step_counter.value))

    def on_epoch_end(self, epoch, logs=None):
        # Keras leaves its batch condition (`step % update_freq == 0`) in force after a batch:
        # an epoch that ended off that grid (a run's last, every one after an off-grid
        # resume) wrote no `epoch_*` scalars.
        import tensorflow as tf

        with tf.summary.record_if(True):
            super().on_epoch_end(epoch, logs)


class _StopAtStep(keras.callbacks.Callback):
    """Stops `fit` when the model's step counter reaches `steps`: the last epoch may be short.

    Reads the counter once an epoch and counts batches from there (`batch`, the epoch's index
    of the last step run, several per call with steps_per_execution), so it adds no per-step
    device sync.
    """

    def __init__(self, steps: int):
        super().__init__()
        self.steps = int(steps)
        self.remaining = None
        self._at_epoch_start = None

    def on_epoch_begin(self, epoch, logs=None):  # read once an epoch (see TrainingCheckpoint)
        done = int(ops.convert_to_numpy(self.model.step_counter.value))
        self.remaining = self._at_epoch_start = self.steps - done

    def on_train_batch_end(self, batch, logs=None):
        self.remaining = self._at_epoch_start - (batch + 1)
        if self.remaining <= 0:
            self.model.stop_training = True


class StopOnSignal(keras.callbacks.Callback):
    """Ends training cleanly on Ctrl-C (SIGINT) or SIGTERM: the step under way finishes, the
    checkpoint callbacks save it, and `fit` returns.

    Use it as a context manager around `fit` (it takes the handlers on entry and gives the
    previous ones back on exit) and pass it as `fit`'s last callback. The first signal asks
    for the stop and gives the previous handlers back at once, so a second Ctrl-C interrupts
    as usual. Only the main thread of a process can take signals: elsewhere it does nothing.

    Attributes:
        received: the name of the signal that stopped training ("SIGINT", "SIGTERM"), or None.

    Example:
        >>> stop = StopOnSignal()
        >>> with stop:
        ...     gan.fit(ds, epochs=10, callbacks=[TrainingCheckpoint("runs/x"), stop])
        >>> stop.received  # None when fit ran to its end
    """

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self):
        super().__init__()
        self.received = None
        self._previous = {}

    def __enter__(self):
        self.received = None
        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                number = getattr(signal, name, None)
                if number is not None:
                    self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc):
        self._give_back()
        return False

    def _give_back(self):
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}

    def _handle(self, number, frame):
        self.received = signal.Signals(number).name
        self._give_back()  # a second signal acts as it would without this callback
        print(
            f"\n{self.received} received: training stops after the step under way, once its "
            "checkpoint is saved (send it again to stop at once).",
            file=sys.stderr,
            flush=True,
        )

    def on_train_batch_end(self, batch, logs=None):
        if self.received is not None:
            self.model.stop_training = True


class AudioSamples(keras.callbacks.Callback):
    """Writes generated audio and its log-mel image to TensorBoard every `every_n_steps`.

    Sampling uses a fixed integer seed, never the model's noise generator, so logging does not
    change the training run. Needs TensorFlow for `tf.summary`; without it the callback warns
    once and does nothing.

    Args:
        log_dir: TensorBoard folder (a "samples" sub-folder is written).
        mel: (B, F, n_mel) array of mels to vocode (a few short ones).
        every_n_steps: int >= 0 (0: none during training). Default 1000.
        sigma: float, sampling sigma. Default 0.6.
        seed: int, sampling seed. Default 0.
    """

    def __init__(self, log_dir, mel, every_n_steps: int = 1000, sigma: float = 0.6, seed: int = 0):
        super().__init__()
        self.log_dir = str(Path(log_dir) / "samples")
        self.mel = mel
        self.every_n_steps = _checks.count("every_n_steps", every_n_steps, 0)
        self.sigma = _checks.finite("sigma", sigma)
        self.seed = _checks.count("seed", seed)
        self._writer = None
        self.written_steps = []

    def on_train_batch_end(self, batch, logs=None):
        if self.every_n_steps <= 0:
            return
        step = int(ops.convert_to_numpy(self.model.step_counter.value))
        if step % self.every_n_steps == 0:
            self.write(step)

    def write(self, step: int) -> bool:
        """Writes the samples for `step`; returns False when TensorFlow is unavailable."""
        try:
            import tensorboard  # noqa: F401
            import tensorflow as tf
        except ImportError:
            if self._writer is None:
                import warnings

                warnings.warn(
                    "AudioSamples: TensorFlow not installed, no samples written.", stacklevel=2
                )
                self._writer = False
            return False
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        from keras_waveglow.audio import mel_spectrogram

        waveglow = self.model.waveglow
        audio = waveglow.inverse(self.mel, sigma=self.sigma, seed=self.seed)
        log_mel = ops.convert_to_numpy(mel_spectrogram(audio, **waveglow.mel_config))
        audio = ops.convert_to_numpy(audio)
        low, high = log_mel.min(), log_mel.max()
        image = ((log_mel - low) / max(high - low, 1e-6)).transpose(0, 2, 1)[:, ::-1, :, None]
        # record_if(True): Keras' TensorBoard leaves its own condition (a multiple of its
        # update_freq, the save interval) in force after each batch; samples at other steps
        # were dropped.
        with self._writer.as_default(), tf.summary.record_if(True):
            tf.summary.audio(
                "generated", audio[..., None].clip(-1, 1), waveglow.sample_rate, step=step
            )
            tf.summary.image("generated_log_mel", image, step=step)
        self._writer.flush()
        self.written_steps.append(step)
        return True


# --------------------------------------------------------------------------------------------
# One call from data to a trained model (the CLI's `train`)
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _data_errors_named():
    """Within the block, a dataset whose every file failed to decode raises
    `NoUsableAudioError` (a ValueError naming the files), on either engine: tf.data hands the
    data source's Python error back as a TensorFlow error (its own traceback, its own type)."""
    from keras_waveglow.data.pipeline import NoUsableAudioError, settle_tf_calls

    try:
        yield
    except NoUsableAudioError:
        raise
    except Exception as error:
        found = re.search(r"NoUsableAudioError: (.*)", str(error))
        if found is None:
            raise
        settle_tf_calls()  # the iterator must not die with map calls waiting for the GIL
        raise NoUsableAudioError(found.group(1).strip()) from error


_POLICIES = {None: "float32", "fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def _optimizers(recipe: dict) -> dict:
    """`compile()`'s optimizers for a `train` recipe (its learning rates, clipping and
    moving average): shared by `train` and the export of a run's moving average."""
    clipnorm, ema = recipe.get("clipnorm"), recipe.get("ema")
    clip = {} if clipnorm is None else {"global_clipnorm": clipnorm}
    average = {} if ema is None else {"use_ema": True, "ema_momentum": ema}
    return {
        "optimizer": keras.optimizers.Adam(recipe["learning_rate"], **clip, **average),
        "discriminator_optimizer": keras.optimizers.Adam(
            recipe["discriminator_learning_rate"], beta_1=0.8, beta_2=0.99, **clip
        ),
    }


def _check_discriminator_choices(padding: str, normalization: str) -> None:
    if padding not in DISCRIMINATOR_PADDINGS:
        raise ValueError(
            f"discriminator_padding must be one of {DISCRIMINATOR_PADDINGS}; got {padding!r}."
        )
    if normalization not in DISCRIMINATOR_NORMALIZATIONS:
        raise ValueError(
            f"discriminator_normalization must be one of {DISCRIMINATOR_NORMALIZATIONS}; got "
            f"{normalization!r}."
        )


def build_gan(
    preset: str = "tiny",
    gan: bool = False,
    discriminator_width: float = 1.0,
    init_from=None,
    seed: int | None = 0,
    msd_groups: str = "hifigan",
    discriminator_padding: str = "hifigan",
    discriminator_normalization: str = "hifigan",
    **gan_kwargs,
) -> WaveGlowGAN:
    """A `WaveGlowGAN` for a preset, with or without a `WaveDiscriminator`, warm-started.

    Args:
        preset: WaveGlow preset name. Default "tiny".
        gan: bool, add a `WaveDiscriminator`. Default False.
        discriminator_width: float, its channel multiplier. Default 1.0.
        init_from: None or a path for `load_initial_weights`.
        seed: int or None, seed of the flow's rotations and noise. Default 0.
        msd_groups: "hifigan" (HiFi-GAN's grouped multi-scale convolutions) or "dense" (as
            built before 2026-12-05). Default "hifigan".
        discriminator_padding: "hifigan" (HiFi-GAN's zero padding: its outputs, given its
            weights) or "same" (Keras' "same", as built before 2026-12-07). Default "hifigan".
        discriminator_normalization: "hifigan" (HiFi-GAN's weight norm, spectral norm on the
            first scale discriminator) or "none" (plain kernels, as built before the second
            half of 2026-12-07). Default "hifigan".
        **gan_kwargs: `WaveGlowGAN` arguments (weights, start step, train_sigma).

    Returns:
        An uncompiled `WaveGlowGAN`.
    """
    from keras_waveglow.discriminators import DENSE_SCALE_GROUPS, WaveDiscriminator

    if msd_groups not in MSD_GROUPS:
        raise ValueError(f"msd_groups must be one of {MSD_GROUPS}; got {msd_groups!r}.")
    _check_discriminator_choices(discriminator_padding, discriminator_normalization)
    _checks.finite("discriminator_width", discriminator_width, positive=True)  # used or not
    waveglow = WaveGlow.from_preset(preset, load_weights=False, seed=seed)
    if init_from is not None:
        load_initial_weights(waveglow, init_from)
    scale_groups = DENSE_SCALE_GROUPS if msd_groups == "dense" else None
    discriminator = (
        WaveDiscriminator(
            width=discriminator_width,
            scale_groups=scale_groups,
            padding=discriminator_padding,
            normalization=discriminator_normalization,
        )
        if gan
        else None
    )
    return WaveGlowGAN(waveglow, discriminator, **gan_kwargs)


def _writing_callbacks(
    out: Path,
    resume: bool,
    epoch_steps: int,
    sample_every: int,
    new_dataset,
    several_jax_processes,
    keep_every: int = 0,
    save_freq: int = 0,
):
    """The callbacks that write into `out`: checkpoints, log.csv, TensorBoard, samples.

    Audio samples need the whole model on the writing process: not written when JAX runs
    over several processes (its weights are arrays shared by every process).
    """
    out.mkdir(parents=True, exist_ok=True)
    callbacks = [
        TrainingCheckpoint(out, save_freq=save_freq, monitor="loss", keep_every=keep_every),
        TrainingLog(out / "log.csv", append=resume),
    ]
    try:  # TensorBoard needs TensorFlow and the tensorboard package; skip without them
        import tensorboard  # noqa: F401
        import tensorflow  # noqa: F401
    except ImportError:
        return callbacks
    callbacks.append(_StepTensorBoard(str(out / "tb"), update_freq=epoch_steps))
    if sample_every > 0 and several_jax_processes:
        warnings.warn(
            "AudioSamples: not written when JAX trains over several processes.", stacklevel=3
        )
    elif sample_every > 0:
        preview = new_dataset()  # its own copy: iterating must not move the data position
        mel, _ = next(iter(preview)) if hasattr(preview, "take") else preview[0]
        callbacks.append(AudioSamples(out / "tb", ops.convert_to_numpy(mel)[:2], sample_every))
    return callbacks


@keeps_pipe_lists  # a list from a pipe, read once for the whole call
def train(
    data,
    out,
    preset: str = "arctic_16k",
    steps: int | None = None,
    batch_size: int = 12,
    segment_length: int = 16000,
    gan: bool = False,
    mixed_precision: str | None = None,
    resume: bool = False,
    init_from=None,
    learning_rate: float = 1e-4,
    discriminator_learning_rate: float = 2e-4,
    clipnorm: float | None = 1.0,
    ema: float | None = None,
    mae_weight: float = 4.0,
    stft_weight: float = 0.0,
    remove_group_mean: bool = False,
    group_mean_window: int | None = None,
    even_weight: float = 0.0,
    discriminator_start_step: int = 0,
    discriminator_warmup_steps: int = 0,
    discriminator_width: float = 1.0,
    msd_groups: str = "hifigan",
    discriminator_padding: str = "hifigan",
    discriminator_normalization: str = "hifigan",
    adv_weight: float = 1.0,
    fm_weight: float = 2.0,
    save_every: int = 500,
    keep_every: int = 0,
    sample_every: int = 1000,
    max_consecutive_skips: int = 10,
    split: str = "train",
    dequantize: bool = True,
    augment_speed: tuple[float, float] | None = None,
    augment_eq_db: float | None = None,
    peak: float | None = None,
    trim_db: float | None = None,
    seed: int = 0,
    verbose="auto",
    callbacks: list | None = None,
) -> dict:
    """Trains (or resumes) a WaveGlow on a folder of audio; everything lands in `out`.

    `out` receives `run_config.json` (the settings; a resume must pass the same ones),
    `last.weights.h5`/`best.weights.h5` + `training_state.json` (full state, atomic),
    `waveglow.keras` (the generator, loadable by `vocode`), `log.csv` and TensorBoard logs
    (`tb/`). Training runs exactly `steps` steps in epochs of `save_every`
    steps (the last one shorter when `save_every` does not divide `steps`), with a checkpoint
    at each epoch end; resuming restores the full state and skips the batches already seen.
    With TF_CONFIG (TensorFlow) or KERAS_DISTRIBUTION_* (JAX) set it runs as one of several
    worker processes (`keras_waveglow.distributed`): `batch_size` is then the global batch and
    only worker 0 writes into `out`.

    Args:
        data: a folder of audio, an ARCTIC root, or a file list (see
            `keras_waveglow.data.make_dataset`).
        out: output folder; must be empty or absent unless `resume`.
        preset: WaveGlow preset. Default "arctic_16k", as `keras-waveglow train`'s (it was
            "tiny" before 2026-12-06).
        steps: total training steps, counting those of a resumed run; recorded in
            `run_config.json` (a resume records the total it was given). Default None: 1000
            for a new run, the run's recorded total for a resume.
        batch_size, segment_length: batch shape. Defaults 12 and 16000.
        gan: add the discriminator and adversarial terms. Default False.
        mixed_precision: None, "bf16" or "fp16" (loss scaling). Default None.
        resume: continue the run in `out`. Default False.
        init_from: warm start from a `.keras`, `.weights.h5` or NVIDIA checkpoint.
        learning_rate, discriminator_learning_rate: Adam learning rates.
        clipnorm: global-norm gradient clipping (None: off). Default 1.0.
        ema: momentum of an exponential moving average of the WaveGlow's weights kept by its
            optimizer (Keras `use_ema`), e.g. 0.999 (about the last 1,000 steps); the
            snapshots, `waveglow_best.keras` and `waveglow.keras` then hold the average, the
            checkpoints both (see `TrainingCheckpoint`). A resumed run must pass the same
            value. None: no average. Default None.
        mae_weight: weight of the log-mel MAE. Default 4.0, measured on klettres (README,
            learning curves): at 4 the held-out NLL falls as fast as with likelihood alone
            while the spectral envelope comes in; at 45 (HiFi-GAN's mel weight, `WaveGlowGAN`'s
            default before 2026-12-06) the likelihood collapses.
        stft_weight: weight of the multi-resolution STFT distance (`WaveGlowGAN`). Default
            0.0 (off).
        remove_group_mean: compare sampled and real audio without their `n_group`-periodic
            means (`WaveGlowGAN`). Default False.
        group_mean_window: None, or an odd number of groups for a sliding periodic mean
            instead of the segment's (`WaveGlowGAN`); setting it implies
            `remove_group_mean`. Default None.
        even_weight: weight of the even part's power share (`WaveGlowGAN`; a second inverse
            pass per step). Default 0.0 (off).
        discriminator_start_step, discriminator_warmup_steps, discriminator_width:
            `WaveGlowGAN` settings (with `gan`; the warm-up trains the discriminator alone
            for that many steps, for fine-tuning a trained flow). Defaults 0, 0, 1.0.
        adv_weight, fm_weight: with `gan`, the weights of the least-squares generator loss
            and of feature matching (`WaveGlowGAN`). Default 1.0 and 2.0 (HiFi-GAN's).
        msd_groups: "hifigan" or "dense" multi-scale convolutions (`build_gan`). Default
            "hifigan".
        discriminator_padding: "hifigan" or "same" (`build_gan`). Default "hifigan".
        discriminator_normalization: "hifigan" or "none" (`build_gan`). Default "hifigan".
        save_every: steps per epoch and checkpoint (the last epoch may be shorter).
            Default 500.
        keep_every: keep the generator's weights every this many steps as
            `out/snaps/<step>.weights.h5` (a multiple of `save_every`; 0: none), for learning
            curves and `average_generator_weights`. Default 0.
        sample_every: steps between TensorBoard audio samples (0: never). Default 1000.
        max_consecutive_skips: stop after this many non-finite steps in a row. Default 10.
        split: data split ("train", "all", ...). Default "train".
        dequantize: add +-0.5 LSB (16-bit) uniform noise to each training segment
            (`audio.dequantize`), so that the flow models a continuous density: without it,
            stretches of digital silence (exact zeros) reward an ever smaller scale with an
            unbounded likelihood, and held-out audio with a faint noise floor gets a huge NLL.
            False reproduces NVIDIA's recipe. Default True.
        augment_speed: None, or (low, high): half of the segments are cut from a speed
            (and pitch) perturbed copy of the file, the factor uniform in (low, high)
            (`audio.change_speed`), e.g. (0.9, 1.3) to hear higher voices than the data's.
            Default None.
        augment_eq_db: None, or the largest boost/cut in dB of a random equaliser on every
            segment, with a random high-pass (50 to 400 Hz) on half of them
            (`audio.random_eq`): recording channels the data does not have. Default None.
        peak: float or None, scale each training file to this peak before cutting segments
            (level normalisation; `make_dataset(peak=...)`). Default None (as recorded).
        trim_db: float or None, trim each training file's leading and trailing silence
            quieter than this many dB below its peak (`make_dataset(trim_db=...)`). Default
            None.
        seed: data and model seed, in [0, 2**32); also seeds Python's, NumPy's and the
            backend's global generators (`keras.utils.set_random_seed`), as a reproducible run
            needs, and leaves them so. Default 0.
        verbose: Keras `fit` verbosity. Default "auto".
        callbacks: more Keras callbacks for `fit`, run after the library's own (checkpoints,
            logs). Default None.

    Ctrl-C (SIGINT) or SIGTERM (a job scheduler's stop) does not lose the steps since the
    last checkpoint: the step under way finishes, is saved (`StopOnSignal`), and `train`
    returns with `interrupted` set; a second signal stops at once. The run then resumes
    exactly with `resume=True`. (One process only: several worker processes keep the default
    handlers.)

    Returns:
        A summary dict: steps (the step counter now), new_steps (taken by this call; 0 when a
        resumed run was at `steps` already), skipped_steps, interrupted (None, or the signal
        that stopped training early: "SIGINT", "SIGTERM"), last logs, output paths.

    Example:
        >>> train("data", "runs/tiny", preset="tiny", steps=50, batch_size=2,
        ...       segment_length=4096)
    """
    from keras_waveglow._paths import check_output_folder
    from keras_waveglow.data import make_dataset, resolve_files
    from keras_waveglow.distributed import setup_workers
    from keras_waveglow.presets import WEIGHTS

    workers = setup_workers()  # first: multi-process engines start before any computation
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a folder; --out names the run's folder.")
    check_output_folder(out, "the run folder")  # under a file, or not writable
    # The numbers, by name, before anything is written or loaded (the CLI's parser refuses
    # the same ones): a float step count would train a step less, a float segment length
    # fails inside tf.data, and a NaN loss weight drops its term and is recorded as invalid
    # JSON that no resume can match (NaN != NaN).
    if steps is None:  # a resume goes on to the run's recorded total
        steps = (_recorded_run_steps(out) if resume else None) or 1000
    steps = _checks.count("steps", steps, 1)
    batch_size = _checks.count("batch_size", batch_size, 1)
    segment_length = _checks.count("segment_length", segment_length, 1)
    save_every = _checks.count("save_every", save_every, 1)
    keep_every = _checks.count("keep_every", keep_every, 0)
    sample_every = _checks.count("sample_every", sample_every, 0)
    max_consecutive_skips = _checks.count("max_consecutive_skips", max_consecutive_skips, 1)
    discriminator_start_step = _checks.count(
        "discriminator_start_step", discriminator_start_step, 0
    )
    discriminator_warmup_steps = _checks.count(
        "discriminator_warmup_steps", discriminator_warmup_steps, 0
    )
    seed = _checks.count("seed", seed, 0)
    if seed >= 2**32:  # `keras.utils.set_random_seed` seeds NumPy's 32-bit global generator
        raise ValueError(f"seed must be below 2**32; got {seed}.")
    group_mean_window = check_group_mean_window(group_mean_window, "group_mean_window")

    def finite(name, value, above_zero=False):
        return _checks.finite(name, value, positive=above_zero)

    mae_weight = finite("mae_weight", mae_weight)
    stft_weight = finite("stft_weight", stft_weight)
    even_weight = finite("even_weight", even_weight)
    adv_weight = finite("adv_weight", adv_weight)
    fm_weight = finite("fm_weight", fm_weight)
    discriminator_width = finite("discriminator_width", discriminator_width, above_zero=True)
    learning_rate = finite("learning_rate", learning_rate, above_zero=True)
    discriminator_learning_rate = finite(
        "discriminator_learning_rate", discriminator_learning_rate, above_zero=True
    )
    if clipnorm is not None:
        clipnorm = _checks.number("clipnorm", clipnorm)
    if ema is not None:
        ema = _checks.number("ema", ema)
    if peak is not None:
        peak = _checks.number("peak", peak)
    if trim_db is not None:
        trim_db = _checks.number("trim_db", trim_db)
    if augment_eq_db is not None:
        augment_eq_db = finite("augment_eq_db", augment_eq_db)
    # A start killed before its first checkpoint leaves only its recipe, an empty log, the
    # TensorBoard folder and perhaps a temporary of a file it was writing: that is not a run,
    # and a new start may replace it (once every check below has passed). `kept`: the rest.
    kept = (
        sorted(p.name for p in out.iterdir() if not _dead_start_leftover(p)) if out.exists() else []
    )
    if resume and not (out / LAST_WEIGHTS).exists():
        # A run that diverged before its first checkpoint keeps its snapshots: neither
        # resumable nor a dead start, so both refusals name what is there.
        remedy = (
            f"it holds {', '.join(kept)}: move them away to start it again there, or use "
            "another folder."
            if kept
            else "start it again without resume."
        )
        raise FileNotFoundError(
            f"{out}: nothing to resume ({LAST_WEIGHTS} missing: no checkpoint was written "
            f"yet); {remedy}"
        )
    if workers.is_chief and not resume and kept:
        if not (out / LAST_WEIGHTS).exists():
            raise FileExistsError(
                f"{out}: output folder holds {', '.join(kept)} but no checkpoint "
                f"({LAST_WEIGHTS}), so there is nothing to resume either; move them away to "
                "start the run there, or use another folder."
            )
        raise FileExistsError(
            f"{out}: output folder is not empty; pass resume=True (CLI: --resume) to continue "
            "the run in it, or another folder."
        )
    if keep_every and keep_every % save_every:
        raise ValueError(
            f"keep_every must be 0 or a multiple of save_every ({save_every}); got {keep_every}."
        )
    if clipnorm is not None and not (math.isfinite(clipnorm) and clipnorm > 0):
        raise ValueError(
            f"clipnorm must be > 0 (or None / --clipnorm 0 for no clipping); got {clipnorm}."
        )
    if ema is not None and not 0.0 < ema < 1.0:
        raise ValueError(f"ema must be a momentum in (0, 1), e.g. 0.999; got {ema}.")
    if msd_groups not in MSD_GROUPS:  # before the run's recipe records it
        raise ValueError(f"msd_groups must be one of {MSD_GROUPS}; got {msd_groups!r}.")
    _check_discriminator_choices(discriminator_padding, discriminator_normalization)
    if discriminator_warmup_steps and not gan:
        raise ValueError(
            f"discriminator_warmup_steps ({discriminator_warmup_steps}) needs gan=True: "
            "without the discriminators there is nothing to warm up."
        )
    # Given without gan=True they would be recorded and do nothing (the CLI refuses them).
    gan_only = {
        "discriminator_learning_rate": discriminator_learning_rate,
        "discriminator_start_step": discriminator_start_step,
        "discriminator_width": discriminator_width,
        "msd_groups": msd_groups,
        "discriminator_padding": discriminator_padding,
        "discriminator_normalization": discriminator_normalization,
        "adv_weight": adv_weight,
        "fm_weight": fm_weight,
    }
    defaults = inspect.signature(train).parameters
    given = [f"{k}={v!r}" for k, v in gan_only.items() if v != defaults[k].default]
    if given and not gan and not resume:  # a resume is held to what its run recorded
        raise ValueError(
            f"{', '.join(given)}: discriminator settings, which need gan=True (CLI: --gan); "
            "without the discriminators they would change nothing."
        )
    if peak is not None and not 0.0 < peak <= 1.0:  # 0: silence; negative: polarity flipped
        raise ValueError(f"peak must be in (0, 1] (full scale is 1); got {peak}.")
    if trim_db is not None and not (trim_db > 0 and math.isfinite(trim_db)):
        raise ValueError(f"trim_db must be > 0 (dB below each file's peak); got {trim_db}.")
    if split not in ("train", "all"):
        raise ValueError(
            f"train reads split 'train' or 'all'; {split!r} is a held-out split (score it with "
            "`keras-waveglow evaluate`)."
        )
    folder = isinstance(data, str | os.PathLike) and Path(data).is_dir()
    recorded = _recorded_data_files(out) if resume and split != "all" and folder else None
    refusal = None
    try:
        files = resolve_files(data, split)  # once, before building anything: errors first
    except ValueError as error:
        if recorded is None:  # a folder of prepared folders, refused for split "train"
            raise
        files, refusal = None, error
    fingerprint = None if files is None else _files_fingerprint(files)
    if recorded is not None and (files is None or _fingerprint_differences(recorded, fingerprint)):
        # A run started on a prepared folder before its train.txt was read for split "train"
        # (or on a folder of them before those were refused) read every file: it resumes on
        # those, as its record says (not refused as other data).
        whole = resolve_files(data, "all")
        whole_fingerprint = _files_fingerprint(whole)
        if not _fingerprint_differences(recorded, whole_fingerprint):
            warnings.warn(
                f"{data}: the run read every file of the folder (its {split}.txt, or the "
                f"split lists of the prepared folders in it, were not read then); it resumes on "
                f"the same {len(whole)} files.",
                stacklevel=2,
            )
            files, fingerprint = whole, whole_fingerprint
        elif refusal is not None:
            raise refusal  # as a new run gets it
    recipe = {
        "preset": preset,
        "batch_size": batch_size,
        "segment_length": segment_length,
        "gan": gan,
        "mixed_precision": mixed_precision,
        "learning_rate": learning_rate,
        "discriminator_learning_rate": discriminator_learning_rate,
        "clipnorm": clipnorm,
        "ema": ema,
        "mae_weight": mae_weight,
        "stft_weight": stft_weight,
        "stft_floor": STFT_FLOOR_DEFINITION,
        # What the model is built with: a window implies the removal.
        "remove_group_mean": bool(remove_group_mean or group_mean_window is not None),
        "group_mean_window": group_mean_window,
        "even_weight": even_weight,
        "discriminator_start_step": discriminator_start_step,
        "discriminator_warmup_steps": discriminator_warmup_steps,
        "discriminator_width": discriminator_width,
        "msd_groups": msd_groups,
        "discriminator_padding": discriminator_padding,
        "discriminator_normalization": discriminator_normalization,
        "adv_weight": adv_weight,
        "fm_weight": fm_weight,
        "save_every": save_every,
        "split": split,
        "dequantize": dequantize,
        "augment_speed": augment_speed,
        "augment_eq_db": augment_eq_db,
        "peak": peak,
        "trim_db": trim_db,
        "seed": seed,
    }
    named = isinstance(data, str | os.PathLike)
    piped = named and is_pipe(data)
    if workers.is_chief:
        _check_or_record_recipe(
            out,
            recipe,
            resume,
            # A pipe (`<(ls ...)`) names nothing a resume could read again: not recorded, so a
            # resume asks for --data.
            data=None if piped else data,
            data_path=str(Path(data).resolve()) if named and not piped else None,
            init_from=init_from,
            data_files=fingerprint,
            keep_every=keep_every,  # not the recipe (they change no step): what a resume
            sample_every=sample_every,  # on the command line takes when not told
            steps=steps,  # the run's total: a resume that extends it records the new one
            backend=keras.backend.backend(),  # its noise stream: a resume elsewhere differs
        )
    if resume:  # the run's own files, read before the model is built: errors come first
        read_training_state(out)
        _check_checkpoint_readable(out / LAST_WEIGHTS)
        if workers.is_chief:  # extended or cut short: a later resume goes on to this total
            _record_run_steps(out, steps)
    if mixed_precision not in _POLICIES:
        raise ValueError(
            f"mixed_precision must be one of None, 'bf16', 'fp16'; got {mixed_precision!r}."
        )
    # The layers take the policy when built; the caller's own is restored after (a notebook's
    # next model would otherwise compute in bf16 or fp16).
    caller_policy = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy(_POLICIES[mixed_precision])
        keras.utils.set_random_seed(seed)
        with workers.scope():  # every worker builds the same model (same seed)
            model = build_gan(
                preset,
                gan=gan,
                discriminator_width=discriminator_width,
                init_from=None if resume else init_from,
                seed=seed,
                msd_groups=msd_groups,
                discriminator_padding=discriminator_padding,
                discriminator_normalization=discriminator_normalization,
                mae_weight=mae_weight,
                stft_weight=stft_weight,
                remove_group_mean=remove_group_mean or group_mean_window is not None,
                group_mean_window=group_mean_window,
                even_weight=even_weight,
                # Without --gan they do nothing (a new start refuses them; an old run's record
                # may hold them): left at the defaults, which WaveGlowGAN requires then.
                **(
                    {
                        "discriminator_start_step": discriminator_start_step,
                        "discriminator_warmup_steps": discriminator_warmup_steps,
                        "adv_weight": adv_weight,
                        "fm_weight": fm_weight,
                    }
                    if gan
                    else {}
                ),
            )
            model.compile(**_optimizers(recipe))
    finally:
        keras.config.set_dtype_policy(caller_policy)
    shortest = model.waveglow.n_fft // 2 + 1
    if segment_length < shortest:
        raise ValueError(
            f"segment_length must be at least n_fft // 2 + 1 = {shortest} samples for the "
            f"{preset!r} mel; got {segment_length}."
        )
    done = restore_training_state(model, out) if resume else 0
    if resume and workers.is_chief:
        with outside_distribution():  # the chief writes alone (see keras_waveglow.distributed)
            completed = _complete_interrupted_save(model, out, keep_every)
            if done >= steps and (completed or not (out / GENERATOR_FILE).exists()):
                # The run's end was that save: its generator export, as fit's end writes it.
                with generator_average_swapped_in(model):
                    _atomic_write(out / GENERATOR_FILE, model.waveglow.save)
    if done >= steps:
        warnings.warn(
            f"{out}: nothing to train: the run is at step {done} already (steps={steps}).",
            stacklevel=2,
        )
    if resume and init_from is not None:
        warnings.warn(
            f"init_from={str(init_from)!r} is ignored: a resumed run continues from its own "
            f"checkpoint ({out / LAST_WEIGHTS}).",
            stacklevel=2,
        )
    if preset in WEIGHTS and init_from is None and not resume:
        warnings.warn(
            f"preset {preset!r} has trained weights, but this run starts from random ones "
            f"(its architecture only); to fine-tune from them pass init_from={preset!r} "
            f"(CLI: --init-from {preset}).",
            stacklevel=2,
        )
    epoch_steps = max(1, min(save_every, steps))
    # A run stopped off the epoch grid (its --steps was no multiple of the epoch, and it is
    # now extended) resumes with epochs counted from where it stopped, numbered after the
    # ones it logged; its checkpoints then follow the step counter (every save_every steps),
    # so they and the snapshots fall where the uninterrupted run's do.
    initial_epoch = -(-done // epoch_steps)
    epochs = initial_epoch + max(0, math.ceil((steps - done) / epoch_steps))
    save_freq = 0 if done % epoch_steps == 0 else save_every

    augment = {"dequantize": bool(dequantize)}
    if augment_speed is not None:
        augment.update(speed=tuple(augment_speed), speed_prob=0.5)
    if augment_eq_db:
        augment["eq_db"] = float(augment_eq_db)

    def new_dataset(rows=None, start_batch=None):
        return make_dataset(
            files,
            model.waveglow,
            split=split,
            batch_size=batch_size,
            segment_length=segment_length,
            seed=seed,
            rows=rows,
            augment=augment,
            peak=peak,
            trim_db=trim_db,
            start_batch=start_batch,
        )

    def worker_dataset(start, stop):  # this worker's rows of every global batch
        rows = None if (start, stop) == (0, batch_size) else (start, stop)
        # Endless, from the batch a resumed run is at (the skipped ones are not loaded), on
        # either engine: a resumed run sees the batches the uninterrupted one would have.
        return new_dataset(rows, start_batch=done)

    if workers.is_chief and not resume and out.exists():  # every check passed: replaced now
        shutil.rmtree(out / "tb", ignore_errors=True)  # the dead start's events: not this run's
        (out / "log.csv").unlink(missing_ok=True)
        _clean_stale_temporaries(out)
    dataset = workers.distribute(worker_dataset, batch_size)
    skips = StopOnConsecutiveSkips(max_consecutive_skips)
    fit_callbacks = [_StopAtStep(steps), skips]
    if workers.is_chief:  # only the chief writes checkpoints, logs and samples
        several_jax_processes = workers.engine == "jax.distributed"
        with _data_errors_named():  # takes a batch for its audio samples
            fit_callbacks += _writing_callbacks(
                out,
                resume,
                epoch_steps,
                sample_every,
                new_dataset,
                several_jax_processes,
                keep_every=keep_every,
                save_freq=save_freq,
            )
    else:
        verbose = 0
    fit_callbacks += list(callbacks or [])
    stop = StopOnSignal()
    # Several workers must stop together, not on one's signal: they keep the default handlers.
    takes_signals = workers.engine == "single"
    if takes_signals:
        fit_callbacks.append(stop)
    history = {}
    if done < steps:
        with _data_errors_named(), stop if takes_signals else contextlib.nullcontext():
            history = model.fit(
                dataset,
                epochs=epochs,
                initial_epoch=initial_epoch,
                steps_per_epoch=epoch_steps,
                callbacks=fit_callbacks,
                shuffle=False,  # the dataset is shuffled (seeded) already
                verbose=verbose,
            ).history
    last = {k: float(v[-1]) for k, v in history.items()}
    reached = int(ops.convert_to_numpy(model.step_counter.value))
    return {
        "steps": reached,
        "new_steps": reached - done,
        "skipped_steps": int(ops.convert_to_numpy(model.skipped_steps.value)),
        "interrupted": stop.received,
        # The step at which `max_consecutive_skips` non-finite steps in a row ended the run.
        "stopped_on_skips": skips.stopped_at_step,
        "logs": last,
        "checkpoint": str(out / LAST_WEIGHTS) if (out / LAST_WEIGHTS).exists() else None,
        "checkpoint_step": read_training_state(out).get("step") if workers.is_chief else None,
        "generator": str(out / GENERATOR_FILE),
    }
