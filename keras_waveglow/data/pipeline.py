"""The training data pipeline: audio files -> (mel, audio) batches for `WaveGlow.fit`.

Every example is a pure function of `(seed, epoch, slot)`: the epoch's file order (shuffled with
a generator seeded by `[seed, epoch]`), the random segment start and the augmentations (seeded by
`[seed, epoch, slot]`). Files are decoded in Python with `keras_waveglow.audio.load_audio`, so a
bad file is caught per file: it is skipped with a logged warning and a count, and its slot is
filled by the next usable file of the order (so the number of batches is known up front and
never changes). Two engines share that function and give the same batches:

- "tf.data" (default when TensorFlow imports): batch indices -> `tf.numpy_function` building
  the batch's audio -> `tf_mel_spectrogram` on the batch (parallel over batches, order kept)
  -> prefetch.
- "pydataset": a `keras.utils.PyDataset` computing the mel with `mel_spectrogram` (keras.ops),
  for machines without TensorFlow (e.g. a JAX-only GPU machine).

The audio is read once per epoch per example (streaming; nothing is held in memory unless
`cache=True`, which keeps the decoded, resampled, trimmed audio of every file in memory).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import keras
import numpy as np

from keras_waveglow import _checks
from keras_waveglow import audio as audio_lib
from keras_waveglow._paths import keeps_pipe_lists, once_each
from keras_waveglow.data import arctic

logger = logging.getLogger(__name__)

# What a process has reported already: `train` builds the same files' dataset more than once
# (the training data, a preview for audio samples), and a notice says the same thing each time.
_REPORTED: set = set()
_REPORTED_LOCK = threading.Lock()


def _report_once(key, message: str, *args) -> None:
    """Logs a warning the first time this process meets `key`; later, only at debug level."""
    with _REPORTED_LOCK:
        first = key not in _REPORTED
        _REPORTED.add(key)
    (logger.warning if first else logger.debug)(message, *args)


# tf.data's calls into this module's Python (its map threads) under way, and when the last one
# ended: `settle_tf_calls` waits for them after a data error (see there).
_TF_CALLS = {"running": 0, "ended": 0.0}
_TF_CALLS_LOCK = threading.Lock()


def settle_tf_calls(quiet: float = 0.05, timeout: float = 10.0) -> bool:
    """Waits, the GIL released, until no tf.data call into the pipeline has run for `quiet` s.

    After a data error tf.data's map threads still run the batches queued behind the failed
    one, each waiting for the GIL. An iterator destroyed then (by the garbage collector, or at
    interpreter exit, when those threads can no longer take the GIL) waits for them for ever:
    `train` hung now and then after "every file failed to decode". Called before such an error
    leaves `train`, so that the iterator dies idle. Returns False on `timeout`.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _TF_CALLS_LOCK:
            idle = _TF_CALLS["running"] == 0 and time.monotonic() - _TF_CALLS["ended"] >= quiet
        if idle:
            return True
        time.sleep(quiet / 5)
    return False


ENGINES = ("auto", "tf.data", "pydataset")
SPLITS = ("train", "dev", "eval", "all")


# ------------------------------------------------------------------------------------------------
# Inputs: files, file lists, corpora
# ------------------------------------------------------------------------------------------------


def _is_prepared(folder: Path) -> bool:
    """Whether `keras-waveglow prepare` wrote the folder: it holds train.txt and eval.txt."""
    return (folder / "train.txt").is_file() and (folder / "eval.txt").is_file()


def _prepared_list(folder: Path, split: str) -> Path | None:
    """`<folder>/<split>.txt` where the folder is one `keras-waveglow prepare` wrote, else None.

    Raises:
        ValueError: a prepared folder without that split's list (reading the whole folder
            instead would mix the held-out speakers in).
    """
    if not _is_prepared(folder):
        return None
    listed = folder / f"{split}.txt"
    if not listed.is_file():
        lists = sorted(p.name for p in folder.glob("*.txt") if p.stem in SPLITS)
        raise ValueError(
            f"{folder}: a prepared folder ({', '.join(lists)}) has no {split}.txt: choose "
            f"split {' or '.join(repr(Path(n).stem) for n in lists)}, or 'all' for every file."
        )
    return listed


