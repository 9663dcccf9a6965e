"""Debian's klettres-data as vocoder training data: fetch, extract, resample, split by speaker.

KLettres (a KDE alphabet tutor) ships recordings of letters and syllables spoken by one
native speaker per language, about 1,800 Ogg Vorbis files and 51 minutes in all, under
`usr/share/klettres/<language>/{alpha,syllab}/`. Most are 44.1 kHz, some 22.05, 48 or 128 kHz.
The recordings are GPL-2+ (see the package's `copyright` file): they are prepared on the user's
machine and never committed or shipped.

`prepare_klettres(dest)` is the recipe:

1. `apt-get download klettres-data` in a temporary folder (or use a given .deb, or an already
   extracted tree);
2. read the .deb (an `ar` archive) and extract its `data.tar.*` with the same safe extractor as
   the ARCTIC download;
3. decode every recording, mix it to mono and resample it to the target rate (soxr);
4. hold out whole speakers (languages) for evaluation: given ones, or by default 3 spread
   evenly over the alphabetical list of speakers;
5. write `<dest>/<speaker>/<kind>_<name>.wav` (or .flac), `train.txt` and `eval.txt` (one
   path per line, relative to `dest`, as `read_file_list` reads them), `klettres.json`
   (source package and its sha256, per-speaker file counts, durations and original sample
   rates, the split), `NOTICE.txt` (GPL-2+) and the package's `copyright` file.

Nothing is balanced: `klettres.json` records per-speaker durations (Malayalam alone is about
21 of the 51 minutes) so that training can weight speakers. The output folder is built beside
`dest` and renamed into place when complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from keras_waveglow.data.arctic import Utterance, extract_archive, file_sha256, write_file_lists

logger = logging.getLogger(__name__)

PACKAGE = "klettres-data"
SOUND_ROOT = Path("usr/share/klettres")
COPYRIGHT = Path("usr/share/doc/klettres-data/copyright")
KINDS = ("alpha", "syllab")
N_EVAL_SPEAKERS = 3
_AR_MAGIC = b"!<arch>\n"

NOTICE = """\
These recordings come from Debian's {package} package ({source}), the sound files of KLettres
(KDE Education), resampled to {sample_rate} Hz by keras_waveglow's `prepare klettres` recipe.

They are licensed under the GNU General Public License, version 2 or (at your option) any later
version (GPL-2+); see the package's copyright file beside this notice (`copyright`) and
/usr/share/common-licenses/GPL-2 on Debian. Models trained on them carry this notice; the
keras_waveglow code itself is Apache-2.0. Do not commit or redistribute these files without
the licence.
"""


def fetch_deb(workdir: str | os.PathLike) -> Path:
    """Downloads the klettres-data .deb with `apt-get download` into `workdir`.

    Raises:
        RuntimeError: apt-get is missing or fails (the message says to pass the .deb instead).
    """
    workdir = Path(workdir)
    if shutil.which("apt-get") is None:
        raise RuntimeError(
            f"apt-get not found: download {PACKAGE}_*.deb from packages.debian.org and pass "
            "it with --deb (Python: deb=...)."
        )
    result = subprocess.run(
        ["apt-get", "download", PACKAGE], cwd=workdir, capture_output=True, text=True
    )
    debs = sorted(workdir.glob(f"{PACKAGE}_*.deb"))
    if result.returncode != 0 or not debs:
        raise RuntimeError(
            f"`apt-get download {PACKAGE}` failed ({result.stderr.strip()[-300:]}); run "
            f"`apt-get update` first, or pass a downloaded .deb with --deb."
        )
    return debs[0]


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
        size = int(header[48:58].decode("ascii").strip())
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
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / names[0]
        archive.write_bytes(members[names[0]])
        extract_archive(archive, dest)
    return dest


def find_recordings(root: str | os.PathLike) -> dict[str, list[Path]]:
    """{speaker (language folder): sorted recordings} under `<root>/usr/share/klettres`.

    Raises:
        FileNotFoundError: no recordings there.
    """
    sounds = Path(root) / SOUND_ROOT
    found = {}
    for language in sorted(p for p in sounds.iterdir() if p.is_dir()) if sounds.is_dir() else []:
        files = sorted(f for kind in KINDS for f in (language / kind).glob("*.ogg"))
        if files:
            found[language.name] = files
    if not found:
        raise FileNotFoundError(f"{sounds}: no <language>/{{alpha,syllab}}/*.ogg recordings.")
    return found


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


# A decoded file whose peak exceeds full scale is scaled to this peak instead of being clipped.
RESCALED_PEAK = 0.99


def _convert(source: Path, target: Path, sample_rate: int) -> tuple[int, int, float]:
    """Decodes `source`, mixes to mono, resamples, writes 16-bit `target`.

    Vorbis decodes to floats that may exceed full scale (klettres' tn recordings peak at up to
    40, most ml ones at about 1.1): such a file is scaled down to a peak of `RESCALED_PEAK`,
    keeping its waveform, where clipping it at +-1 would flatten its loud parts (35% of the
    training files had been clipped so).

    Returns:
        (source rate, samples written, gain applied: 1.0 unless the file was scaled down).
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
    gain = RESCALED_PEAK / peak if peak > 1.0 else 1.0
    # The clip only guards the 16-bit conversion (never wraps); after the gain nothing reaches it.
    sf.write(target, np.clip(audio * gain, -1.0, 1.0), sample_rate, subtype="PCM_16")
    return rate, len(audio), gain


