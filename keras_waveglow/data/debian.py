"""Real speech that Debian packages: fetch, extract, resample, split by speaker.

Two corpora are reachable from any Debian mirror, offline from PyPI and from the internet at
large, and neither is ever committed or shipped (their recordings are GPL):

- `klettres`: Debian's `klettres-data` (KLettres, a KDE alphabet tutor): letters and syllables
  spoken by one native speaker per language, about 1,800 Ogg Vorbis files and 51 minutes in
  all, under `usr/share/klettres/<language>/{alpha,syllab}/`; most at 44.1 kHz, some at 22.05,
  48 or 128 kHz; GPL-2+. Speakers are the languages. Nothing is balanced: Malayalam alone is
  about 21 of the 51 minutes.
- `fillets-nl` and `fillets-cs`: the Dutch and Czech voice packs of the game Fish Fillets
  (`fillets-ng-data-nl`, `fillets-ng-data-cs`): acted sentences of dialogue, 22.05 kHz stereo
  Vorbis under `usr/share/games/fillets-ng/sound/<level>/<language>/` and
  `sound/share/<collection>/<language>/` (Dutch: 1,616 files, 96 minutes); GPL-2. Speakers: `m`
  and `v` (the small and the big fish, the two leads, named by a field of the file name:
  `<level>-v-<word>` in most levels, `v-<word>` or `<word>-v` in a few; 1,438 of the 1,616
  Dutch files) and `other` (the remaining characters, some with processed voices). Sentences
  from two actors the klettres models never heard make it an evaluation set of real connected
  speech.

`prepare_debian_speech(corpus, dest)` is the recipe for both:

1. `apt-get download <package>` in a temporary folder (or use a given .deb, or an already
   extracted tree);
2. read the .deb (an `ar` archive) and extract its `data.tar.*` with the same safe extractor as
   the ARCTIC download;
3. decode every recording, mix it to mono and resample it to the target rate (soxr);
4. hold out whole speakers for evaluation: given ones, or the corpus' default (klettres: 3
   spread evenly over the alphabetical list; fillets: `v`); a speaker none of whose recordings
   could be used is left out of both splits (and is never a default held-out one);
5. write `<dest>/<speaker>/<group>_<name>.wav` (or .flac), `train.txt` and `eval.txt` (one
   path per line, relative to `dest`, as `read_file_list` reads them), `<corpus>.json` (source
   package and its sha256, per-speaker file counts, durations and original sample rates, the
   split), `NOTICE.txt` (the licence) and the package's `copyright` file.

The output folder is built beside `dest` and renamed into place when complete; the hidden work
folder is removed on success, on an error and on SIGTERM (and so are the missing parents of
`dest` made for it, unless `prepare` succeeded: a refusal leaves no folder behind). A recording
that cannot be decoded is skipped; a file that cannot be written (a full disk) stops the run.
Reports (warnings, errors, the manifest) name a recording by its path inside the package
(`usr/share/klettres/...`), never by the work folder that is gone once `prepare` ends.
"""

from __future__ import annotations

import bz2
import contextlib
import dataclasses
import gzip
import json
import logging
import lzma
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from keras_waveglow._paths import temporary_siblings
from keras_waveglow.audio import RESCALED_PEAK, reason_without_path
from keras_waveglow.data.arctic import Utterance, extract_archive, file_sha256, write_file_lists

logger = logging.getLogger(__name__)

_AR_MAGIC = b"!<arch>\n"

NOTICE = """\
These recordings come from Debian's {package} package ({source}), {what}, resampled to
{sample_rate} Hz by keras_waveglow's `prepare {corpus}` recipe.

They are licensed under the {license_name} ({license}); see {copyright} and
/usr/share/common-licenses/GPL-2 on Debian. Models trained on them must
carry this notice when shared; the keras_waveglow code itself is Apache-2.0. Do not commit or
redistribute these files without the licence.
"""