def _is_hidden(path: Path, root: Path) -> bool:
    """Whether a part of `path` below `root` starts with a dot (a work folder, a cache)."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _folder_audio(source: Path, split: str) -> list[Path]:
    """Every audio file under a plain folder, sorted, hidden folders left out.

    Raises:
        ValueError: the folder holds prepared folders, or is or holds CMU ARCTIC speaker
            folders, and `split` is not "all" (their held-out speakers or utterances would be
            read as training data).
    """
    if split != "all":
        names = {f"cmu_us_{speaker}_arctic" for speaker in arctic.SPEAKERS}
        # `cmu_us_<spk>_arctic/wav` itself holds the same held-out utterances.
        here = source.parent if source.name == "wav" else source
        speakers = sorted(
            p
            for p in [here, *source.rglob("cmu_us_*_arctic")]
            if p.name in names and (p / "wav").is_dir() and not _is_hidden(p, here)
        )
        if speakers:
            # A speaker folder, or a corpus below the folder given: its evaluation utterances
            # would be read with the rest (only the corpus's own folder is split).
            raise ValueError(
                f"{source}: holds CMU ARCTIC speaker folder(s) ({speakers[0]}, ...) whose "
                f"held-out utterances reading the whole folder would read as {split!r} data. "
                f"Pass the folder that holds them ({speakers[0].parent}) to take its {split!r} "
                "split, or split 'all' to read every file."
            )
        nested = sorted(
            p.parent
            for p in source.rglob("train.txt")
            if not _is_hidden(p, source) and p.parent != source and _is_prepared(p.parent)
        )
        if nested:
            lists = ", ".join(str(folder / f"{split}.txt") for folder in nested[:3])
            raise ValueError(
                f"{source}: holds {len(nested)} prepared folder(s) ({nested[0]}, ...), each "
                f"with speakers held out: reading the whole folder would read them as "
                f"{split!r} data. Pass a prepared folder, or a list combining theirs ({lists}), "
                "or split 'all' to read every file."
            )
    return sorted(
        p
        for p in source.rglob("*")
        if p.suffix.lower() in audio_lib.AUDIO_EXTENSIONS and not _is_hidden(p, source)
    )


@keeps_pipe_lists  # a list from a pipe: asked whether it is one, then read
def resolve_files(
    files_or_corpus, split: str = "train", n_eval: int = 100, n_dev: int = 100
) -> list[Path]:
    """The audio files a pipeline reads.

    Args:
        files_or_corpus: one of
            - a folder holding CMU ARCTIC speaker folders (`cmu_us_<spk>_arctic/`): the corpus,
              split with `arctic.split_corpus` and `split` taken;
            - a folder `keras-waveglow prepare` wrote (it holds train.txt and eval.txt):
              the split's list, unless `split` is "all";
            - any other folder: every .wav/.flac/.ogg under it, sorted, folders whose name
              starts with a dot left out (`split` ignored, except that a folder holding
              prepared folders or ARCTIC speaker folders, or a speaker folder, needs "all");
            - a file list: a text file (`.txt`, `.lst`, ...), one path per line, relative to
              the list's folder (`arctic.read_file_list`; Tacotron 2's `path|text` lines too);
            - one audio file, or a sequence of paths or `arctic.Utterance`s (`split` ignored).
        split: "train", "dev", "eval" or "all" (for corpora). Default "train".
        n_eval: int, eval utterances per speaker for corpus splits. Default 100.
        n_dev: int, dev utterances per speaker for corpus splits. Default 100.

    Returns:
        A list of `Path`.

    Raises:
        ValueError: unknown split, an empty split of a small corpus, a prepared folder
            without the split's list, a folder of prepared folders or a speaker folder (or a
            folder above a corpus) without split "all", or nothing to read.
        FileNotFoundError: a path that does not exist.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}.")
    if isinstance(files_or_corpus, (str, os.PathLike)):
        source = Path(files_or_corpus)
        if not source.exists():
            raise FileNotFoundError(f"{source}: no such file or folder.")
        if source.is_dir() and arctic.find_speakers(source):
            corpus = arctic.load_corpus(source)
            utterances = corpus
            if split != "all":
                utterances = arctic.split_corpus(utterances, n_eval=n_eval, n_dev=n_dev)[split]
                if not utterances:
                    raise ValueError(
                        f"{source}: the {split!r} split is empty: the corpus has too few "
                        "utterances per speaker for one (see the warning above); read every "
                        "file with split='all' (`--split all` on the command line)."
                    )
            files = [u.path for u in utterances]
            read = {Path(u.path).resolve() for u in corpus}
            outside = [
                p
                for p in source.rglob("*")
                if p.suffix.lower() in audio_lib.AUDIO_EXTENSIONS and p.resolve() not in read
            ]
            if outside:  # a CMU ARCTIC folder beside other recordings: say what is read
                logger.warning(
                    "%s: read as a CMU ARCTIC corpus (speakers %s); %d other audio file(s) "
                    "under it are not read (e.g. %s): pass a file list (.txt) to train on all.",
                    source,
                    ", ".join(arctic.find_speakers(source)),
                    len(outside),
                    outside[0],
                )
        elif source.is_dir() and split != "all" and (listed := _prepared_list(source, split)):
            # A folder `keras-waveglow prepare` wrote: its split's list (train.txt holds the
            # evaluation speakers out; reading the whole folder trained on them).
            files = arctic.read_file_list(listed, require_existing=True)
            logger.info(
                "%s: reading its %r split, %s (%d files).", source, split, listed, len(files)
            )
        elif source.is_dir():
            files = _folder_audio(source, split)
        elif arctic.is_file_list(source):  # prose (a README) refused in one message
            files = arctic.read_file_list(source, require_existing=True)
        else:
            files = [source]
    else:
        files = [Path(getattr(item, "path", item)) for item in files_or_corpus]
    if not files:
        raise ValueError(f"{files_or_corpus}: no audio files to read (split {split!r}).")
    return files


def _settings(config) -> tuple[dict, int | None]:
    """Mel settings and n_group of a WaveGlow, preset name or config dict.

    n_group is None for a config dict without one (e.g. a model's `mel_config`): only the
    training mode needs it (segments are a multiple of it), and guessing would be wrong for
    some model (`WaveGlow`'s default is 8, SqueezeWave's presets use 128 or 256).
    """
    from keras_waveglow.presets import get_preset

    if isinstance(config, str):
        source = get_preset(config)
    elif isinstance(config, Mapping) or hasattr(config, "mel_config"):
        source = config
    else:
        raise TypeError(
            "config must be a WaveGlow, a preset name or a config dict; got "
            f"{type(config).__name__} {config!r}."
        )
    n_group = getattr(source, "n_group", None)
    if n_group is None and isinstance(source, Mapping):
        n_group = source.get("n_group")
    return audio_lib.mel_settings(source), None if n_group is None else int(n_group)


def _check_trim_db(trim_db) -> float | None:
    """`trim_db` as a float (or None), if it is a finite number > 0.

    It is a level below each file's peak: at 0 or below, every frame counts as silence and
    every file is trimmed away ("0 samples after trimming"), which named no argument.
    """
    if trim_db is None:
        return None
    value = _checks.number("trim_db", trim_db)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(
            f"trim_db must be > 0 (dB below each file's peak; frames quieter than that are "
            f"trimmed) and finite; got {trim_db!r}."
        )
    return value


# ------------------------------------------------------------------------------------------------
# The examples: one Python definition shared by both engines
# ------------------------------------------------------------------------------------------------


