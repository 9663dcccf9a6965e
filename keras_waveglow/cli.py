"""`keras-waveglow` command line: parses arguments and calls the public API, nothing more.

Nothing heavy is imported at module level: `--help` and argument errors answer at once, and
Keras, the backend and the rest load only when a command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import signal
import sys
from pathlib import Path

from keras_waveglow._paths import (
    file_in_the_way,
    folder_refusal,
    is_training_checkpoint,
    prepare_output,
)

DESCRIPTION = """\
WaveGlow vocoder (mel spectrogram -> waveform) for Keras 3, on TensorFlow or JAX.

  keras-waveglow presets
  keras-waveglow download arctic --speakers slt --dest data/
  keras-waveglow train --preset tiny --data data/ --steps 30 --out runs/tiny
  keras-waveglow vocode mels/ -o wavs/ --model runs/tiny/waveglow.keras
  keras-waveglow evaluate --model runs/tiny/waveglow.keras --data data/ --out report/
  keras-waveglow compare report/ report_other/
  keras-waveglow export --model runs/tiny/waveglow.keras --out waveglow.onnx

Run `keras-waveglow COMMAND --help` for a command's options. The backend is Keras' own
(KERAS_BACKEND=tensorflow or jax)."""


def _add_download(subparsers, common) -> None:
    p = subparsers.add_parser(
        "download",
        parents=[common],
        help="download a corpus (CMU ARCTIC) or a preset's weights",
        description=(
            "Download CMU ARCTIC speakers (resumable, verified, extracted safely), or a preset's "
            "published weights (verified, converted once and cached)."
        ),
    )
    p.add_argument(
        "corpus",
        metavar="arctic|PRESET",
        help="'arctic', or a preset with downloadable weights (see `keras-waveglow presets`)",
    )
    # The ARCTIC options default to None (filled in by _check_download) so that one given with a
    # preset is seen and refused, not ignored.
    p.add_argument(
        "--speakers",
        default=None,
        help="comma-separated speakers (awb,bdl,clb,jmk,ksp,rms,slt) or 'all' (default: slt)",
    )
    p.add_argument("--dest", default=None, help="data root for the speaker folders (default: data)")
    p.add_argument("--base-url", default=None, help="mirror of festvox's packed/ folder")
    p.add_argument(
        "--sha256",
        action="append",
        default=[],
        metavar="SPEAKER=HEX",
        help="expected archive checksum (repeatable)",
    )
    p.add_argument("--splits", default=None, help="also write train/dev/eval file lists here")
    p.add_argument("--overwrite", action="store_true", help="replace existing --splits file lists")
    p.add_argument("--keep-archive", action="store_true", help="keep the .tar.bz2 files")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--allow-unverified",
        action="store_true",
        help="preset weights: accept a checkpoint whose sha256 is not recorded or differs "
        "from the recorded one (prints its digest)",
    )
    p.add_argument(
        "--refresh",
        action="store_true",
        help=(
            "preset weights: convert anew in place of the preset's cached conversion (kept if "
            "the refresh fails; the checkpoint is downloaded again unless it is in place), "
            "e.g. after an upgrade"
        ),
    )
    p.set_defaults(func=_run_download, precheck=_check_download)


# `download`'s options that only an ARCTIC download reads: parser name -> flag.
_ARCTIC_ONLY_OPTIONS = {
    "speakers": "--speakers",
    "dest": "--dest",
    "base_url": "--base-url",
    "sha256": "--sha256",
    "splits": "--splits",
    "overwrite": "--overwrite",
    "keep_archive": "--keep-archive",
}
_SHA256_HEX = frozenset("0123456789abcdefABCDEF")


def _check_download(args) -> int:
    """What `download` can refuse before anything is fetched (or a backend loads): at once."""

    def refuse(message: str) -> int:
        print(f"keras-waveglow download: error: {message}", file=sys.stderr)
        return 2

    if args.corpus != "arctic":
        from keras_waveglow.presets import PRESETS, WEIGHTS, did_you_mean

        with_weights = ", ".join(sorted(WEIGHTS)) or "none"
        if args.corpus not in PRESETS:
            return refuse(
                f"{args.corpus!r} is neither `arctic` nor a preset.{did_you_mean(args.corpus)} "
                f"Presets with weights: {with_weights}."
            )
        if args.corpus not in WEIGHTS:
            return refuse(
                f"preset {args.corpus!r} is an architecture only: it has no trained weights to "
                f"download. Presets with weights: {with_weights}."
            )
        bundled = [
            flag
            for flag, given in (
                ("--refresh", args.refresh),
                ("--allow-unverified", args.allow_unverified),
            )
            if given
        ]
        if bundled and WEIGHTS[args.corpus].get("file"):
            return refuse(
                f"{', '.join(bundled)}: preset {args.corpus!r}'s weights are bundled with the "
                "package; nothing of it is downloaded or cached."
            )
        given = [
            flag
            for option, flag in _ARCTIC_ONLY_OPTIONS.items()
            if getattr(args, option) not in (None, False, [])
        ]
        if given:
            return refuse(
                f"{', '.join(given)}: only for `download arctic`, not for a preset's weights "
                f"({args.corpus!r}); leave {'it' if len(given) == 1 else 'them'} out."
            )
        return 0
    for flag in ("allow_unverified", "refresh"):
        if getattr(args, flag):
            option = "--" + flag.replace("_", "-")
            return refuse(f"{option} applies to a preset's weights, not to `arctic`.")
    if args.speakers is None:
        args.speakers = "slt"
    if args.dest is None:
        args.dest = "data"
    args.checksums = {}
    for item in args.sha256:
        speaker, sep, digest = item.partition("=")
        if not sep or not digest:
            return refuse(f"--sha256 expects SPEAKER=HEX; got {item!r}")
        if len(digest) != 64 or not set(digest) <= _SHA256_HEX:
            return refuse(
                f"--sha256 {item}: the checksum for {speaker!r} must be 64 hexadecimal "
                f"characters (a SHA-256 digest); got {digest!r} ({len(digest)} characters)."
            )
        args.checksums[speaker] = digest
    # Not writability: speakers already downloaded there are only read (a shared, read-only
    # corpus); a download into it fails naming the file.
    if (problem := folder_refusal(args.dest, "the data folder", writable=False)) is not None:
        return refuse(f"--dest {problem}")
    if args.overwrite and not args.splits:
        return refuse("--overwrite replaces --splits file lists; it needs --splits.")
    if args.splits:
        if (problem := folder_refusal(args.splits, "the file-list folder")) is not None:
            return refuse(f"--splits {problem}")
        if not args.overwrite:  # refused before a long download, not after
            for name in ("train", "dev", "eval"):
                existing = Path(args.splits) / f"{name}.txt"
                if existing.exists():
                    return refuse(f"{existing} exists; pass --overwrite to replace the lists.")
    return 0


def _run_download(args) -> int:
    if args.corpus != "arctic":
        return _run_download_preset(args)
    from keras_waveglow.data import arctic

    try:  # a bad speaker list is refused before anything is fetched (exit 2, as other refusals)
        arctic.check_checksum_speakers(args.checksums, arctic.parse_speakers(args.speakers))
    except ValueError as error:
        print(f"download failed: {error}", file=sys.stderr)
        return 2
    try:
        folders = arctic.download_arctic(
            args.speakers,
            args.dest,
            base_url=args.base_url,
            sha256=args.checksums,
            progress=not args.no_progress,
            keep_archive=args.keep_archive,
        )
        if args.splits:
            speakers = arctic.parse_speakers(args.speakers)
            splits = arctic.split_corpus(arctic.load_corpus(args.dest, speakers))
            arctic.write_file_lists(splits, args.splits, overwrite=args.overwrite)
    except (OSError, ValueError) as error:
        print(f"download failed: {error}", file=sys.stderr)
        return 1
    for folder in folders:
        print(folder)
    return 0


def _run_download_preset(args) -> int:
    from keras_waveglow import hub

    try:
        path = hub.download_preset(
            args.corpus,
            allow_unverified=args.allow_unverified,
            progress=not args.no_progress,
            refresh=args.refresh,
        )
    except (OSError, ValueError, ImportError) as error:  # a cache file's names the cache
        print(f"download failed: {error}", file=sys.stderr)
        return 1
    if hub.weights_kind(args.corpus) == "bundled":
        print(
            f"{args.corpus}: weights bundled with the package; nothing to download.",
            file=sys.stderr,
        )
    else:
        # Converted files are named by their checkpoint's sha256: what presets.WEIGHTS records.
        print(f"checkpoint sha256 {path.name.split('.')[0]}", file=sys.stderr)
    print(path)
    return 0


def _add_presets(subparsers, common) -> None:
    p = subparsers.add_parser(
        "presets",
        parents=[common],
        help="list the presets: sample rate, parameters, weights, training data, licence",
        description=(
            "List every WaveGlow preset with its sample rate, parameter count, whether trained "
            "weights are bundled, downloadable or absent, the training data and the licence."
        ),
    )
    p.set_defaults(func=_run_presets)


def _run_presets(args) -> int:
    from keras_waveglow import hub

    rows = hub.describe_presets()
    header = ("preset", "rate", "params", "weights", "training data", "licence")

    def weights(row: dict) -> str:  # a download without a recorded digest needs consent
        unverified = row["weights"] == "downloadable" and not row["sha256"]
        return "downloadable, no sha256 (--allow-unverified)" if unverified else row["weights"]

    table = [header] + [
        (
            r["name"],
            str(r["sample_rate"]),
            f"{r['parameters'] / 1e6:.2f}M",
            weights(r),
            r["data"],
            r["license"],
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    print(f"\ncache: {hub.cache_dir()} (set ${hub.HOME_ENV_VAR} to move it)")
    return 0


# `keras_waveglow.data.debian.CORPORA`, named here so that building the parser imports no Keras.
PREPARE_CORPORA = ("fillets-cs", "fillets-nl", "klettres")
PREPARE_RATES = (8000, 192000)  # `prepare --sample-rate`: telephone speech to studio audio


def _add_prepare(subparsers, common) -> None:
    p = subparsers.add_parser(
        "prepare",
        parents=[common],
        help="prepare a speech corpus that Debian packages (klettres, fillets-nl, fillets-cs)",
        description=(
            "Prepare real speech from a Debian package: klettres (klettres-data: spoken "
            "letters and syllables, about 20 speakers, GPL-2+) or fillets-nl / fillets-cs "
            "(fillets-ng-data-nl/-cs: the Dutch or Czech dialogue of Fish Fillets, acted "
            "sentences, GPL-2). Fetches the .deb with `apt-get download` (or use --deb), "
            "extracts it, resamples every recording, holds out whole speakers, and writes "
            "train/eval file lists, per-speaker durations (<corpus>.json) and the licence notice."
        ),
    )
    p.add_argument("corpus", choices=PREPARE_CORPORA, help="the corpus to prepare")
    p.add_argument("--dest", required=True, help="output folder (must not exist, or be empty)")
    p.add_argument(
        "--sample-rate",
        type=_int_in(PREPARE_RATES[0], PREPARE_RATES[1]),
        default=22050,
        help=f"target rate in Hz, {PREPARE_RATES[0]} to {PREPARE_RATES[1]} (default 22050)",
    )
    p.add_argument("--deb", default=None, help="the corpus' .deb or extracted folder (no apt-get)")
    p.add_argument(
        "--eval-speakers",
        default=None,
        help="comma-separated held-out speakers (default: klettres de,it,pt_BR, the bundled "
        "model's, else 3 spread over the alphabetical list, with a warning; fillets v)",
    )
    p.add_argument("--format", choices=["wav", "flac"], default="wav", help="audio format")
    p.set_defaults(func=_run_prepare, precheck=_check_prepare)


def _check_prepare(args) -> int:
    """What `prepare` can refuse before apt-get runs or a backend loads: at once."""
    if (problem := folder_refusal(args.dest, "the output folder")) is not None:
        print(f"keras-waveglow prepare: error: --dest {problem}", file=sys.stderr)
        return 2
    return 0


def _run_prepare(args) -> int:
    from keras_waveglow.data import debian

    speakers = None
    if args.eval_speakers is not None:  # "de, it" as "de,it"; "" names none: refused
        speakers = [name.strip() for name in args.eval_speakers.split(",") if name.strip()]
    try:
        summary = debian.prepare_debian_speech(
            args.corpus,
            args.dest,
            sample_rate=args.sample_rate,
            deb=args.deb,
            eval_speakers=speakers,
            audio_format=args.format,
        )
    except (FileExistsError, FileNotFoundError, ValueError) as error:
        # refused before any work: a bad argument, .deb or destination (as train, vocode)
        print(f"keras-waveglow prepare: error: {error}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError) as error:  # the download or a write failed on the way
        print(f"prepare failed: {error}", file=sys.stderr)
        return 1
    for split in ("train", "eval"):
        part = summary["splits"][split]
        print(
            f"{split}: {len(part['speakers'])} speakers, {part['files']} files, "
            f"{part['seconds'] / 60:.1f} min -> {summary['lists'][split]}"
        )
    if summary.get("unattributed"):
        print(
            f"in neither: {len(summary['unattributed'])} files whose names do not say who "
            f"speaks (listed in {Path(args.dest) / (summary['corpus'] + '.json')})"
        )
    return 0


def _at_least(minimum: int):
    """An argparse type: an int >= `minimum`, refused by argparse at once (exit 2, usage)."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}; got {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in its "invalid int value" message
    return parse