def prepare_klettres(
    dest: str | os.PathLike,
    sample_rate: int = 22050,
    deb: str | os.PathLike | None = None,
    eval_speakers: Sequence[str] | None = None,
    audio_format: str = "wav",
) -> dict:
    """Prepares klettres-data for training: resampled audio, speaker split, licence notice.

    Args:
        dest: str or path-like, output folder; must not exist or be empty.
        sample_rate: int, target sample rate. Default 22050 (NVIDIA's mel settings).
        deb: path to a klettres-data .deb, a folder it was extracted into (`dpkg-deb -x`), or
            None to fetch it with `apt-get download`.
        eval_speakers: held-out speakers (language codes); None for `choose_eval_speakers`.
        audio_format: "wav" or "flac" (both 16-bit). Default "wav".

    Returns:
        The summary written to `<dest>/klettres.json`: "source", "sample_rate", "speakers"
        ({speaker: files, seconds, source_rates}), "splits" ({"train"/"eval": speakers, files,
        seconds}), "skipped" ([[file, reason]]), "rescaled" ([[file, gain]]: files decoded
        beyond full scale, scaled to a peak of `RESCALED_PEAK` instead of clipped) and "lists"
        ({"train"/"eval": path}).

    Raises:
        FileExistsError: `dest` exists and is not empty.
        FileNotFoundError: no recordings in the package or folder.
        ValueError: unknown held-out speakers, bad arguments, or not a Debian package.
        RuntimeError: no .deb given and `apt-get download` is unavailable or fails.

    Example:
        >>> summary = prepare_klettres("/data/klettres", sample_rate=22050)
        >>> summary["splits"]["eval"]["speakers"]
        ['de', 'it', 'pt_BR']
    """
    dest = Path(dest)
    if audio_format not in ("wav", "flac"):
        raise ValueError(f"audio_format must be 'wav' or 'flac', got {audio_format!r}.")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}.")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(f"{dest} exists and is not empty; choose a new --dest.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}.", dir=dest.parent) as work:
        work = Path(work)
        if deb is None:
            deb = fetch_deb(work)
        deb = Path(deb)
        if deb.is_dir():
            root, source = deb, {"folder": str(deb.resolve())}
        elif deb.is_file():
            root = extract_deb(deb, work / "extracted")
            source = {"package": deb.name, "sha256": file_sha256(deb)}
        else:
            raise FileNotFoundError(f"{deb}: no such .deb or folder.")
        recordings = find_recordings(root)
        held_out = (
            choose_eval_speakers(list(recordings))
            if eval_speakers is None
            else list(dict.fromkeys(eval_speakers))
        )
        unknown = sorted(set(held_out) - set(recordings))
        if unknown or len(held_out) >= len(recordings) or not held_out:
            raise ValueError(
                f"eval speakers {held_out}: need at least one and not all of {sorted(recordings)}"
                + (f"; unknown: {unknown}" if unknown else "")
                + "."
            )
        out = work / "out"
        speakers, skipped, rescaled = {}, [], []
        splits: dict[str, list[Utterance]] = {"train": [], "eval": []}
        for speaker, files in recordings.items():
            (out / speaker).mkdir(parents=True)
            rates, samples = Counter(), 0
            for file in files:
                target = out / speaker / f"{file.parent.name}_{file.stem}.{audio_format}"
                try:
                    rate, n, gain = _convert(file, target, sample_rate)
                except (RuntimeError, ValueError, OSError) as error:  # soundfile's errors
                    logger.warning("%s: skipped (%s).", file, error)
                    skipped.append([str(file.relative_to(root)), str(error)])
                    continue
                rates[rate] += 1
                samples += n
                if gain != 1.0:
                    rescaled.append([str(file.relative_to(root)), round(gain, 6)])
                split = "eval" if speaker in held_out else "train"
                splits[split].append(Utterance(speaker, target.stem, target, None))
            speakers[speaker] = {
                "files": sum(rates.values()),
                "seconds": round(samples / sample_rate, 3),
                "source_rates": {str(r): c for r, c in sorted(rates.items())},
            }
        lists = write_file_lists(splits, out)
        summary = {
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
            "rescaled": rescaled,
            "license": "GPL-2+",
        }
        (out / "klettres.json").write_text(json.dumps(summary, indent=1) + "\n")
        where = source.get("package") or source.get("folder")
        notice = NOTICE.format(package=PACKAGE, source=where, sample_rate=sample_rate)
        (out / "NOTICE.txt").write_text(notice)
        if (root / COPYRIGHT).is_file():
            shutil.copyfile(root / COPYRIGHT, out / "copyright")
        if dest.exists():
            dest.rmdir()  # empty, checked above
        os.replace(out, dest)
    summary["lists"] = {name: dest / path.name for name, path in lists.items()}
    return summary