def _check_rows(rows, batch_size: int, segment_length: int | None):
    if rows is None:
        return None
    if isinstance(rows, str | bytes) or np.ndim(rows) != 1 or len(rows) != 2:
        raise ValueError(f"rows must be None or a (start, stop) pair of ints; got {rows!r}.")
    start, stop = (_checks.count("each of rows", r) for r in rows)  # 1.5 was truncated to 1
    if segment_length is None:
        raise ValueError("rows (a share of each batch) needs training mode (segment_length).")
    if not 0 <= start < stop <= batch_size:
        raise ValueError(f"rows must satisfy 0 <= start < stop <= {batch_size}; got {rows}.")
    return start, stop


# The lowest `augment` SNR accepted, in dB. At 0 dB the added white noise is as loud as the
# speech; below it, louder, so the "clean" target the vocoder learns to reproduce is mostly
# noise (and from about -20 dB on, with the noise's RMS 10x the speech's, its samples pass full
# scale; at -100 dB its RMS is 10^5 times the speech's). No vocoder recipe trains on that, so
# a negative value is taken for a sign error and refused rather than warned about
# (`audio.add_noise` itself takes any SNR, for other uses).
MIN_SNR_DB = 0.0


def _snr_option(value):
    """`augment`'s snr_db as a float or a (low, high) pair of floats, each >= MIN_SNR_DB."""
    if isinstance(value, tuple | list) or np.ndim(value) == 1:
        if len(value) != 2:
            raise ValueError(
                f"augment snr_db must be a number or a (low, high) pair; got {value!r}."
            )
        values = tuple(_checks.number("augment snr_db", v) for v in value)
        if values[0] > values[1]:
            raise ValueError(f"augment snr_db (low, high) must have low <= high; got {value!r}.")
    else:
        values = (_checks.number("augment snr_db", value),)
    if not all(math.isfinite(v) and v >= MIN_SNR_DB for v in values):
        raise ValueError(
            f"augment snr_db must be finite and >= {MIN_SNR_DB:g} dB; got {value!r} (below 0 dB "
            "the added noise is louder than the speech, and the vocoder would learn to make "
            "noise; from about -20 dB the noise alone passes full scale)."
        )
    return values if len(values) == 2 else values[0]


def _augment_options(augment) -> dict:
    if augment is False or augment is None:
        return {}
    if isinstance(augment, bool | np.bool_):
        return {"dequantize": True} if augment else {}
    if not isinstance(augment, Mapping):
        raise TypeError(
            f"augment must be False, True or a dict of options ({', '.join(AUGMENT_OPTIONS)}); "
            f"got {type(augment).__name__} {augment!r}."
        )
    options = dict(augment)
    unknown = set(options) - set(AUGMENT_OPTIONS)
    if unknown:
        raise ValueError(
            f"unknown augment options {sorted(unknown)}; expected {', '.join(AUGMENT_OPTIONS)}."
        )
    for name in ("gain_db", "speed", "eq_highpass_hz"):  # (low, high) pairs
        value = options.get(name)
        if value is not None and (isinstance(value, str) or np.ndim(value) != 1 or len(value) != 2):
            raise ValueError(f"augment {name} must be a (low, high) pair; got {value!r}.")
    for name in ("gain_db", "speed", "eq_highpass_hz", "eq_db"):
        # inf passed the range checks and failed inside tf.data, naming no option.
        value = options.get(name)
        values = () if value is None else np.ravel(np.asarray(value, dtype=object))
        if not all(math.isfinite(_checks.number(f"augment {name}", v)) for v in values):
            raise ValueError(f"augment {name} must be finite; got {value!r}.")
    if options.get("speed") is not None:
        low, high = (float(v) for v in options["speed"])
        if not 0.0 < low <= high:
            raise ValueError(
                f"augment speed must be (low, high) with 0 < low <= high; got {options['speed']}."
            )
        options["speed"] = (low, high)
    if options.get("snr_db") is not None:
        options["snr_db"] = _snr_option(options["snr_db"])
    if not 0.0 <= float(options.get("speed_prob", 1.0)) <= 1.0:
        raise ValueError(f"augment speed_prob must be in [0, 1]; got {options['speed_prob']}.")
    return options


# augment options: what each draws is documented in `ExampleSource`.
AUGMENT_OPTIONS = (
    "dequantize",
    "snr_db",
    "gain_db",
    "speed",
    "speed_prob",
    "eq_db",
    "eq_highpass_hz",
    "eq_highpass_prob",
)
SPEED_MARGIN = 64  # samples resampled beyond each end of a segment and cut off (edge effects)


class NoUsableAudioError(ValueError):
    """Every file of a dataset failed to decode (each one is named with its reason)."""