def _int_in(low: int, high: int):
    """An argparse type: an int in [low, high], refused by argparse at once (exit 2, usage)."""

    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be in [{low}, {high}]; got {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in its "invalid int value" message
    return parse


def _number(low: float | None = None, high: float | None = None, *, above: bool = False):
    """An argparse type: a finite float in [low, high] (`above`: strictly above `low`),
    refused by argparse at once (exit 2, usage) instead of after TensorFlow has loaded."""

    def parse(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number; got {text}")
        if low is not None and (value <= low if above else value < low):
            raise argparse.ArgumentTypeError(f"must be {'>' if above else '>='} {low}; got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high}; got {text}")
        return value

    parse.__name__ = "float"  # argparse names the type in its "invalid float value" message
    return parse


def _add_train(subparsers, common) -> None:
    p = subparsers.add_parser(
        "train",
        parents=[common],
        help="train (or resume, or fine-tune) a WaveGlow on a folder of audio",
        description=(
            "Train a WaveGlow with model.fit: flow likelihood, log-mel MAE and, with --gan, "
            "adversarial terms. Writes atomic checkpoints (last/best), waveglow.keras (loadable "
            "by `vocode`), log.csv and TensorBoard logs to --out."
        ),
    )
    p.add_argument(
        "--data",
        default=None,
        help="ARCTIC root, audio folder or file list (required; with --resume, default: the run's)",
    )
    p.add_argument("--out", required=True, help="run folder (must be empty unless --resume)")
    p.add_argument("--preset", default=None, help="WaveGlow preset (default arctic_16k)")
    p.add_argument(
        "--steps",
        type=_at_least(1),
        default=None,
        help="training steps, exactly (the last epoch is shorter when --save-every does not "
        "divide it; with --resume, the total including those done). Default 1000; with "
        "--resume, the run's total (the last --steps it was given)",
    )
    p.add_argument(
        "--batch-size", type=_at_least(1), default=None, help="examples per step (default 12)"
    )
    p.add_argument(
        "--segment-length", type=_at_least(1), default=None, help="samples per example (16000)"
    )
    p.add_argument(
        "--split",
        choices=("train", "all"),
        default=None,
        help="data split of an ARCTIC corpus or a folder `prepare` wrote (its train.txt): "
        "train (default) or all (dev and eval are held out: score them with `keras-waveglow "
        "evaluate`); other folders and file lists are read whole",
    )
    p.add_argument(
        "--gan", action="store_true", default=None, help="add the HiFi-GAN discriminators"
    )
    p.add_argument(
        "--discriminator-width",
        type=_number(0, above=True),
        default=None,
        help="channel multiplier (default 1)",
    )
    p.add_argument(
        "--msd-groups",
        choices=("hifigan", "dense"),
        default=None,
        help="multi-scale discriminator convolutions: HiFi-GAN's groups (default) or dense, "
        "as GAN runs before 2026-12-05 were built (pass it to resume one)",
    )
    p.add_argument(
        "--discriminator-padding",
        choices=("hifigan", "same"),
        default=None,
        help="discriminator padding: HiFi-GAN's zeros (default; its outputs, given its weights) "
        "or Keras' 'same', as GAN runs before 2026-12-07 were built (pass it to resume one)",
    )
    p.add_argument(
        "--discriminator-normalization",
        choices=("hifigan", "none"),
        default=None,
        help="discriminator kernels: HiFi-GAN's weight norm, spectral norm on the first "
        "scale (default), or plain, as GAN runs recorded before the option were built "
        "(pass it to resume one)",
    )
    p.add_argument(
        "--discriminator-start",
        type=_at_least(0),
        default=None,
        help="step the GAN starts at (default 0)",
    )
    p.add_argument(
        "--discriminator-learning-rate",
        type=_number(0, above=True),
        default=None,
        help="with --gan: the discriminators' Adam learning rate (default 2e-4)",
    )
    p.add_argument(
        "--discriminator-warmup",
        type=_at_least(0),
        default=None,
        help="with --gan: steps after --discriminator-start in which the discriminator trains "
        "alone, the flow getting no adversarial gradient (for fine-tuning a trained flow; "
        "default 0)",
    )
    p.add_argument(
        "--adv-weight",
        type=_number(0),
        default=None,
        help="with --gan: weight of the least-squares generator loss (default 1, HiFi-GAN's)",
    )
    p.add_argument(
        "--fm-weight",
        type=_number(0),
        default=None,
        help="with --gan: weight of the feature-matching loss (default 2, HiFi-GAN's)",
    )
    p.add_argument(
        "--mae-weight",
        type=_number(0),
        default=None,
        help="log-mel MAE weight (default 4, measured)",
    )
    p.add_argument(
        "--stft-weight",
        type=_number(0),
        default=None,
        help="multi-resolution STFT distance weight (resolves harmonics; default 0: off)",
    )
    p.add_argument(
        "--remove-group-mean",
        action="store_true",
        default=None,
        help="compare sampled and real audio without their n_group-periodic means in the MAE "
        "and STFT terms (against the comb at multiples of rate / n_group)",
    )
    p.add_argument(
        "--group-mean-window",
        type=int,
        default=None,
        metavar="GROUPS",
        help="with --remove-group-mean (implied), a centred sliding mean over this odd number "
        "of groups instead of the whole segment's, so a comb that follows the mel is removed too",
    )
    p.add_argument(
        "--even-weight",
        type=_number(0),
        default=None,
        help="weight of the sampled audio's even part, (x(z) + x(-z)) / 2, as a share of its "
        "power: a second inverse pass with z negated (default 0: off)",
    )
    p.add_argument(
        "--mixed-precision", choices=["bf16", "fp16"], default=None, help="default: float32"
    )
    p.add_argument(
        "--learning-rate", type=_number(0, above=True), default=None, help="default 1e-4"
    )
    p.add_argument(
        "--clipnorm", type=_number(0), default=None, help="global-norm clip (0: off; default 1)"
    )
    p.add_argument(
        "--ema",
        type=_number(0, above=True),
        default=None,
        help="keep an exponential moving average of the weights with this momentum, e.g. "
        "0.999; snapshots and the exported models hold the average (default: none; a resumed "
        "run needs the same value)",
    )
    p.add_argument(
        "--save-every",
        type=_at_least(1),
        default=None,
        help="steps per epoch and checkpoint (default 500)",
    )
    p.add_argument(
        "--keep-every",
        type=_at_least(0),
        default=None,
        help="keep the generator's weights every N steps in OUT/snaps/ (a multiple of "
        "--save-every; for learning curves and `keras-waveglow average`; default: none)",
    )
    p.add_argument(
        "--sample-every",
        type=_at_least(0),
        default=None,
        help="steps per audio sample (0: none; default 1000)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help=f"continue the run in --out with the settings in its {_RECIPE_FILE}: the options "
        "left out (--data included) take the run's values, and one given otherwise is refused",
    )
    p.add_argument(
        "--init-from",
        default=None,
        help=".keras, .weights.h5, NVIDIA checkpoint or a preset with weights to start from",
    )
    p.add_argument(
        "--no-dequantize",
        dest="dequantize",
        action="store_false",
        default=None,
        help="train on the PCM values as decoded, without the +-0.5 LSB uniform noise that "
        "keeps digital silence from drawing the likelihood to -inf (NVIDIA's recipe)",
    )
    p.add_argument(
        "--augment-speed",
        type=_number(0, above=True),
        nargs=2,
        default=None,
        metavar=("LOW", "HIGH"),
        help="cut half of the segments from a speed (and pitch) perturbed copy, the factor "
        "uniform in [LOW, HIGH], e.g. 0.9 1.3 (default: off)",
    )
    p.add_argument(
        "--augment-eq",
        type=_number(0),
        default=None,
        metavar="DB",
        help="a random equaliser of up to +-DB dB on every segment, with a random 50-400 Hz "
        "high-pass on half of them (default: off)",
    )
    p.add_argument(
        "--peak",
        type=_number(0, 1, above=True),
        default=None,
        help="scale each training file to this peak, in (0, 1], first (level normalisation; "
        "default: off)",
    )
    p.add_argument(
        "--trim-db",
        type=_number(0, above=True),
        default=None,
        help="trim each training file's leading/trailing silence quieter than this many dB "
        "below its peak (default: off)",
    )
    p.add_argument("--seed", type=int, default=None, help="below 2**32 (default 0)")
    p.set_defaults(func=_run_train, precheck=_check_train)


_RECIPE_FILE = "run_config.json"  # training.RECIPE_FILE, read here without loading Keras

# `train`'s options that are part of a run's recipe: parser name -> (name in the recipe,
# default). The parser leaves them None, so an option left out takes its default on a new run
# and the run's recorded value on a resumed one.
_TRAIN_RECIPE_OPTIONS = {
    "preset": ("preset", "arctic_16k"),
    "batch_size": ("batch_size", 12),
    "segment_length": ("segment_length", 16000),
    "split": ("split", "train"),
    "gan": ("gan", False),
    "discriminator_width": ("discriminator_width", 1.0),
    "msd_groups": ("msd_groups", "hifigan"),
    "discriminator_padding": ("discriminator_padding", "hifigan"),
    "discriminator_normalization": ("discriminator_normalization", "hifigan"),
    "discriminator_start": ("discriminator_start_step", 0),
    "discriminator_warmup": ("discriminator_warmup_steps", 0),
    "discriminator_learning_rate": ("discriminator_learning_rate", 2e-4),
    "adv_weight": ("adv_weight", 1.0),
    "fm_weight": ("fm_weight", 2.0),
    "mae_weight": ("mae_weight", 4.0),
    "stft_weight": ("stft_weight", 0.0),
    "remove_group_mean": ("remove_group_mean", False),
    "group_mean_window": ("group_mean_window", None),
    "even_weight": ("even_weight", 0.0),
    "mixed_precision": ("mixed_precision", None),
    "learning_rate": ("learning_rate", 1e-4),
    "clipnorm": ("clipnorm", 1.0),
    "ema": ("ema", None),
    "save_every": ("save_every", 500),
    "dequantize": ("dequantize", True),
    "augment_speed": ("augment_speed", None),
    "augment_eq": ("augment_eq_db", None),
    "peak": ("peak", None),
    "trim_db": ("trim_db", None),
    "seed": ("seed", 0),
}


# `train`'s options that only a GAN run reads: parser name -> flag. Given without --gan (new
# or recorded), they are refused, not ignored.
_GAN_ONLY_OPTIONS = {
    "discriminator_width": "--discriminator-width",
    "msd_groups": "--msd-groups",
    "discriminator_padding": "--discriminator-padding",
    "discriminator_normalization": "--discriminator-normalization",
    "discriminator_start": "--discriminator-start",
    "discriminator_warmup": "--discriminator-warmup",
    "discriminator_learning_rate": "--discriminator-learning-rate",
    "adv_weight": "--adv-weight",
    "fm_weight": "--fm-weight",
}


# Options recorded beside the recipe (they change no step, so a resume may change them): on a
# resumed run, left out, they take the run's values too.
_TRAIN_RUN_OPTIONS = {"keep_every": 0, "sample_every": 1000, "steps": 1000}


def _fill_train_options(args) -> str | None:
    """Gives `train`'s recipe options left out their values: with --resume, the run's (from
    its run_config.json, --data included), else the defaults. Returns a refusal, or None.

    A recipe that cannot be read is left to `train`, which names the problem; a setting the
    run did not record (runs older than the option) takes the default, which `train` then
    compares with what the run was built with.
    """
    recorded, data, payload = {}, None, {}
    path = Path(args.out) / _RECIPE_FILE
    if args.resume and path.is_file():
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            recorded, data = dict(payload["recipe"]), payload.get("data")
        except (OSError, ValueError, KeyError, TypeError):
            recorded, data, payload = {}, None, {}
    for option, (key, default) in _TRAIN_RECIPE_OPTIONS.items():
        if getattr(args, option) is None:
            setattr(args, option, recorded.get(key, default))
    for option, default in _TRAIN_RUN_OPTIONS.items():
        if getattr(args, option) is None:
            value = payload.get(option)  # a dict: one without "recipe" was reset to {}
            setattr(args, option, value if isinstance(value, int) else default)
    if args.clipnorm is None:  # recorded as None when the run was given 0 (off)
        args.clipnorm = 0.0
    if args.data is None:
        if data is None:
            if not args.resume:
                return "the following argument is required: --data"
            out = Path(args.out)
            if not path.exists() and not (out.is_dir() and any(out.iterdir())):
                return (
                    f"--resume: nothing to resume in {args.out} (no run there); start a new "
                    "run without --resume (with --data)."
                )
            return f"--data is required: no {path} names the run's data."
        absolute = payload.get("data_path")
        if isinstance(absolute, str) and Path(absolute).exists():
            data = absolute  # what the run read (`data` may be relative to another folder)
        elif not Path(data).exists():
            where = f" ({absolute})" if isinstance(absolute, str) and absolute != data else ""
            return (
                f"the run's data, {data!r}{where} as {path} records it, does not exist from "
                f"here ({Path.cwd()}); pass --data."
            )
        args.data = data
    if recorded:
        print(
            f"resuming with the run's settings, {path}, for the options left out", file=sys.stderr
        )
    return None


def _started_from(out: Path, init_from: str) -> bool:
    """Whether the run in `out` was started with `--init-from` naming the same file."""
    try:
        recorded = json.loads((out / _RECIPE_FILE).read_text(encoding="utf-8")).get("init_from")
    except (OSError, ValueError, AttributeError):
        return False
    if not isinstance(recorded, str):
        return False
    return recorded == init_from or Path(recorded).resolve() == Path(init_from).resolve()


def _check_train(args) -> int:
    """What `train` can refuse before TensorFlow loads and the data is scanned: at once."""
    from keras_waveglow.presets import PRESETS, did_you_mean

    def refuse(message: str) -> int:
        print(f"keras-waveglow train: error: {message}", file=sys.stderr)
        return 2

    # Whether a GAN-only option was given is known only before the defaults fill them in.
    gan_only = [
        f"{flag} {getattr(args, option)}"
        for option, flag in _GAN_ONLY_OPTIONS.items()
        if getattr(args, option) is not None
    ]
    if args.resume and args.init_from is not None:
        # "The same command with --resume" (what an interrupted run says): the run's own
        # --init-from is taken, and left to the checkpoint; another is refused.
        if not _started_from(Path(args.out), args.init_from):
            return refuse(
                "--init-from starts a new run from other weights; --resume continues the run "
                "in --out from its own checkpoint: give one of them."
            )
        args.init_from = None
    if (problem := _fill_train_options(args)) is not None:
        return refuse(problem)
    out = Path(args.out)
    if out.is_file():  # the message `train` gives
        return refuse(f"{out}: exists and is not a folder; --out names the run's folder.")
    if (problem := folder_refusal(out, "the run folder")) is not None:
        return refuse(f"--out {problem}")
    if args.preset not in PRESETS:
        return refuse(
            f"unknown preset {args.preset!r}; choose one of "
            f"{', '.join(PRESETS)}.{did_you_mean(args.preset)}"
        )
    if not 0 <= args.seed < 2**32:
        return refuse(f"--seed must be in [0, 2**32); got {args.seed}.")
    if args.ema is not None and args.ema >= 1:
        return refuse(f"--ema must be a momentum in (0, 1), e.g. 0.999; got {args.ema}.")
    if gan_only and not args.gan:
        return refuse(
            f"{', '.join(gan_only)} {'needs' if len(gan_only) == 1 else 'need'} --gan: "
            f"{'it applies' if len(gan_only) == 1 else 'they apply'} to the discriminators, "
            "which a run without --gan does not have; add --gan or leave "
            f"{'it' if len(gan_only) == 1 else 'them'} out."
        )
    if args.keep_every % args.save_every:
        return refuse(
            f"--keep-every must be 0 or a multiple of --save-every ({args.save_every}); "
            f"got {args.keep_every}."
        )
    if args.augment_speed is not None and args.augment_speed[0] > args.augment_speed[1]:
        low, high = args.augment_speed
        return refuse(f"--augment-speed LOW HIGH: LOW must not exceed HIGH; got {low} {high}.")
    n_group = PRESETS[args.preset]["n_group"]
    if args.segment_length % n_group:
        return refuse(
            f"--segment-length must be a multiple of the {args.preset!r} flow's group of "
            f"{n_group} samples; got {args.segment_length}."
        )
    shortest = PRESETS[args.preset]["n_fft"] // 2 + 1
    if args.segment_length < shortest:
        return refuse(
            f"--segment-length must be at least n_fft // 2 + 1 = {shortest} samples for the "
            f"{args.preset!r} mel; got {args.segment_length}."
        )
    return 0


def _run_train(args) -> int:
    import warnings

    from keras_waveglow.training import train

    try:
        with warnings.catch_warnings():  # said below as the command's own line
            warnings.filterwarnings("ignore", message=r".*nothing to train", category=UserWarning)
            summary = train(
                args.data,
                args.out,
                preset=args.preset,
                steps=args.steps,
                batch_size=args.batch_size,
                segment_length=args.segment_length,
                split=args.split,
                gan=args.gan,
                discriminator_width=args.discriminator_width,
                msd_groups=args.msd_groups,
                discriminator_padding=args.discriminator_padding,
                discriminator_normalization=args.discriminator_normalization,
                discriminator_start_step=args.discriminator_start,
                discriminator_warmup_steps=args.discriminator_warmup,
                adv_weight=args.adv_weight,
                fm_weight=args.fm_weight,
                mae_weight=args.mae_weight,
                stft_weight=args.stft_weight,
                remove_group_mean=args.remove_group_mean,
                group_mean_window=args.group_mean_window,
                even_weight=args.even_weight,
                mixed_precision=args.mixed_precision,
                learning_rate=args.learning_rate,
                discriminator_learning_rate=args.discriminator_learning_rate,
                clipnorm=args.clipnorm or None,
                ema=args.ema,
                save_every=args.save_every,
                keep_every=args.keep_every,
                sample_every=args.sample_every,
                resume=args.resume,
                init_from=args.init_from,
                dequantize=args.dequantize,
                augment_speed=args.augment_speed,
                augment_eq_db=args.augment_eq,
                peak=args.peak,
                trim_db=args.trim_db,
                seed=args.seed,
            )
    except (FileExistsError, FileNotFoundError, ValueError) as error:
        print(f"keras-waveglow train: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # e.g. a disk that filled: the checkpoints written so far stay
        print(f"keras-waveglow train: error: {error}", file=sys.stderr)
        return 1
    if summary["new_steps"] == 0:  # said here; train's own warning of it is left out
        print(
            f"nothing to train: {args.out} is at step {summary['steps']} already "
            f"(--steps {args.steps}); checkpoint {summary['checkpoint']}"
        )
        return 0
    losses = " ".join(f"{k}={v:.4g}" for k, v in sorted(summary["logs"].items()))
    checkpoint = summary["checkpoint"] or "none written"
    new = summary["new_steps"]  # a resumed run: this call's steps, then the run's total
    trained = (
        f"{new} steps" if new == summary["steps"] else f"{new} steps, to step {summary['steps']}"
    )
    print(
        f"trained {trained} ({summary['skipped_steps']} skipped): {losses}; "
        f"checkpoint {checkpoint}, generator {summary['generator']}"
    )
    if summary["stopped_on_skips"] is not None:
        kept = (
            f"{summary['checkpoint']} holds step {summary['checkpoint_step']}, saved before "
            "the streak"
            if summary["checkpoint"]
            else "no checkpoint was written before the streak"
        )
        print(
            f"stopped at step {summary['stopped_on_skips']} of {args.steps}: the last steps in "
            f"a row all gave non-finite losses or gradients (the run diverged); {kept} "
            f"({summary['generator']} holds the last finite step's weights, the ones that "
            "diverged). Lower --learning-rate or --clipnorm and start a new run from the "
            "checkpoint (--init-from), or check the data.",
            file=sys.stderr,
        )
        return 1
    if summary["interrupted"] and summary["steps"] >= args.steps:  # during the last save
        print(
            f"{summary['interrupted']} arrived as the run ended; all {args.steps} steps are "
            "trained and saved.",
            file=sys.stderr,
        )
    elif summary["interrupted"]:
        print(
            f"stopped by {summary['interrupted']} at step {summary['steps']} of {args.steps}; "
            f"`keras-waveglow train --out {args.out} --resume` (or the same command with "
            "--resume) continues it.",
            file=sys.stderr,
        )
        return 128 + getattr(signal, summary["interrupted"])  # as the shell reports a signal
    return 0


def _add_vocode(subparsers, common) -> None:
    p = subparsers.add_parser(
        "vocode",
        parents=[common],
        help="mel files (.npy/.pt) or audio files (copy-synthesis) -> wav, in batches",
        description=(
            "Vocode mel spectrograms (.npy, .pt) and copy-synthesise audio files (wav, flac, "
            "ogg: audio -> mel -> audio). Directories are searched recursively. A bad input is "
            "reported and skipped; the exit code is 1 if any input failed, 2 if none was left "
            "to vocode (the model is then not loaded)."
        ),
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="mel/audio files, folders (their mel/audio files) or file lists",
    )
    p.add_argument("-o", "--out", required=True, metavar="OUTDIR", help="output directory")
    p.add_argument(
        "--model",
        default=None,
        help="a .keras file, an NVIDIA checkpoint, a preset with weights, or a preset name "
        "with --weights (default: $KERAS_WAVEGLOW_MODEL, else the bundled vocoder)",
    )
    p.add_argument(
        "--weights",
        default=None,
        help=".weights.h5 file for a preset --model: exported/averaged weights or a training "
        "checkpoint (its moving average when its run kept one, as export-weights)",
    )
    p.add_argument("--sigma", type=float, default=0.6, help="latent noise scale (default 0.6)")
    p.add_argument(
        "--denoise",
        type=float,
        default=0.0,
        metavar="STRENGTH",
        help="denoiser strength, e.g. 0.01-0.1 with --denoise-mode zeros, 1-3 with silence "
        "(the bundled model; README) (default 0: off); the bias is averaged over 64 frames, "
        "not NVIDIA's first of 88, so strengths tuned for NVIDIA's denoiser do not carry over "
        "exactly (Denoiser.from_model(frames='first', n_frames=88) is NVIDIA's)",
    )
    p.add_argument(
        "--denoise-mode",
        choices=("zeros", "silence"),
        default=None,
        help="with --denoise: the denoiser's bias, the model's output for an all-zero "
        "log-mel (NVIDIA's, default) or for silence (for models that render the zero log-mel "
        "loud, as the bundled one does)",
    )
    p.add_argument(
        "--mel-layout",
        choices=("auto", "frames_first", "mels_first"),
        default="auto",
        help="how to read a mel file with as many frames as bands, whose layout cannot be "
        "told: (frames, n_mels) or (n_mels, frames); other files' layout is told from the "
        "model's n_mels (default auto: a square .npy is refused, a square .pt taken as "
        "NVIDIA's (n_mels, frames) with a warning)",
    )
    p.add_argument("--batch-size", type=int, default=8, help="files per batch (default 8)")
    p.add_argument(
        "--seed",
        type=_at_least(0),
        default=None,
        help="noise seed for reproducible output: each file's noise is drawn from it and the "
        "sha256 of the file's bytes, so a file gets the same audio whatever else is vocoded",
    )
    p.add_argument("--normalize", action="store_true", help="peak-normalise each output to 0.9")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_vocode, precheck=_check_vocode)


def _check_denoise_mode(args, command: str) -> int:
    """`--denoise-mode` without `--denoise` (off by default) would change nothing: refused."""
    if args.denoise_mode is not None and not args.denoise:
        print(
            f"keras-waveglow {command}: error: --denoise-mode {args.denoise_mode} sets the "
            "denoiser's bias, and the denoiser is off: give --denoise STRENGTH too.",
            file=sys.stderr,
        )
        return 2
    args.denoise_mode = args.denoise_mode or "zeros"
    return 0


def _check_vocode(args) -> int:
    """An output folder that is a file, or lies under one: refused before the model loads
    (not found when the first output is written, after all the vocoding)."""
    if code := _check_denoise_mode(args, "vocode"):
        return code
    if (problem := folder_refusal(args.out, "the output folder")) is not None:
        print(f"vocode failed: {problem}", file=sys.stderr)
        return 2
    return 0


def _check_evaluate(args) -> int:
    if code := _check_denoise_mode(args, "evaluate"):
        return code
    if (problem := folder_refusal(args.out, "the report folder")) is not None:
        print(f"evaluate failed: {problem}", file=sys.stderr)
        return 2
    return 0


def _run_vocode(args) -> int:
    import warnings

    from keras_waveglow.inference import MelInputWarning, vocode_files

    try:
        with warnings.catch_warnings():  # each is in result["warnings"], printed below
            warnings.simplefilter("ignore", MelInputWarning)
            warnings.filterwarnings("ignore", message=r".*under the output folder")
            result = vocode_files(
                args.inputs,
                args.out,
                args.model,
                weights=args.weights,
                sigma=args.sigma,
                denoiser_strength=args.denoise,
                denoiser_mode=args.denoise_mode,
                seed=args.seed,
                batch_size=args.batch_size,
                normalize=args.normalize or None,
                overwrite=args.overwrite,
                progress=not args.no_progress,
                mel_layout=args.mel_layout,
            )
    except (OSError, ValueError, RuntimeError, ImportError) as error:
        print(f"vocode failed: {error}", file=sys.stderr)
        return 2
    for _, message in result["left_out"] + result["warnings"]:
        print(f"WARNING {message}", file=sys.stderr)
    for _, message in result["failed"]:
        print(f"FAILED {message}", file=sys.stderr)
    with_warning = len({path for path, _ in result["warnings"]})  # a file may have two
    warned = f" ({with_warning} with a warning)" if with_warning else ""
    kept = (
        f", kept {len(result['kept'])} existing (--overwrite replaces them)"
        if result["kept"]
        else ""
    )
    print(
        f"wrote {len(result['written'])} file(s){warned} to {args.out}{kept}; "
        f"{len(result['failed'])} failed",
        file=sys.stderr,
    )
    if result["sample_rate"] is None and not result["kept"]:  # nothing started, none done
        return 2
    return 1 if result["failed"] else 0


def _add_evaluate(subparsers, common) -> None:
    p = subparsers.add_parser(
        "evaluate",
        parents=[common],
        help="copy-synthesis metrics vs Griffin-Lim and ground truth, with an HTML report",
        description=(
            "Copy-synthesise each utterance with WaveGlow and fast Griffin-Lim (32 iterations, "
            "momentum 0.99, seeded) from the same mel, score both against the ground truth (PESQ, "
            "STOI, multi-resolution STFT, log-mel L1, MCD, F0 RMSE, GPE, V/UV F1, DNSMOS if "
            "installed, real-time factor) and write report.json and index.html. A report "
            "folder's audio inside a data folder is not taken as data."
        ),
    )
    p.add_argument(
        "--model",
        default=None,
        help="a .keras file, NVIDIA checkpoint or preset (default: $KERAS_WAVEGLOW_MODEL, else "
        "the bundled vocoder)",
    )
    p.add_argument(
        "--weights",
        default=None,
        help=".weights.h5 file for a preset --model: exported/averaged weights or a training "
        "checkpoint (its moving average when its run kept one, as export-weights)",
    )
    p.add_argument(
        "--data",
        nargs="+",
        required=True,
        metavar="DIR|FILE",
        help="audio files, directories or file lists (text files, one path per line)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="report directory")
    p.add_argument("--sigma", type=float, default=0.6, help="latent noise scale (default 0.6)")
    p.add_argument("--denoise", type=float, default=0.0, help="denoiser strength (default 0)")
    p.add_argument(
        "--denoise-mode",
        choices=("zeros", "silence"),
        default=None,
        help="with --denoise: the denoiser's bias: all-zero log-mel (default) or silence, as "
        "vocode's",
    )
    p.add_argument(
        "--seed",
        type=_at_least(0),
        default=0,
        help="seed for WaveGlow and Griffin-Lim, below 2**32 (default 0); each file's noise "
        "and phase are seeded by it and the sha256 of the file's bytes, so a file's figures "
        "do not depend on the other files, their order or its name",
    )
    p.add_argument("--griffin-lim-iters", type=int, default=32, help="default 32")
    p.add_argument("--max-files", type=int, default=None, help="evaluate at most this many")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_evaluate, precheck=_check_evaluate)


def _run_evaluate(args) -> int:
    import logging

    from keras_waveglow import evaluation
    from keras_waveglow.evaluation import evaluate, format_summary

    def not_in_report(record: logging.LogRecord) -> bool:
        return not getattr(record, evaluation.IN_REPORT, False)

    # A bad file and "no file could be scored" are printed below, from the report, once: the
    # warnings evaluate logs for them as they happen would say each a second time.
    log = logging.getLogger(evaluation.__name__)
    log.addFilter(not_in_report)
    try:
        report = evaluate(
            args.model,
            args.data,
            args.out,
            weights=args.weights,
            sigma=args.sigma,
            denoiser_strength=args.denoise,
            denoiser_mode=args.denoise_mode,
            seed=args.seed,
            griffin_lim_iters=args.griffin_lim_iters,
            max_files=args.max_files,
            overwrite=args.overwrite,
            progress=not args.no_progress,
        )
    except (OSError, ValueError, RuntimeError, ImportError) as error:
        print(f"evaluate failed: {error}", file=sys.stderr)
        return 2  # nothing scored (model, data or output refused), as vocode/train/export
    finally:
        log.removeFilter(not_in_report)
    for path, reason in report["failed_files"]:
        print(f"FAILED {path}: {reason}", file=sys.stderr)
    if report["paths"] is None:
        print(
            f"evaluate: no file could be scored ({len(report['failed_files'])} failed); "
            f"nothing written to {args.out}",
            file=sys.stderr,
        )
        return 1
    print(format_summary(report))
    print(f"wrote {report['paths']['json']} and {report['paths']['html']}", file=sys.stderr)
    return 1 if report["failed_files"] else 0


def _add_compare(subparsers, common) -> None:
    p = subparsers.add_parser(
        "compare",
        parents=[common],
        help="two evaluation reports compared file by file (paired differences)",
        description=(
            "Pair the files two `evaluate` reports share and print, per metric, both means, "
            "the mean difference NEW - BASE with its 95% interval, how many files got better "
            "and worse, and whether the difference is clear (the interval excludes zero); "
            "then the same per folder (speaker). Settings that differ are listed."
        ),
    )
    p.add_argument("base", metavar="BASE", help="report.json (or its folder) to compare against")
    p.add_argument("new", metavar="NEW", help="the other report.json (or its folder)")
    p.add_argument(
        "--system",
        default="waveglow",
        choices=("waveglow", "griffin_lim"),
        help="system of NEW to compare (default waveglow)",
    )
    p.add_argument(
        "--base-system",
        default=None,
        choices=("waveglow", "griffin_lim"),
        help="system of BASE (default: --system); e.g. NEW's WaveGlow against BASE's Griffin-Lim",
    )
    p.add_argument("--json", default=None, metavar="FILE", help="also write the result as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.set_defaults(func=_run_compare)


def _run_compare(args) -> int:
    import json

    from keras_waveglow.evaluation import _write_text_atomic, compare_reports, format_comparison

    out = Path(args.json) if args.json else None
    if args.overwrite and out is None:
        print(
            "compare failed: --overwrite replaces a --json file; it needs --json", file=sys.stderr
        )
        return 2
    if out is not None and out.is_dir():
        print(f"compare failed: --json {out}: a folder, not a file", file=sys.stderr)
        return 2
    if out is not None and (blocker := file_in_the_way(out.parent)) is not None:
        print(f"compare failed: --json {out}: {blocker} is a file, not a folder", file=sys.stderr)
        return 2
    inputs = [
        Path(r) / "report.json" if Path(r).is_dir() else Path(r) for r in (args.base, args.new)
    ]
    if out is not None and any(out.resolve() == p.resolve() for p in inputs):
        # --overwrite replaced the evaluation report being compared with the comparison.
        print(
            f"compare failed: --json {out} is one of the reports compared; choose another file",
            file=sys.stderr,
        )
        return 2
    if out is not None and out.exists() and not args.overwrite:
        print(f"compare failed: {out} exists (give --overwrite to replace it)", file=sys.stderr)
        return 2
    try:
        result = compare_reports(
            args.base, args.new, system=args.system, base_system=args.base_system
        )
    except ValueError as error:  # a missing or malformed report: nothing to compare
        print(f"compare failed: {error}", file=sys.stderr)
        return 2
    print(format_comparison(result))
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            _write_text_atomic(out, json.dumps(result, indent=2))
        except OSError as error:
            print(f"compare failed: cannot write {out}: {error}", file=sys.stderr)
            return 1
        print(f"wrote {out}", file=sys.stderr)
    return 0


def _add_weights_output(p) -> None:
    p.add_argument("--out", required=True, help="the .weights.h5 file to write")
    p.add_argument("--float16", action="store_true", help="store the weights in float16")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --out (never a training checkpoint)",
    )


def _check_weights_output(command: str, args) -> int:
    """The `--out` checks shared by `average` and `export-weights`, before a backend loads."""
    out = Path(args.out)
    problem = None
    if out.is_dir():
        problem = f"--out {out}: a folder; name the .weights.h5 file to write."
    elif (blocker := file_in_the_way(out.parent)) is not None:
        problem = f"--out {out}: {blocker} is a file, not a folder."
    elif is_training_checkpoint(out):
        problem = (
            f"--out {out}: a training checkpoint (both networks and their optimizers); it is "
            "never replaced by generator weights, even with --overwrite: choose another --out."
        )
    if problem is None:
        return 0
    print(f"keras-waveglow {command}: error: {problem}", file=sys.stderr)
    return 2


def _add_average(subparsers, common) -> None:
    p = subparsers.add_parser(
        "average",
        parents=[common],
        help="average the generator weights of several checkpoints of one run",
        description=(
            "Checkpoint averaging: the uniform mean of the generator weights of several "
            "checkpoints of one run (e.g. the last snapshots), written as a WaveGlow "
            ".weights.h5 file for --weights, --init-from or from_preset(weights=...)."
        ),
    )
    p.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help=".weights.h5 files")
    _add_weights_output(p)
    p.set_defaults(func=_run_average, precheck=_check_average)


def _check_average(args) -> int:
    """What `average` can refuse before a backend loads: a checkpoint given twice, a bad --out."""
    seen = {}
    for checkpoint in args.checkpoints:
        path = Path(checkpoint)
        if path.is_dir():  # "no such checkpoint" before
            return _refuse_folder_as_checkpoint("average", path)
        key = path.resolve() if path.exists() else path.absolute()
        if key in seen:
            same = "" if seen[key] == checkpoint else f" (the same file as {seen[key]})"
            print(
                f"keras-waveglow average: error: {checkpoint}: given twice{same}; the mean "
                "would count it double. Give each checkpoint once.",
                file=sys.stderr,
            )
            return 2
        seen[key] = checkpoint
    return _check_weights_output("average", args)


@contextlib.contextmanager
def _warnings_as_lines(command: str):
    """Prints the library's UserWarnings of the block as the command's own lines (`warning:`),
    after it; other warnings go on as warnings."""
    import warnings

    caught = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            yield
    finally:
        for warning in caught:
            if issubclass(warning.category, UserWarning):
                print(f"keras-waveglow {command}: warning: {warning.message}", file=sys.stderr)
            else:
                warnings.warn_explicit(
                    warning.message, warning.category, warning.filename, warning.lineno
                )


def _run_average(args) -> int:
    from keras_waveglow.training import average_generator_weights

    try:
        with _warnings_as_lines("average"):  # e.g. a checkpoint counted with trained weights
            path = average_generator_weights(
                args.checkpoints,
                args.out,
                dtype="float16" if args.float16 else None,
                overwrite=args.overwrite,
            )
    except (OSError, ValueError) as error:
        print(f"keras-waveglow average: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}: the mean of {len(args.checkpoints)} checkpoints")
    return 0


def _add_export_weights(subparsers, common) -> None:
    p = subparsers.add_parser(
        "export-weights",
        parents=[common],
        help="write the generator's weights of a checkpoint (e.g. in float16, for shipping)",
        description=(
            "Write the WaveGlow's weights of a training checkpoint (last.weights.h5, a "
            "snapshot) or of a WaveGlow weights file as a WaveGlow .weights.h5 file for "
            "--weights, --init-from or from_preset(weights=...); --float16 halves its size."
        ),
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help=".weights.h5 file")
    p.add_argument(
        "--trained",
        action="store_true",
        help=(
            "export the trained weights of a checkpoint whose run kept a moving average "
            "(--ema), not the average (the default, as in its snapshots)"
        ),
    )
    _add_weights_output(p)
    p.set_defaults(func=_run_export_weights, precheck=_check_export_weights)


def _check_export_weights(args) -> int:
    """What `export-weights` can refuse before a backend loads: a run folder given as the
    checkpoint, a bad --out."""
    source = Path(args.checkpoint)
    if source.is_dir():
        return _refuse_folder_as_checkpoint("export-weights", source)
    return _check_weights_output("export-weights", args)


def _refuse_folder_as_checkpoint(command: str, source: Path) -> int:
    """A run folder given where a checkpoint file goes: refused, naming the files in it."""
    found = sorted(p.name for p in source.glob("*.weights.h5") if p.is_file())
    hint = (
        f"name a checkpoint file in it: {', '.join(str(source / n) for n in found)}"
        if found
        else "it holds no .weights.h5 file"
    )
    print(
        f"keras-waveglow {command}: error: {source}: a folder, not a checkpoint; {hint}.",
        file=sys.stderr,
    )
    return 2


def _run_export_weights(args) -> int:
    from keras_waveglow.training import export_generator_weights

    try:
        with _warnings_as_lines("export-weights"):
            path = export_generator_weights(
                args.checkpoint,
                args.out,
                dtype="float16" if args.float16 else None,
                overwrite=args.overwrite,
                average=False if args.trained else None,
            )
    except (OSError, ValueError) as error:
        print(f"keras-waveglow export-weights: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}: the generator of {args.checkpoint}")
    return 0


# `export`'s formats, told by --out's suffix; anything else is a SavedModel folder.
_EXPORT_FORMATS = {".keras": "keras", ".tflite": "tflite", ".onnx": "onnx"}
_EXPORT_NAMES = {"keras": "Keras", "tflite": "TFLite", "onnx": "ONNX", "savedmodel": "SavedModel"}


def _add_export(subparsers, common) -> None:
    p = subparsers.add_parser(
        "export",
        parents=[common],
        help="a vocoder as a .keras archive, a SavedModel, TFLite or ONNX, for serving",
        description=(
            "Export a vocoder for serving. The format follows --out: NAME.keras (a Keras "
            "archive, any backend), NAME.tflite (TFLite, signature vocode_from_noise(mel, z); "
            "float16 weights unless --float32-weights), NAME.onnx (ONNX via tf2onnx, inputs "
            "mel and z), a name without a suffix a SavedModel folder (signatures vocode(mel), "
            "sampling at --sigma, and vocode_from_noise(mel, z)). SavedModel, TFLite and ONNX "
            "need the TensorFlow backend; TFLite and ONNX a model that computes in float32."
        ),
    )
    p.add_argument(
        "--model",
        default=None,
        help="a .keras file, an NVIDIA checkpoint, a preset with weights, or a preset name "
        "with --weights (default: $KERAS_WAVEGLOW_MODEL, else the bundled vocoder)",
    )
    p.add_argument("--weights", default=None, help=".weights.h5 file for a preset --model")
    p.add_argument(
        "--out",
        required=True,
        help="NAME.keras, NAME.tflite, NAME.onnx or a SavedModel folder (a name without suffix)",
    )
    p.add_argument(
        "--sigma",
        type=float,
        default=None,
        help="a SavedModel's noise scale for its vocode signature (default 0.6)",
    )
    p.add_argument(
        "--float32-weights",
        action="store_true",
        help="a TFLite file's weights in float32 (default float16: half the size)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.set_defaults(func=_run_export, precheck=_check_export)


def _export_format(out: str) -> str | None:
    """The format --out names: by its suffix, a SavedModel without one, None for another."""
    suffix = Path(out).suffix
    return _EXPORT_FORMATS.get(suffix) if suffix else "savedmodel"


def _check_export(args) -> int:
    """What `export` can refuse before a model or backend loads."""
    out, kind = Path(args.out), _export_format(args.out)
    backend = _configured_backend()
    problem = None
    if kind is None:
        problem = (
            f"--out {out}: {out.suffix!r} names no export format: NAME.keras, NAME.tflite, "
            "NAME.onnx, or a name without a suffix for a SavedModel folder (a generator's "
            ".weights.h5: keras-waveglow export-weights)."
        )
    elif args.sigma is not None and kind != "savedmodel":
        problem = "--sigma sets a SavedModel's vocode signature; a .keras, .tflite or .onnx --out "
        problem += "has none (draw z = sigma * N(0, 1) for vocode_from_noise, or vocode(sigma=))."
    elif args.sigma is not None and not (math.isfinite(args.sigma) and args.sigma >= 0):
        problem = f"--sigma must be a finite number >= 0; got {args.sigma}."
    elif args.float32_weights and kind != "tflite":
        problem = "--float32-weights applies to a .tflite --out only."
    elif kind != "keras" and backend != "tensorflow":
        problem = (
            f"the {_EXPORT_NAMES[kind]} export needs the TensorFlow backend "
            f"(KERAS_BACKEND=tensorflow; this is {backend}); a .keras --out works on any backend."
        )
    elif out.exists() and not args.overwrite:
        problem = f"--out {out} exists; pass --overwrite to replace it."
    elif (blocker := file_in_the_way(out.parent)) is not None:
        problem = f"--out {out}: {blocker} is a file, not a folder."
    else:
        try:  # the export's own checks (a folder for a file, a folder without a SavedModel)
            prepare_output(
                out,
                args.overwrite,
                folder=kind == "savedmodel",
                suffix=".keras" if kind == "keras" else None,
            )
        except (ValueError, OSError) as error:
            problem = str(error)
    if problem is None:
        return 0
    print(f"keras-waveglow export: error: {problem}", file=sys.stderr)
    return 2


def _configured_backend() -> str:
    """The backend Keras will load, read as Keras reads it (KERAS_BACKEND, else keras.json
    under KERAS_HOME or ~/.keras), without importing it."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json"), encoding="utf-8") as f:
            backend = json.load(f).get("backend")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"
    return backend if isinstance(backend, str) else "tensorflow"


def _run_export(args) -> int:
    from keras_waveglow import convert
    from keras_waveglow.inference import load_vocoder

    kind = _export_format(args.out)
    try:
        model = load_vocoder(args.model, args.weights)
        if kind == "keras":
            path = convert.export_keras(model, args.out, overwrite=args.overwrite)
        elif kind == "tflite":
            float16 = not args.float32_weights
            path = convert.export_tflite(model, args.out, float16, overwrite=args.overwrite)
        elif kind == "onnx":
            path = convert.export_onnx(model, args.out, overwrite=args.overwrite)
        else:
            sigma = 0.6 if args.sigma is None else args.sigma
            path = convert.export_savedmodel(model, args.out, sigma, overwrite=args.overwrite)
    except (OSError, ValueError, ImportError, RuntimeError) as error:
        print(f"export failed: {error}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({_EXPORT_NAMES[kind]})")
    return 0


_VERBOSE_HELP = "show the backend's start-up logs (TensorFlow, oneDNN, CUDA), hidden by default"


def build_parser() -> argparse.ArgumentParser:
    """The `keras-waveglow` argument parser."""
    parser = argparse.ArgumentParser(
        prog="keras-waveglow",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=_VERBOSE_HELP)
    # The same flag after the command; SUPPRESS keeps it from resetting the one given before.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=_VERBOSE_HELP
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (
        _add_download,
        _add_presets,
        _add_prepare,
        _add_train,
        _add_vocode,
        _add_evaluate,
        _add_compare,
        _add_average,
        _add_export_weights,
        _add_export,
    ):
        add(subparsers, common)
    return parser


def hide_backend_startup_logs(command: str) -> None:
    """Hides TensorFlow's routine start-up notes (oneDNN, CUDA drivers, CPU instructions).

    Does nothing when TensorFlow is already loaded or the user set `TF_CPP_MIN_LOG_LEVEL=0`
    (show everything). Otherwise sets `TF_CPP_MIN_LOG_LEVEL=3` unless the user chose a level
    (TensorFlow's C++ log lines, e.g. the CPU instruction note and the `cuInit` failure of a
    machine without a GPU) and, where
    TensorFlow will be used (its backend, or `train`, whose tf.data pipeline needs it on every
    backend), imports it now with the stderr file descriptor pointed at /dev/null: its shared
    libraries print the oneDNN and CUDA-driver notes as they load, before any log level
    applies. An import error is left for the real import to report.

    Args:
        command: the subcommand about to run.
    """
    # A level the user set that hides anything also hides the notes printed while TensorFlow's
    # libraries load: TensorFlow 2.21 prints those before any log level applies.
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip() == "0" or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend != "tensorflow" and command != "train":
        return
    if importlib.util.find_spec("tensorflow") is None:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
            except ImportError:
                pass
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def main(argv: list[str] | None = None) -> int:
    """Runs the CLI; returns the process exit code."""
    args = build_parser().parse_args(argv)
    precheck = getattr(args, "precheck", None)  # a subcommand's checks that need no backend
    if precheck is not None and (code := precheck(args)):
        return code
    if not args.verbose:
        hide_backend_startup_logs(args.command)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