@dataclasses.dataclass(frozen=True)
class DebianSpeech:
    """Where a Debian package keeps its recordings and who speaks each one.

    Attributes:
        name: the corpus name `prepare` takes ("klettres", "fillets-nl", "fillets-cs").
        package: the Debian binary package.
        sound_root: the recordings' folder inside the package.
        pattern: glob of the recordings under `sound_root`.
        speaker: recording path relative to `sound_root` -> speaker, or None to skip the file.
        group: recording path relative to `sound_root` -> the prefix of the written file's
            name (the kind, the level), keeping names unique within a speaker.
        eval_speakers: the default held-out speakers; None for `preferred_eval_speakers`
            or, where one of them has no usable recording, 3 chosen by `choose_eval_speakers`.
        what: the recordings in a few words, for the notice.
        license: SPDX-style licence of the recordings.
        license_name: the licence in words.
        preferred_eval_speakers: with `eval_speakers` None, the held-out speakers where every
            one has a usable recording (the bundled model's: its held-out figures then hold
            for the split whatever the package version adds).
    """

    name: str
    package: str
    sound_root: Path
    pattern: str
    speaker: Callable[[Path], str | None]
    group: Callable[[Path], str]
    eval_speakers: tuple[str, ...] | None
    what: str
    license: str
    license_name: str
    preferred_eval_speakers: tuple[str, ...] | None = None

    @property
    def copyright(self) -> Path:
        """The package's copyright file inside the package."""
        return Path("usr/share/doc") / self.package / "copyright"


KLETTRES_KINDS = ("alpha", "syllab")
FILLETS_LEADS = ("m", "v")
FILLETS_SHOUTS = {"big": "v", "small": "m"}  # the big fish is v, the small one m
FILLETS_CODE_LENGTH = 3  # a character code's longest: pap, leb (a word such as hurt is none)
N_EVAL_SPEAKERS = 3  # klettres' fallback hold-out: spread over the alphabetical list
# The bundled model's held-out klettres speakers (the spread over klettres-data 4:22.12.3-1's
# speakers): kept as the default, so that a package with another language list, or a
# speaker that does not decode here, does not move a training speaker into eval.txt.
KLETTRES_EVAL_SPEAKERS = ("de", "it", "pt_BR")


def _klettres_speaker(relative: Path) -> str | None:
    # <language>/{alpha,syllab}/<name>.ogg; anything else (pictures, other folders) is not speech
    return relative.parts[0] if relative.parts[1] in KLETTRES_KINDS else None


def _klettres_group(relative: Path) -> str:
    return relative.parts[1]  # alpha or syllab


UNATTRIBUTED = "?"  # a recording whose name does not say who speaks: in no split


def _fillets_speaker(relative: Path) -> str | None:
    # <level>/<language>/<name>.ogg, the name's fields split by - or _. Most levels name a line
    # <level abbreviation>-<m|v|character code>-<word>; some name the lead first (hanoi:
    # v-<word>) or last (fdto: <word>-v). A lead's line filed as "other" would put the held-out
    # speaker v into the training list, so a line is "other" only where a character code (a
    # short word: x, hs, pap) stands where the lead would; a name without one (key's
    # cactus-0big, keys' init-0-0: the game's scripts give many of them to v and m; numbered
    # vikings; briefcase's help1) is UNATTRIBUTED.
    fields = re.split(r"[-_]", relative.stem)
    if "shout" in fields[:-1]:  # share/border/cs: sp-shout_big_0 (v), sp-shout_small_0 (m)
        size = fields[fields.index("shout") + 1]
        if size in FILLETS_SHOUTS:
            return FILLETS_SHOUTS[size]
    if len(fields) > 2 and fields[1] in FILLETS_LEADS:
        return fields[1]
    if len(fields) >= 2 and fields[0] in FILLETS_LEADS:
        return fields[0]
    if len(fields) == 2 and fields[1] in FILLETS_LEADS:
        return fields[1]
    if len(fields) > 2 and fields[1].isalpha() and len(fields[1]) <= FILLETS_CODE_LENGTH:
        return "other"
    return UNATTRIBUTED


def _fillets_group(relative: Path) -> str:
    # every folder above the language: the level, or share-<collection> for shared dialogue
    return "-".join(relative.parts[:-2]) or "sound"


CORPORA = {
    "klettres": DebianSpeech(
        name="klettres",
        package="klettres-data",
        sound_root=Path("usr/share/klettres"),
        pattern="*/*/*.ogg",
        speaker=_klettres_speaker,
        group=_klettres_group,
        eval_speakers=None,
        what="the sound files of KLettres (KDE Education): letters and syllables, one speaker "
        "per language",
        license="GPL-2+",
        license_name="GNU General Public License, version 2 or (at your option) any later version",
        preferred_eval_speakers=KLETTRES_EVAL_SPEAKERS,
    ),
    **{
        f"fillets-{language}": DebianSpeech(
            name=f"fillets-{language}",
            package=f"fillets-ng-data-{language}",
            sound_root=Path("usr/share/games/fillets-ng/sound"),
            pattern=f"**/{language}/*.ogg",  # levels, and share/<collection>/ one deeper
            speaker=_fillets_speaker,
            group=_fillets_group,
            eval_speakers=("v",),
            what=f"the {words} voices of the game Fish Fillets - Next Generation",
            license="GPL-2",
            license_name="GNU General Public License, version 2",
        )
        for language, words in (("nl", "Dutch"), ("cs", "Czech"))
    },
}