class ExampleSource:
    """Maps `(epoch, slot)` to one example; holds the file list, checks and skip counts.

    Not usually built directly: `make_dataset` builds one and both engines call it.

    Args:
        files: list of audio paths.
        mel_settings: `mel_spectrogram` keyword arguments (the rate is the model's).
        segment_length: int or None, samples per training example; None: whole utterances
            (padded to a multiple of hop_length).
        batch_size: int, examples per batch.
        seed: int, the seed of every random choice.
        shuffle: bool, shuffle the file order each epoch.
        augment: bool or dict (`dequantize`: bool, `snr_db`: float or (low, high), in dB,
            each >= 0 (`MIN_SNR_DB`),
            `gain_db`: (min_db, max_db), `speed`: (low, high) factor drawn uniformly for
            `audio.change_speed` with probability `speed_prob` (default 1), `eq_db`: float,
            the largest boost or cut of `audio.random_eq` (with `eq_highpass_hz`, default
            (50, 400), and `eq_highpass_prob`, default 0.5)). Speed is drawn before the
            segment start (a segment is cut from `speed` times as much audio, then
            resampled), then the equaliser, gain, noise and dequantisation, in that order.
        trim_db: float > 0 or None, trim leading/trailing silence quieter than this (dB below
            peak).
        peak: float in (0, 1] or None, peak-normalise each file to this value.
        cache: bool, keep decoded files in memory.
        rows: None or `(start, stop)`: each batch holds only these rows of the `batch_size`
            batch (one worker's share of a global batch); training mode only.

    Raises:
        TypeError: `batch_size` not an int, `augment` neither a bool nor a dict, or `peak` /
            `trim_db` not a number.
        ValueError: a bad value (`peak` outside (0, 1], `trim_db` <= 0, an augment option out
            of range, a negative seed, bad rows), or no usable file.
    """

    def __init__(
        self,
        files: Sequence[Path],
        mel_settings: dict,
        segment_length: int | None,
        batch_size: int,
        seed: int,
        shuffle: bool,
        augment=False,
        trim_db: float | None = None,
        peak: float | None = None,
        cache: bool = False,
        rows: tuple[int, int] | None = None,
    ):
        self.mel_settings = dict(mel_settings)
        self.sample_rate = int(self.mel_settings["sample_rate"])
        self.hop_length = int(self.mel_settings["hop_length"])
        self.segment_length = segment_length
        self.batch_size = _checks.count("batch_size", batch_size, 1)
        # NumPy's and TensorFlow's generators take no negative seed.
        self.seed = _checks.count("seed", seed, 0)
        self.shuffle = bool(shuffle)
        self.augment = _augment_options(augment)
        self._augmented(np.zeros(16, np.float32), np.random.default_rng(0))  # bad options fail now
        self.trim_db = _check_trim_db(trim_db)
        self.peak = None if peak is None else audio_lib.check_peak(peak)
        self.cache = {} if cache else None
        self.rows = _check_rows(rows, batch_size, segment_length)
        self.skipped: dict[str, str] = {}
        self._lock = threading.Lock()
        self.files = self._check_headers(list(files))
        # Whole utterances must survive the reflect padding of the STFT (> n_fft // 2 samples).
        n_fft = int(self.mel_settings["n_fft"])
        self.min_length = (n_fft // 2 // self.hop_length + 1) * self.hop_length
        if self.whole_utterances:
            # Every file is yielded once, in order: a file listed twice is read once, and a
            # file that fails to decode cannot give its slot to the next one (either would
            # count a file twice in held-out figures), so the unusable ones are found now (one
            # decode of each file, kept with `cache`).
            self.files = once_each(self.files)
            cache, self.cache = self.cache, None
            usable = []
            for i, path in enumerate(self.files):
                audio = self.decode(i)  # held only with `cache` (every file's audio else)
                if audio is not None:
                    if cache is not None:
                        cache[len(usable)] = audio
                    usable.append(path)
            self.files = usable
            self.cache = cache
            if not self.files:
                raise NoUsableAudioError(
                    "no audio file could be decoded; skipped: "
                    + "; ".join(f"{p}: {r}" for p, r in self.skipped.items())
                )

    # -- file checks ------------------------------------------------------------------------

    def _skip(self, path: Path, reason: str, log: bool = True) -> None:
        with self._lock:
            if str(path) in self.skipped:
                return
            self.skipped[str(path)] = reason
            count = len(self.skipped)
        if log:
            _report_once(
                ("skip", str(path), reason),
                "skipping %s (%s); %d file(s) skipped so far.",
                path,
                reason,
                count,
            )

    def _check_headers(self, files: list[Path]) -> list[Path]:
        """Drops files whose header says they are unusable (cheap: no decoding)."""
        import soundfile as sf

        usable, short, upsampled = [], [], []
        for path in files:
            try:
                if path.is_dir():
                    raise IsADirectoryError(
                        "a folder: pass it alone (not in a list of files), or list its files"
                    )
                if not path.is_file():
                    raise FileNotFoundError("no such file")
                if path.stat().st_size == 0:
                    raise audio_lib.AudioFileError("empty file (0 bytes)")
                try:
                    info = sf.info(str(path))
                except (sf.LibsndfileError, RuntimeError) as error:
                    raise audio_lib.unreadable_audio_error(path, error) from error
                frames = info.frames * self.sample_rate / info.samplerate
                if frames < self.hop_length:
                    raise audio_lib.AudioFileError(
                        f"{info.frames} samples at {info.samplerate} Hz, shorter than one hop "
                        f"({self.hop_length} samples at {self.sample_rate} Hz)"
                    )
            except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as error:
                reason = audio_lib.reason_without_path(error, path)
                self._skip(path, reason, log=False)  # all named at once below
                continue
            usable.append(path)
            if self.segment_length is not None and frames < self.segment_length:
                short.append(f"{path} ({frames / self.sample_rate:.2f} s)")
            if info.samplerate < self.sample_rate:
                upsampled.append(f"{path} ({info.samplerate} Hz)")
        if self.skipped:
            _report_once(
                ("header", tuple(self.skipped.items())),
                "%d of %d files skipped by the header check:\n  %s",
                len(self.skipped),
                len(files),
                "\n  ".join(f"{p}: {r}" for p, r in self.skipped.items()),
            )
        if short:
            _report_once(
                ("short", self.segment_length, tuple(short)),
                "%d of %d files are shorter than one training segment (%d samples, %.2f s) and "
                "are zero-padded to it: %s%s.",
                len(short),
                len(files),
                self.segment_length,
                self.segment_length / self.sample_rate,
                ", ".join(short[:5]),
                f", and {len(short) - 5} more" if len(short) > 5 else "",
            )
        if upsampled:  # NVIDIA's loader refuses them; the flow would learn their empty top band
            _report_once(
                ("upsampled", self.sample_rate, tuple(upsampled)),
                "%d of %d files are recorded below the model's %d Hz and upsampled to it (nothing "
                "above half their rate: the model learns that band as silence): %s%s.",
                len(upsampled),
                len(files),
                self.sample_rate,
                ", ".join(upsampled[:5]),
                f", and {len(upsampled) - 5} more" if len(upsampled) > 5 else "",
            )
        if not usable:
            raise ValueError(
                f"no usable audio among {len(files)} file(s); skipped: "
                + "; ".join(f"{p}: {r}" for p, r in self.skipped.items())
            )
        return usable

    # -- epoch layout -------------------------------------------------------------------------

    @property
    def whole_utterances(self) -> bool:
        return self.segment_length is None

    def num_slots(self) -> int:
        """Examples per epoch: whole batches in training, every file in evaluation."""
        n = len(self.files)
        if self.whole_utterances:
            return n
        return max(1, n // self.batch_size) * self.batch_size

    @property
    def rows_per_batch(self) -> int:
        """Rows in each (training) batch this source yields."""
        return self.batch_size if self.rows is None else self.rows[1] - self.rows[0]

    def num_batches(self) -> int:
        return math.ceil(self.num_slots() / self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The file indices of an epoch (a seeded permutation when shuffling)."""
        n = len(self.files)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, int(epoch)]).permutation(n)

    # -- examples -----------------------------------------------------------------------------

    def decode(self, index: int) -> np.ndarray | None:
        """The processed audio of one file, or None (logged, counted) when it is unusable."""
        path = self.files[index]
        if str(path) in self.skipped:
            return None
        if self.cache is not None and index in self.cache:
            return self.cache[index]
        try:
            audio, _ = audio_lib.load_audio(path, self.sample_rate, clip=False)
            audio, peak = audio_lib.rescale_beyond_full_scale(audio)
            if peak > 1.0:  # a float file beyond full scale: scaled as `prepare` does, not clipped
                _report_once(
                    ("beyond", str(path)),
                    audio_lib.BEYOND_FULL_SCALE,
                    path,
                    peak,
                    audio_lib.RESCALED_PEAK,
                )
            if self.trim_db is not None:
                audio = audio_lib.trim_silence(audio, top_db=self.trim_db)
            if len(audio) < self.hop_length:
                raise audio_lib.AudioFileError(
                    f"{len(audio)} samples after trimming, shorter than one hop ({self.hop_length})"
                )
            if not np.any(audio):
                _report_once(
                    ("silent", str(path)),
                    "%s: every sample is 0 (digital silence); used as it is.",
                    path,
                )
            elif self.peak is not None:
                audio = audio_lib.peak_normalize(audio, self.peak)
        except (audio_lib.AudioFileError, OSError, ValueError, RuntimeError) as error:
            self._skip(path, audio_lib.reason_without_path(error, path))
            return None
        if self.cache is not None:
            self.cache[index] = audio
        return audio

    def example(self, epoch: int, slot: int) -> np.ndarray:
        """The float32 audio of slot `slot` of epoch `epoch` (segment or padded utterance)."""
        order = self.order(epoch)
        n = len(order)
        for step in range(n):
            audio = self.decode(int(order[(slot + step) % n]))
            if audio is not None:
                break
        else:
            checked = "" if n == len(self.skipped) else " that passed the header check"
            raise NoUsableAudioError(
                f"every one of the {n} audio files{checked} failed to decode; skipped: "
                + "; ".join(f"{p}: {r}" for p, r in self.skipped.items())
            )
        rng = np.random.default_rng([self.seed, int(epoch), int(slot)])
        speed = self._draw_speed(rng)
        if self.whole_utterances:
            if speed is not None:
                audio = audio_lib.change_speed(audio, speed, self.sample_rate)
            length = max(math.ceil(len(audio) / self.hop_length) * self.hop_length, self.min_length)
            segment = np.pad(audio, (0, length - len(audio)))
        elif speed is None:
            segment = self._cut(audio, self.segment_length, rng)
        else:  # cut speed x the segment (and margins), resample, keep the middle
            margin = SPEED_MARGIN
            piece = self._cut(audio, math.ceil(self.segment_length * speed) + 2 * margin, rng)
            segment = audio_lib.change_speed(piece, speed, self.sample_rate)
            kept = round(margin / speed)
            segment = segment[kept : kept + self.segment_length]
            segment = np.pad(segment, (0, self.segment_length - len(segment)))
        return self._augmented(segment, rng)

    @staticmethod
    def _cut(audio: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
        """A random `length`-sample piece of `audio` (zero-padded when it is shorter)."""
        if len(audio) >= length:
            start = int(rng.integers(0, len(audio) - length + 1))
            return audio[start : start + length]
        return np.pad(audio, (0, length - len(audio)))

    def _draw_speed(self, rng: np.random.Generator) -> float | None:
        """The example's speed factor, or None (no draw at all when speed is off)."""
        if self.augment.get("speed") is None:
            return None
        applies = rng.random() < float(self.augment.get("speed_prob", 1.0))
        factor = float(rng.uniform(*self.augment["speed"]))
        return factor if applies and factor != 1.0 else None

    def _augmented(self, segment: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        options = self.augment
        if options.get("eq_db") is not None:
            segment = audio_lib.random_eq(
                segment,
                self.sample_rate,
                max_db=float(options["eq_db"]),
                highpass_hz=options.get("eq_highpass_hz", (50.0, 400.0)),
                highpass_prob=float(options.get("eq_highpass_prob", 0.5)),
                seed=rng,
            )
        if options.get("gain_db") is not None:
            low, high = options["gain_db"]
            segment = audio_lib.random_gain(segment, low, high, seed=rng)
        if options.get("snr_db") is not None:
            snr = options["snr_db"]
            if isinstance(snr, (tuple, list)):
                snr = rng.uniform(*snr)
            segment = audio_lib.add_noise(segment, float(snr), seed=rng)
        if options.get("dequantize"):
            segment = audio_lib.dequantize(segment, seed=rng)
        return np.ascontiguousarray(segment, dtype=np.float32)

    def batch_audio(self, epoch: int, batch_index: int) -> np.ndarray:
        """(B, T) audio of one batch; whole utterances are zero-padded to the longest."""
        first = batch_index * self.batch_size
        slots = range(first, min(first + self.batch_size, self.num_slots()))
        if self.rows is not None:
            slots = slots[self.rows[0] : self.rows[1]]
        examples = [self.example(epoch, slot) for slot in slots]
        length = max(len(x) for x in examples)
        return np.stack([np.pad(x, (0, length - len(x))) for x in examples])

    def report(self) -> str:
        """A one-line summary of the skipped files."""
        return f"{len(self.skipped)} file(s) skipped: " + "; ".join(
            f"{p}: {r}" for p, r in self.skipped.items()
        )


# ------------------------------------------------------------------------------------------------
# Engines
# ------------------------------------------------------------------------------------------------


class AudioPyDataset(keras.utils.PyDataset):
    """The pipeline as a `keras.utils.PyDataset` (no TensorFlow needed).

    Batches are those of the tf.data engine for the same arguments: the audio is identical
    and the mel is computed with `mel_spectrogram` (keras.ops) instead of `tf_mel_spectrogram`
    (they agree to about 1e-6; see `keras_waveglow.audio`).

    Two modes. Finite (`start_batch=None`): one epoch of `len(self)` batches; `on_epoch_end`
    moves to the next epoch (new order, new segments). Under `fit` (and `evaluate`), whose
    `on_epoch_begin`/`on_epoch_end` calls frame each epoch, the first epoch is epoch 0, as
    tf.data's: the `on_epoch_end` Keras sends before the first epoch (its `EpochIterator`
    resets) and between epochs with none open ends nothing. That holds for `WaveGlow` (its
    `compile` takes no loss) under `fit(..., shuffle=False)`: Keras' default `shuffle=True`
    reorders a finite PyDataset's batches with Python's unseeded `random`, and on JAX a model
    compiled with a loss or metrics has Keras read a batch to build them inside the first
    epoch, whose reset then starts epoch 1. Endless (`start_batch=k`): item `i` is
    batch `k + i` of the endless sequence, i.e. batch `(k + i) % len(self)` of epoch
    `(k + i) // len(self)`, exactly what the tf.data engine's `start_batch` yields, whatever
    `fit`'s `steps_per_epoch` is (Keras calls `on_epoch_end` at the end of every `fit` epoch,
    which the endless mode ignores); `num_batches` is then None (Keras' endless convention).

    Args:
        source: an `ExampleSource`.
        start_batch: int or None, see above.
        prefetch_threads: int, endless mode: batches `i + 1 .. i + prefetch_threads` are
            built in that many threads while item `i` is used (decoding and the mel release
            the GIL). 0 builds each batch on request. Default 0.
        **kwargs: `keras.utils.PyDataset` arguments (workers, use_multiprocessing,
            max_queue_size).
    """

    def __init__(
        self,
        source: ExampleSource,
        start_batch: int | None = None,
        prefetch_threads: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.source = source
        self.epoch = 0
        self._driven = False  # Keras has begun an epoch (it frames them from then on)
        self._open = False  # an epoch Keras began and has not ended
        self.start_batch = (
            None if start_batch is None else _checks.count("start_batch", start_batch, 0)
        )
        self.prefetch_threads = _checks.count("prefetch_threads", prefetch_threads, 0)
        self._pending: dict[int, object] = {}
        self._pool = None

    def __len__(self) -> int:
        return self.source.num_batches()

    @property
    def num_batches(self) -> int | None:
        return None if self.start_batch is not None else len(self)

    def _build(self, epoch: int, index: int):
        batch = self.source.batch_audio(epoch, index)
        mel = audio_lib.mel_spectrogram(batch, **self.source.mel_settings)
        return keras.ops.convert_to_numpy(mel), batch

    def _endless_item(self, item: int):
        def build(i):  # item i: batch start_batch + i of the endless sequence
            return self._build(*divmod(self.start_batch + i, len(self)))

        if not self.prefetch_threads:
            return build(item)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.prefetch_threads)
        for ahead in range(item, item + self.prefetch_threads + 1):
            if ahead not in self._pending:
                self._pending[ahead] = self._pool.submit(build, ahead)
        for stale in [k for k in self._pending if k < item]:
            self._pending.pop(stale).cancel()
        return self._pending.pop(item).result()

    def __getitem__(self, index: int):
        if index < 0:
            raise IndexError(f"batch {index} out of range.")
        if self.start_batch is not None:
            return self._endless_item(index)
        if index >= len(self):
            raise IndexError(f"batch {index} out of range ({len(self)} batches).")
        return self._build(self.epoch, index)

    def on_epoch_begin(self) -> None:
        if not self._driven:
            # Keras (3.15) calls on_epoch_end once before the first epoch (EpochIterator.reset),
            # and TensorFlow's adapter reads batches ahead to learn their spec: neither was an
            # epoch. The first epoch Keras begins is epoch 0, as the tf.data engine's.
            self._driven = True
            self.epoch = 0
        self._open = True

    def on_epoch_end(self) -> None:
        # Called by hand (no on_epoch_begin ever): every call ends an epoch. Under Keras: only
        # the end of an epoch it began.
        if self.start_batch is None and (self._open or not self._driven):
            self.epoch += 1
        self._open = False


def _tf_dataset(source: ExampleSource, num_parallel_calls, prefetch, start_batch=None):
    import tensorflow as tf

    epochs = {"next": 0}
    num_batches = source.num_batches()

    def batch_indices():
        epoch = epochs["next"]
        epochs["next"] += 1
        for index in range(num_batches):
            yield epoch, index

    def load(epoch, index):
        with _TF_CALLS_LOCK:
            _TF_CALLS["running"] += 1
        try:
            return source.batch_audio(int(epoch), int(index))
        finally:
            with _TF_CALLS_LOCK:
                _TF_CALLS["running"] -= 1
                _TF_CALLS["ended"] = time.monotonic()

    def load_with_mel(epoch, index):
        audio = tf.numpy_function(load, [epoch, index], tf.float32, stateful=False)
        batch = None if source.whole_utterances else source.rows_per_batch
        audio = tf.ensure_shape(audio, [batch, source.segment_length])
        return audio_lib.tf_mel_spectrogram(audio, **source.mel_settings), audio

    if start_batch is None:
        # One epoch per iteration: the k-th iterator of the dataset reads epoch k (Keras
        # iterates it anew each epoch).
        dataset = tf.data.Dataset.from_generator(
            batch_indices,
            output_signature=(tf.TensorSpec((), tf.int64), tf.TensorSpec((), tf.int64)),
        )
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(num_batches))
    else:
        # Endless, from batch `start_batch` on, by position alone: every iterator starts there,
        # however far an earlier one read ahead (a counter of epochs begun moved with the
        # prefetcher), as the PyDataset's item i is batch start_batch + i.
        dataset = tf.data.Dataset.counter(start_batch).map(
            lambda k: (k // num_batches, k % num_batches)
        )
    dataset = dataset.map(load_with_mel, num_parallel_calls=num_parallel_calls, deterministic=True)
    return dataset.prefetch(prefetch)


def _check_segment_length(segment_length, n_group: int | None, settings: dict) -> int:
    """A training segment length as an int: a multiple of n_group, longer than n_fft // 2."""
    if segment_length is None:
        raise ValueError(
            "segment_length must be a positive multiple of n_group="
            f"{n_group if n_group is not None else '?'} in training mode; got None (None "
            "is for whole_utterances=True)."
        )
    segment_length = _checks.count("segment_length", segment_length, None)
    if n_group is None:
        raise ValueError(
            "config has no n_group: training segments must be a multiple of the model's "
            "n_group; add 'n_group' to the config dict, or pass the WaveGlow or its preset name."
        )
    if segment_length <= 0 or segment_length % n_group:
        raise ValueError(
            f"segment_length must be a positive multiple of n_group={n_group}; "
            f"got {segment_length}."
        )
    # The mel reflect-pads n_fft // 2 samples on each side, which needs more than that many.
    shortest = int(settings["n_fft"]) // 2 + 1
    if segment_length < shortest:
        raise ValueError(
            f"segment_length must be at least n_fft // 2 + 1 = {shortest} samples (the mel "
            "pads each segment by reflection, which needs more than n_fft // 2 samples); got "
            f"{segment_length}."
        )
    return segment_length


def tensorflow_available() -> bool:
    """Whether TensorFlow imports (the tf.data engine needs it)."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


# make_dataset's segment_length default: in whole-utterance mode, any other value was given on
# purpose, is ignored, and is warned about.
DEFAULT_SEGMENT_LENGTH = 16000


def _parallelism(name: str, value, minimum: int) -> int | None:
    """A thread or buffer count for tf.data: None and -1 (`tf.data.AUTOTUNE`) both mean
    "automatic" and come back as None; otherwise an int >= `minimum`, refused by name."""
    if value is None:
        return None
    value = _checks.count(name, value)
    if value == -1:
        return None
    if value < minimum:
        raise ValueError(
            f"{name} must be None, -1 (tf.data.AUTOTUNE) or >= {minimum}; got {value}."
        )
    return value


@keeps_pipe_lists
def make_dataset(
    files_or_corpus,
    config,
    split: str = "train",
    batch_size: int = 12,
    segment_length: int | None = DEFAULT_SEGMENT_LENGTH,
    seed: int = 0,
    shuffle: bool | None = None,
    cache: bool = False,
    num_parallel_calls: int | None = None,
    augment=False,
    trim_db: float | None = None,
    peak: float | None = None,
    whole_utterances: bool | None = None,
    engine: str = "auto",
    n_eval: int = 100,
    n_dev: int = 100,
    prefetch: int | None = None,
    rows: tuple[int, int] | None = None,
    start_batch: int | None = None,
):
    """(mel, audio) batches for `WaveGlow.fit` / `evaluate`, from files or a corpus.

    Per example: decode (`load_audio`: mono, float32, resampled to the model's rate), optional
    silence trim and peak normalisation, a random `segment_length` slice (zero-padded when the
    file is shorter), optional seeded augmentation; then per batch the log-mel
    (`tf_mel_spectrogram`, the library's one mel definition). Deterministic given `seed`:
    two datasets built alike yield the same batches, and each pass over a dataset is a new
    epoch (new order, new segments; on tf.data an iterator begun counts as a pass, one Keras
    drops after a batch under a `tf.distribute` strategy too: pass `start_batch=0` for a
    stream that every iterator begins at batch 0). Unusable files are skipped with a logged
    warning and a running count (never an error inside TensorFlow); `dataset.source.report()`
    summarises them.

    Training mode yields `(mel (B, 1 + segment_length // hop, n_mels), audio (B,
    segment_length))` float32 with static shapes, `max(1, n_files // batch_size)` batches per
    epoch (files are cycled when there are fewer than a batch). Whole-utterance mode (the
    default for "dev"/"eval") yields every file once, in order, zero-padded to a multiple of
    hop_length (and to the longest in the batch when `batch_size > 1`; use `batch_size=1` for
    exact lengths).

    Args:
        files_or_corpus: an ARCTIC root folder, a folder of audio, a `.txt` file list, an audio
            file, or a sequence of paths / `arctic.Utterance`s (see `resolve_files`).
        config: a `WaveGlow`, a preset name, or a config dict (gives the mel settings and
            n_group). A dict needs the mel settings (`sample_rate`, `n_fft`, `hop_length`,
            `win_length`, `n_mels` or `n_mel_channels`, `fmin`, `fmax`) and, in training
            mode, `n_group` (a model's `get_config()` has them all; its `mel_config` has no
            n_group, which only whole-utterance mode does without).
        split: "train", "dev", "eval" or "all" (for corpora). Default "train".
        batch_size: int >= 1. Default 12.
        segment_length: int, samples per training example, a multiple of the model's n_group
            and at least `n_fft // 2 + 1` (the mel pads each segment by reflection, which
            needs more than `n_fft // 2` samples). Default 16000. Ignored in whole-utterance
            mode (a value other than the default and None is warned about there).
        seed: int. Default 0.
        shuffle: bool or None; None shuffles in training mode only.
        cache: bool, keep decoded audio in memory (small corpora). Default False (streaming).
        num_parallel_calls: int >= 1, or None or -1 (`tf.data.AUTOTUNE`: automatic) for the
            decode and mel maps; the PyDataset engine's threads in its endless mode
            (automatic: all cores).
        augment: False, True (dequantisation noise) or a dict with `dequantize` (bool),
            `snr_db` (float or (low, high), in dB, each >= 0: no more noise than speech),
            `gain_db` ((min_db, max_db)), `speed` ((low, high) speed/pitch factor, with
            `speed_prob`) and `eq_db` (random equaliser, with `eq_highpass_hz` and
            `eq_highpass_prob`); see `ExampleSource`.
        trim_db: float > 0 or None, trim silence quieter than this many dB below the peak.
        peak: float in (0, 1] or None, peak-normalise each file (e.g. 0.9).
        whole_utterances: bool or None; None: True for "dev"/"eval", else False.
        engine: "auto" (tf.data when TensorFlow imports, else PyDataset), "tf.data" or
            "pydataset".
        n_eval: int, eval utterances per speaker for corpus splits. Default 100.
        n_dev: int, dev utterances per speaker for corpus splits. Default 100.
        prefetch: int >= 0, or None or -1 (`tf.data.AUTOTUNE`), batches to prefetch
            (tf.data).
        rows: None or `(start, stop)`: yield only rows `start:stop` of each `batch_size`
            batch (one worker's share of the global batch; see `keras_waveglow.distributed`).
            Training mode only. Default None (whole batches).
        start_batch: int or None. When given (training mode), the dataset repeats endlessly
            and begins at this batch of the endless sequence: on tf.data what
            `dataset.repeat().skip(start_batch)` yields from a fresh dataset, without loading
            the skipped batches (resuming a long run), and every iterator of it begins there;
            the PyDataset engine yields the same batches (its endless mode, built ahead in
            `num_parallel_calls` threads, default all cores). Default None (one epoch).

    Returns:
        A `tf.data.Dataset` (with a `.source` attribute, the `ExampleSource`) or an
        `AudioPyDataset`.

    Raises:
        TypeError: an argument of the wrong type, named (`segment_length` or `batch_size` not
            an int, `augment` neither a bool nor a dict, `config` neither a model, a preset
            name nor a dict, `peak` or `trim_db` not a number).
        ValueError: bad values (segment length not a multiple of n_group or not longer than
            n_fft // 2, a config dict without n_group in training mode, `peak` outside (0, 1],
            `trim_db` <= 0, an augment option out of range, unknown split or engine) or no
            usable file at all. All are checked here, before the first batch.

    Warns:
        UserWarning: whole-utterance mode with a `segment_length` other than the default
            (it is ignored: every file is yielded whole).

    Example:
        >>> ds = make_dataset("data", "tiny", split="all", batch_size=2, segment_length=8000)
        >>> mel, audio = next(iter(ds))
        >>> tuple(mel.shape), tuple(audio.shape)
        ((2, 32, 80), (2, 8000))
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}; got {engine!r}.")
    batch_size = _checks.count("batch_size", batch_size, 1)
    settings, n_group = _settings(config)
    if whole_utterances is None:
        whole_utterances = split in ("dev", "eval")
    if whole_utterances:
        if segment_length is not None and segment_length != DEFAULT_SEGMENT_LENGTH:
            warnings.warn(
                f"segment_length={segment_length!r} is ignored: whole-utterance mode "
                f"(whole_utterances={whole_utterances!r}, split={split!r}) yields every file "
                "whole; pass whole_utterances=False for segments, or leave segment_length out.",
                stacklevel=3,  # the caller's line, past `keeps_pipe_lists`' wrapper
            )
        segment_length = None
    else:
        segment_length = _check_segment_length(segment_length, n_group, settings)
    augment_options = _augment_options(augment)  # bad options fail now, not in a batch
    _check_trim_db(trim_db)
    if peak is not None:
        audio_lib.check_peak(peak)
    if shuffle is None:
        shuffle = not whole_utterances
    files = resolve_files(files_or_corpus, split, n_eval=n_eval, n_dev=n_dev)
    source = ExampleSource(
        files,
        settings,
        segment_length,
        batch_size,
        seed,
        shuffle,
        augment=augment_options,
        trim_db=trim_db,
        peak=peak,
        cache=cache,
        rows=rows,
    )
    if engine == "auto":
        engine = "tf.data" if tensorflow_available() else "pydataset"
    if start_batch is not None:
        start_batch = _checks.count("start_batch", start_batch)  # 2.5 failed inside tf.data
        if whole_utterances or start_batch < 0:
            raise ValueError(f"start_batch={start_batch} needs training mode and a value >= 0.")
    num_parallel_calls = _parallelism("num_parallel_calls", num_parallel_calls, 1)
    prefetch = _parallelism("prefetch", prefetch, 0)
    if engine == "pydataset":
        threads = 0 if start_batch is None else (num_parallel_calls or os.cpu_count() or 1)
        return AudioPyDataset(source, start_batch=start_batch, prefetch_threads=threads)
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE
    dataset = _tf_dataset(
        source,
        num_parallel_calls if num_parallel_calls is not None else autotune,
        prefetch if prefetch is not None else autotune,
        start_batch,
    )
    dataset.source = source
    return dataset