def _corpus(name: str) -> DebianSpeech:
    if name not in CORPORA:
        raise ValueError(f"Unknown corpus {name!r}; choose one of {sorted(CORPORA)}.")
    return CORPORA[name]


def fetch_deb(workdir: str | os.PathLike, package: str = "klettres-data") -> Path:
    """Downloads a package's .deb with `apt-get download` into `workdir`.

    Args:
        workdir: folder to download into.
        package: the Debian package. Default "klettres-data".

    Returns:
        The downloaded .deb.

    Raises:
        RuntimeError: apt-get is missing or fails (the message says to pass the .deb instead).
    """
    workdir = Path(workdir)
    if shutil.which("apt-get") is None:
        raise RuntimeError(
            f"apt-get not found: download {package}_*.deb from packages.debian.org and pass "
            "it with --deb (Python: deb=...)."
        )
    result = subprocess.run(
        ["apt-get", "download", package], cwd=workdir, capture_output=True, text=True
    )
    debs = sorted(workdir.glob(f"{package}_*.deb"))
    if result.returncode != 0 or not debs:
        raise RuntimeError(
            f"`apt-get download {package}` failed ({result.stderr.strip()[-300:]}); run "
            f"`apt-get update` first, or pass a downloaded .deb with --deb."
        )
    return debs[0]


_DECOMPRESS = {
    "gz": gzip.decompress,
    "xz": lzma.decompress,
    "lzma": lzma.decompress,
    "bz2": bz2.decompress,
}


def _ar_members(path: Path) -> dict[str, bytes]:
    """The members of an `ar` archive (the container format of a .deb)."""
    data = path.read_bytes()
    if not data.startswith(_AR_MAGIC):
        raise ValueError(f"{path}: not a Debian package (no ar archive header).")
    members, offset = {}, len(_AR_MAGIC)
    while offset + 60 <= len(data):
        header = data[offset : offset + 60]
        if header[58:60] != b"`\n":
            raise ValueError(f"{path}: corrupt ar member header at byte {offset}.")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        field = header[48:58].decode("ascii", "replace").strip()
        if not field.isdigit():  # a negative size never moved on: the loop spun forever
            raise ValueError(f"{path}: corrupt ar member size {field!r} at byte {offset}.")
        size = int(field)
        start = offset + 60
        if start + size > len(data):
            raise ValueError(f"{path}: member {name!r} is truncated.")
        members[name] = data[start : start + size]
        offset = start + size + (size % 2)  # members are padded to an even length
    return members


def extract_deb(deb: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extracts a .deb's files (its `data.tar.*`) into `dest`, refusing unsafe paths.

    Returns:
        `dest`.

    Raises:
        ValueError: not a .deb, or a data archive Python cannot read (zstd: extract with
            `dpkg-deb -x` and pass the folder instead).
        keras_waveglow.data.UnsafeArchiveError: a member would land outside `dest`.
    """
    deb, dest = Path(deb), Path(dest)
    members = _ar_members(deb)
    names = [name for name in members if name.startswith("data.tar")]
    if not names:
        raise ValueError(f"{deb}: no data.tar member; not a Debian binary package.")
    if names[0].endswith(".zst"):
        raise ValueError(
            f"{deb}: {names[0]} is zstd-compressed; extract it with `dpkg-deb -x {deb} DIR` "
            "and pass DIR instead of the .deb."
        )
    data, stem = members[names[0]], names[0]
    suffix = names[0].rsplit(".", 1)[-1]
    if suffix in _DECOMPRESS:
        # Whole, before tar reads it: the codec checks its own checksum (CRC32, CRC64) only at
        # the stream's end, which tar's reader never reaches, so a corrupt package passed.
        try:
            data = _DECOMPRESS[suffix](data)
        except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as error:
            raise ValueError(f"{deb}: its {names[0]} is corrupt ({error}).") from error
        stem = names[0].rsplit(".", 1)[0]
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / stem
        archive.write_bytes(data)
        try:
            extract_archive(archive, dest)
        except ValueError as error:  # UnsafeArchiveError too: name the .deb, not `tmp`
            renamed = _renamed(error, archive, f"{deb} ({names[0]})")
            if renamed is None:
                raise
            raise renamed from error
    return dest


def _renamed(error: Exception, path: str | os.PathLike, name: str) -> Exception | None:
    """A copy of `error` (same type) naming `name` where its message named `path` (a file in
    a temporary folder, gone by the time the message is read); None when the message does not
    name `path` or the error's type takes more than a message."""
    message = str(error)
    if str(path) in message:
        with contextlib.suppress(TypeError):
            return type(error)(message.replace(str(path), name))
    return None


def find_recordings(root: str | os.PathLike, corpus: str = "klettres") -> dict[str, list[Path]]:
    """{speaker: sorted recordings} of a corpus in a package tree extracted at `root`.

    Recordings whose speaker the names do not tell (Fish Fillets' lines without a character
    field) are under the key `UNATTRIBUTED` ("?"); `prepare_debian_speech` puts them in no
    split.

    Args:
        root: the folder the package was extracted into.
        corpus: a name in `CORPORA`. Default "klettres".

    Raises:
        FileNotFoundError: no recordings there.
        ValueError: unknown corpus.
    """
    spec = _corpus(corpus)
    sounds = Path(root) / spec.sound_root
    found: dict[str, list[Path]] = {}
    for file in sorted(sounds.glob(spec.pattern)) if sounds.is_dir() else []:
        speaker = spec.speaker(file.relative_to(sounds))
        if speaker is not None:
            found.setdefault(speaker, []).append(file)
    if not found:
        raise FileNotFoundError(
            f"{root}: no {(spec.sound_root / spec.pattern).as_posix()} recordings of "
            f"{spec.package}."
        )
    return dict(sorted(found.items()))


def choose_eval_speakers(speakers: Sequence[str], n: int = N_EVAL_SPEAKERS) -> list[str]:
    """`n` speakers spread evenly over the alphabetical list: deterministic, not cherry-picked.

    Example:
        >>> choose_eval_speakers(["ar", "cs", "da", "de", "en", "fr"], 2)
        ['cs', 'en']
    """
    ordered = sorted(speakers)
    if not 0 < n < len(ordered):
        raise ValueError(f"Cannot hold out {n} of {len(ordered)} speakers; need 0 < n < total.")
    return [ordered[int((i + 0.5) * len(ordered) / n)] for i in range(n)]


def _convert(source: Path, target: Path, sample_rate: int) -> tuple[int, int, float]:
    """Decodes `source`, mixes to mono, resamples, writes 16-bit `target`.

    Vorbis decodes to floats that may exceed full scale (klettres' tn recordings peak at up to
    40, most ml ones at about 1.1): such a file is scaled down to a peak of `RESCALED_PEAK`,
    keeping its waveform, where clipping it at +-1 would flatten its loud parts (35% of the
    training files had been clipped so).

    Returns:
        (source rate, samples written, gain applied: 1.0 unless the file was scaled down).

    Raises:
        ValueError: no samples, non-finite ones, shorter than 10 ms, or digital silence (a
            recording with nothing to learn from is skipped and reported, not listed).
        _WriteFailed: `target` could not be written (disk full, read-only folder): not the
            recording's fault; the error is its `__cause__`.
    """
    import soundfile as sf
    import soxr

    audio, rate = sf.read(source, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if audio.size == 0:
        raise ValueError("no samples")
    if rate != sample_rate:
        audio = soxr.resample(audio, rate, sample_rate)
    peak = float(np.max(np.abs(audio)))
    if not np.isfinite(peak):
        raise ValueError("non-finite samples")
    if len(audio) < sample_rate // 100:  # the training pipeline would skip it anyway
        raise ValueError(f"{len(audio)} samples, shorter than 10 ms")
    if peak < 2.0**-15:
        raise ValueError("digital silence (peak below one 16-bit step)")
    gain = RESCALED_PEAK / peak if peak > 1.0 else 1.0
    # The clip only guards the 16-bit conversion (never wraps); after the gain nothing reaches it.
    try:
        sf.write(target, np.clip(audio * gain, -1.0, 1.0), sample_rate, subtype="PCM_16")
    except (OSError, RuntimeError, AssertionError) as error:
        # libsndfile's failures (a full disk, a folder it may not write to) come as
        # LibsndfileError, a RuntimeError, as its decode errors do; a short write as an
        # AssertionError.
        raise _WriteFailed(error) from error
    return rate, len(audio), gain


class _WriteFailed(Exception):
    """Writing a prepared file failed (its cause is `__cause__`): unlike a recording that
    cannot be decoded, a reason to stop `prepare`, not to skip the file."""


def _write_error(error: BaseException, written: Path, dest: Path, source: str) -> OSError:
    """The OSError that stops `prepare` when writing `written` (in the work folder) failed with
    `error`: it names the file as where it was going under `dest` (the work folder is gone once
    `prepare` ends) and the recording `source` (its path inside the package), and keeps the
    cause's errno (ENOSPC, EROFS, EACCES; None for libsndfile's own errors)."""
    if isinstance(error, OSError) and error.strerror:
        problem = error.strerror
    else:
        problem = reason_without_path(error, written)
    shown = dest / written.parent.name / written.name
    failure = OSError(
        f"{shown}: cannot write it: {problem} (converting {source}); nothing was left at {dest}."
    )
    failure.errno = getattr(error, "errno", None)
    return failure


class _Terminated(BaseException):
    """SIGTERM arrived while `prepare` held its work folder (raised so that cleanup runs)."""


def _missing_folders(folder: Path) -> list[Path]:
    """`folder` and those of its parents that do not exist, innermost first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


@contextlib.contextmanager
def _work_folder(dest: Path) -> Iterator[Path]:
    """A hidden temporary folder beside `dest`, removed on leaving: on success, on an error
    and on SIGTERM.

    The parents of `dest` that do not exist are made first (the folder lies among them) and
    removed again, where still empty, unless the block ends without an error: a refusal, a
    failure or SIGTERM leaves no new folder behind.

    SIGTERM's default action ends the process at once, running no `finally` block, which left
    the folder behind. While the folder exists, where SIGTERM still has its default action and
    this is the main thread (the only one that may set handlers), a handler raises instead; once
    the folder is gone the default action is restored and the signal raised again, so the
    process still ends as killed by SIGTERM. A handler set by the caller is left alone.
    """
    catch = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    )
    terminated = cleaning = False

    def on_sigterm(signum, frame):
        nonlocal terminated
        terminated = signum
        if not cleaning:  # one that arrives during the removal waits for its end
            raise _Terminated(f"signal {signum}")

    # SIGHUP (a closed terminal or dropped ssh session) as SIGTERM, where it has its default
    # action too; SIGKILL cannot be caught: its folder is named by the next run.
    caught = [signal.SIGTERM]
    if catch and hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) == signal.SIG_DFL:
        caught.append(signal.SIGHUP)
    if catch:
        for number in caught:
            signal.signal(number, on_sigterm)
    _name_stale_work_folders(dest)
    folder, made, done = None, _missing_folders(dest.parent), False
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        yield folder
        done = True
    finally:
        cleaning = True
        try:
            if folder is not None:
                shutil.rmtree(folder)
            if not done:
                for parent in made:  # innermost first; one something was put in stays
                    with contextlib.suppress(OSError):
                        parent.rmdir()
        finally:
            if catch:
                for number in caught:
                    signal.signal(number, signal.SIG_DFL)
                if terminated:
                    signal.raise_signal(terminated)


def _name_stale_work_folders(dest: Path) -> None:
    """Warns of work folders an earlier `prepare` into `dest` left (killed with SIGKILL, or
    the machine stopped): hidden `.<dest name>.*` folders beside it, never read."""
    if not dest.parent.is_dir():
        return
    stale = temporary_siblings(dest)
    if stale:
        logger.warning(
            "%s: %d work folder(s) of another prepare (%s): left by one that was killed, or "
            "in use by one running now; delete them once no other prepare into %s runs.",
            dest.parent,
            len(stale),
            ", ".join(p.name for p in stale),
            dest,
        )


def _check_held_out(held_out: Sequence[str], speakers: Sequence[str]) -> None:
    """Refuses held-out speakers that are unknown, none, or all of `speakers`."""
    unknown = sorted(set(held_out) - set(speakers))
    if unknown or len(held_out) >= len(speakers) or not held_out:
        raise ValueError(
            f"eval speakers {list(held_out)}: need at least one and not all of "
            f"{sorted(speakers)}" + (f"; unknown: {unknown}" if unknown else "") + "."
        )


def _spread_held_out(speakers: Sequence[str], left_out: dict[str, str]) -> list[str]:
    """The default held-out speakers (`choose_eval_speakers`), refused with the reason when
    too few `speakers` (those with a usable recording) are left to train on."""
    if len(speakers) <= N_EVAL_SPEAKERS:
        raise ValueError(
            f"cannot hold out {N_EVAL_SPEAKERS} speakers and train on the rest: "
            f"{len(speakers)} speakers have a usable recording ({sorted(speakers)})"
            + (f"; none for {sorted(left_out)}" if left_out else "")
            + "; name the held-out ones with --eval-speakers."
        )
    return choose_eval_speakers(speakers)


def _default_held_out(spec: DebianSpeech, speakers: list[str], left_out: dict) -> list[str]:
    """The corpus' preferred held-out speakers where each has a usable recording, else the
    spread (`_spread_held_out`), with a warning naming what changed."""
    preferred = spec.preferred_eval_speakers
    if preferred is None:
        return _spread_held_out(speakers, left_out)
    missing = [s for s in preferred if s not in speakers]
    if not missing and len(preferred) < len(speakers):
        return list(preferred)
    held_out = _spread_held_out(speakers, left_out)
    logger.warning(
        "%s: the default held-out speakers %s (the bundled model's) are not all usable here "
        "(%s): holding out %s instead, spread over the %d speakers; the bundled model's "
        "held-out figures do not hold for this split (pass --eval-speakers to choose).",
        spec.name,
        list(preferred),
        "; ".join(f"{s}: {left_out.get(s, 'not in the package')}" for s in missing)
        or "too few other speakers",
        held_out,
        len(speakers),
    )
    return held_out


def prepare_debian_speech(
    corpus: str,
    dest: str | os.PathLike,
    sample_rate: int = 22050,
    deb: str | os.PathLike | None = None,
    eval_speakers: Sequence[str] | None = None,
    audio_format: str = "wav",
) -> dict:
    """Prepares a Debian speech package for training: resampled audio, speaker split, licence.

    A recording that cannot be used (unreadable, silent, shorter than 10 ms) is skipped with a
    warning; a prepared file that cannot be written (a full disk, a read-only folder) stops the
    run instead. A speaker none of whose recordings can be used is left out of both splits, with a
    warning, and is never one of the default held-out speakers.

    Args:
        corpus: str, a name in `CORPORA`: "klettres", "fillets-nl" or "fillets-cs".
        dest: str or path-like, output folder; must not exist or be empty.
        sample_rate: int, target sample rate. Default 22050 (NVIDIA's mel settings).
        deb: path to the corpus' .deb, a folder it was extracted into (`dpkg-deb -x`), or
            None to fetch it with `apt-get download`.
        eval_speakers: held-out speakers; None for the corpus' default (klettres: de, it and
            pt_BR, the bundled model's, or where one has no usable recording 3 by
            `choose_eval_speakers` among those with one, with a warning; fillets: `v`).
        audio_format: "wav" or "flac" (both 16-bit). Default "wav".

    Returns:
        The summary written to `<dest>/<corpus>.json`: "corpus", "source", "sample_rate",
        "speakers" ({speaker: files, seconds, source_rates}; speakers with a usable recording
        only), "splits" ({"train"/"eval": speakers, files, seconds}), "skipped" ([[file,
        reason]], the file named by its path inside the package), "skipped_speakers"
        ({speaker: reason}: speakers left out of the splits, none of their recordings usable),
        "rescaled" ([[file, gain]]: files decoded beyond full scale, scaled to a peak of
        `RESCALED_PEAK` instead of clipped), "license" and "lists" ({"train"/"eval": path}).

    Raises:
        FileExistsError: `dest` exists and is not empty.
        FileNotFoundError: no recordings in the package or folder.
        ValueError: unknown corpus or held-out speakers, bad arguments, not a Debian package,
            held-out speakers none of whose recordings is usable, or a split left without a
            usable recording (nothing is written to `dest` then).
        OSError: a prepared file could not be written (named as under `dest`, with the
            recording it came from; `errno` is the cause's, e.g. ENOSPC).
        RuntimeError: no .deb given and `apt-get download` is unavailable or fails.

    Whenever it raises, nothing is left at `dest`, and the parent folders of `dest` that it
    made are removed again.

    Example:
        >>> summary = prepare_debian_speech("fillets-nl", "/data/fillets_nl")
        >>> summary["splits"]["eval"]["speakers"]
        ['v']
    """
    spec = _corpus(corpus)
    dest = Path(dest)
    if audio_format not in ("wav", "flac"):
        raise ValueError(f"audio_format must be 'wav' or 'flac'; got {audio_format!r}.")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive; got {sample_rate}.")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(f"{dest} exists and is not empty; choose a new --dest.")
    # The prepared folder replaces `dest` at the end: a link to a folder, or the working
    # folder (`.`) or one holding it, failed there, after all the decoding.
    if dest.is_symlink():
        raise FileExistsError(
            f"{dest} is a symbolic link; give the folder it points to, or a new --dest."
        )
    if Path.cwd().resolve().is_relative_to(dest.resolve()):
        raise FileExistsError(
            f"{dest} is the current folder or holds it; give a new folder as --dest."
        )
    # The work folder is made beside `dest` and moved onto it: a mount point (an empty disk
    # mounted there) cannot be replaced (EBUSY after all the decoding, the audio written to
    # the parent's disk), and a parent that cannot be written fails on the work folder's name.
    if dest.is_dir() and os.path.ismount(dest):
        raise FileExistsError(
            f"{dest} is a mount point: the prepared folder is built beside --dest and moved "
            f"into its place, which a mount point cannot take; give a new folder in it, such "
            f"as {dest / spec.name}."
        )
    anchor = dest.parent
    while not anchor.exists() and anchor != anchor.parent:
        anchor = anchor.parent
    if anchor.is_dir() and not os.access(anchor, os.W_OK | os.X_OK):  # a file: named below
        raise PermissionError(
            f"--dest {dest}: {anchor} cannot be written, and the prepared folder is built "
            "beside --dest there and moved into place; give a --dest in a writable folder."
        )
    with _work_folder(dest) as work:  # makes dest's missing parents; removed if refused
        fetched = deb is None
        if fetched:
            deb = fetch_deb(work, spec.package)
        deb = Path(deb)
        # What reports call the package: the .deb or folder given, or the fetched .deb's name
        # (the work folder it lies in is gone once prepare ends).
        package = deb.name if fetched else str(deb)
        if deb.is_dir():
            root, source = deb, {"folder": str(deb.resolve())}
        elif deb.is_file():
            try:
                root = extract_deb(deb, work / "extracted")
            except ValueError as error:
                renamed = _renamed(error, deb, package) if fetched else None
                if renamed is None:
                    raise
                raise renamed from error
            source = {"package": deb.name, "sha256": file_sha256(deb)}
        else:
            raise FileNotFoundError(f"{deb}: no such .deb or folder.")
        try:
            recordings = find_recordings(root, corpus)
        except FileNotFoundError as error:
            renamed = _renamed(error, root, package) if root != deb else None
            if renamed is None:
                raise
            raise renamed from error
        unattributed = [f.relative_to(root).as_posix() for f in recordings.pop(UNATTRIBUTED, [])]
        if unattributed:
            logger.info(
                "%d recordings left out: their names do not say who speaks (see "
                '"unattributed" in %s.json).',
                len(unattributed),
                spec.name,
            )
        if not recordings:
            raise FileNotFoundError(
                f"{package}: none of its {len(unattributed)} recordings names its speaker."
            )
        if isinstance(eval_speakers, str):  # "v" is one speaker, not its characters
            eval_speakers = [eval_speakers]
        if eval_speakers is not None:
            held_out = list(dict.fromkeys(eval_speakers))
        elif spec.eval_speakers is not None:
            held_out = list(spec.eval_speakers)
        else:
            held_out = None  # chosen among the speakers with a usable recording, below
        if held_out is not None:  # refused before decoding anything
            _check_held_out(held_out, list(recordings))
        else:
            _spread_held_out(list(recordings), {})  # too few speakers: refused before decoding
        sounds = root / spec.sound_root
        out = work / "out"
        speakers, skipped, rescaled, left_out = {}, [], [], {}
        utterances: dict[str, list[Utterance]] = {}
        for speaker, files in recordings.items():
            (out / speaker).mkdir(parents=True)
            rates, samples, items = Counter(), 0, []
            for file in files:
                name = file.relative_to(root).as_posix()  # as inside the package
                group = spec.group(file.relative_to(sounds))
                target = out / speaker / f"{group}_{file.stem}.{audio_format}"
                try:
                    rate, n, gain = _convert(file, target, sample_rate)
                except _WriteFailed as failed:  # the destination's problem, not the file's
                    cause = failed.__cause__
                    raise _write_error(cause, target, dest, name) from cause
                except (RuntimeError, ValueError, OSError) as error:  # decoding the recording
                    reason = reason_without_path(error, file)
                    logger.warning("%s: skipped (%s).", name, reason)
                    skipped.append([name, reason])
                    target.unlink(missing_ok=True)  # a write cut short
                    continue
                rates[rate] += 1
                samples += n
                if gain != 1.0:
                    rescaled.append([name, round(gain, 6)])
                items.append(Utterance(speaker, target.stem, target, None))
            if not items:
                shutil.rmtree(out / speaker)
                left_out[speaker] = (
                    f"no usable recording: all {len(files)} of its files skipped"
                    if len(files) > 1
                    else "no usable recording: its only file skipped"
                )
                logger.warning(
                    "speaker %s: %s; left out of the splits.", speaker, left_out[speaker]
                )
                continue
            utterances[speaker] = items
            speakers[speaker] = {
                "files": sum(rates.values()),
                "seconds": round(samples / sample_rate, 3),
                "source_rates": {str(r): c for r, c in sorted(rates.items())},
            }
        if held_out is None:
            held_out = _default_held_out(spec, list(speakers), left_out)
        unusable = [speaker for speaker in held_out if speaker in left_out]
        if unusable:
            raise ValueError(
                f"eval speakers {unusable}: no usable recording (every file skipped, see the "
                f"warnings); the speakers with one: {sorted(speakers)}."
            )
        splits: dict[str, list[Utterance]] = {"train": [], "eval": []}
        for speaker, items in utterances.items():
            splits["eval" if speaker in held_out else "train"].extend(items)
        for split_name, items in splits.items():
            if not items:  # only the left-out speakers were not held out
                raise ValueError(
                    f"the {split_name} split would have no recording: eval speakers "
                    f"{held_out}, speakers with a usable recording {sorted(speakers)}"
                    + (f", without one {sorted(left_out)}" if left_out else "")
                    + "."
                )
        lists = write_file_lists(splits, out)
        summary = {
            "corpus": spec.name,
            "source": source,
            "sample_rate": sample_rate,
            "format": audio_format,
            "speakers": speakers,
            "splits": {
                name: {
                    "speakers": sorted({u.speaker for u in items}),
                    "files": len(items),
                    "seconds": round(
                        sum(speakers[s]["seconds"] for s in {u.speaker for u in items}), 3
                    ),
                }
                for name, items in splits.items()
            },
            "skipped": skipped,
            "skipped_speakers": left_out,
            "unattributed": unattributed,
            "rescaled": rescaled,
            "license": spec.license,
        }
        (out / f"{spec.name}.json").write_text(json.dumps(summary, indent=1) + "\n")
        has_copyright = (root / spec.copyright).is_file()
        notice = NOTICE.format(
            copyright=(
                "the package's copyright file beside this notice (`copyright`)"
                if has_copyright
                else f"the package's copyright file (/{spec.copyright.as_posix()}; this copy "
                "of the package had none)"
            ),
            package=spec.package,
            source=source.get("package") or source.get("folder"),
            what=spec.what,
            sample_rate=sample_rate,
            corpus=spec.name,
            license_name=spec.license_name,
            license=spec.license,
        )
        (out / "NOTICE.txt").write_text(notice)
        if has_copyright:
            shutil.copyfile(root / spec.copyright, out / "copyright")
        else:
            logger.warning(
                "%s: no %s in it; NOTICE.txt names the package's licence only.",
                package,
                spec.copyright.as_posix(),
            )
        if dest.exists():
            dest.rmdir()  # empty, checked above
        os.replace(out, dest)
    summary["lists"] = {name: dest / path.name for name, path in lists.items()}
    return summary


def prepare_klettres(dest: str | os.PathLike, **kwargs) -> dict:
    """`prepare_debian_speech("klettres", dest, **kwargs)`: letters and syllables, 20 speakers.

    Example:
        >>> summary = prepare_klettres("/data/klettres", sample_rate=22050)
        >>> summary["splits"]["eval"]["speakers"]
        ['de', 'it', 'pt_BR']
    """
    return prepare_debian_speech("klettres", dest, **kwargs)
