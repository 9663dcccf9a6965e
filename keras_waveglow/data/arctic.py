"""CMU ARCTIC: the festvox corpus layout, a safe resumable download, and deterministic splits.

Layout (one folder per speaker, as festvox ships it)::

    <root>/cmu_us_<speaker>_arctic/wav/arctic_a0001.wav ... arctic_b0539.wav
    <root>/cmu_us_<speaker>_arctic/etc/txt.done.data   ( arctic_a0001 "Author of the ..." )

Speakers: awb, bdl, clb, jmk, ksp, rms, slt. Splits follow ParallelWaveGAN's ARCTIC recipe: per
speaker, in utterance order, the last 100 utterances are the evaluation set, the 100 before them
the development set, and the rest the training set (speakers with too few utterances for that
are split proportionally, see `split_corpus`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import logging
import lzma
import os
import re
import tarfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from keras_waveglow._paths import _pipe_bytes

logger = logging.getLogger(__name__)

SPEAKERS = ("awb", "bdl", "clb", "jmk", "ksp", "rms", "slt")
BASE_URL = "http://festvox.org/cmu_arctic/cmu_arctic/packed"
ARCHIVE_TEMPLATE = "cmu_us_{speaker}_arctic-0.95-release.tar.bz2"
URL_TEMPLATE = BASE_URL + "/" + ARCHIVE_TEMPLATE
SPLITS = ("train", "dev", "eval")


def _durable_replace(tmp: Path, path: Path) -> None:
    from keras_waveglow.audio import durable_replace  # Keras only when something is written

    durable_replace(tmp, path)


ARCTIC_UTTERANCES_PER_SPEAKER = 1132  # a0001..a0593 and b0001..b0539
_COMPLETE_MARKER = ".download_complete"
# HTTP statuses a server sends when it may answer later (timeout, too many requests, server
# errors behind a proxy): retried like a dropped connection. Others (404, 403, ...) end at once.
TRANSIENT_HTTP_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RETRY_WAIT_S = 1.0  # the first wait before retrying a failed request; doubled on each retry
_MAX_WAIT_S = 60.0  # the longest wait, whatever the server's Retry-After asks
_WAV_NAME = re.compile(r"^arctic_([ab])(\d{4})\.wav$")
_TRANSCRIPT_LINE = re.compile(r'^\(\s*(\S+)\s+"(.*)"\s*\)$')


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the destination (absolute, `..`, or a link out)."""


@dataclasses.dataclass(frozen=True)
class Utterance:
    """One ARCTIC recording.

    Args:
        speaker: str, the speaker code ("slt").
        utterance_id: str, e.g. "arctic_a0001".
        path: Path, the wav file.
        text: str or None, the transcript (None when etc/txt.done.data has no entry).
    """

    speaker: str
    utterance_id: str
    path: Path
    text: str | None


def speaker_dir(root: str | os.PathLike, speaker: str) -> Path:
    """The festvox folder of a speaker: `<root>/cmu_us_<speaker>_arctic`."""
    _check_speakers([speaker])
    return Path(root) / f"cmu_us_{speaker}_arctic"


def _check_speakers(speakers: Iterable[str]) -> list[str]:
    speakers = list(speakers)
    unknown = [s for s in speakers if s not in SPEAKERS]
    if unknown:
        raise ValueError(f"Unknown CMU ARCTIC speaker(s) {unknown}; expected some of {SPEAKERS}.")
    if not speakers:
        raise ValueError(f"No speakers given; expected some of {SPEAKERS}.")
    return list(dict.fromkeys(speakers))


def parse_speakers(text: str | Sequence[str]) -> list[str]:
    """Parses "slt,bdl" (or a list) into checked speaker codes; "all" means every speaker."""
    if isinstance(text, str):
        text = [s.strip() for s in text.split(",") if s.strip()]
    if list(text) == ["all"]:
        return list(SPEAKERS)
    return _check_speakers(text)


def find_speakers(root: str | os.PathLike) -> list[str]:
    """The speakers whose festvox folder (with a `wav/` folder) exists under `root`.

    Example:
        >>> find_speakers("data")
        ['awb', 'slt']
    """
    return [s for s in SPEAKERS if (Path(root) / f"cmu_us_{s}_arctic" / "wav").is_dir()]


def parse_transcripts(path: str | os.PathLike) -> dict[str, str]:
    """Reads festvox `etc/txt.done.data` lines `( arctic_a0001 "text" )` into {id: text}.

    Raises:
        ValueError: a line that is not in that form (the message names file and line).
    """
    path = Path(path)
    transcripts = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines()):
        line = line.strip()
        if not line:
            continue
        match = _TRANSCRIPT_LINE.match(line)
        if match is None:
            raise ValueError(f"{path}:{number + 1}: not a festvox transcript line: {line[:80]!r}")
        transcripts[match.group(1)] = match.group(2)
    return transcripts


def _utterance_order(utterance_id: str) -> tuple[str, int]:
    match = re.match(r"^arctic_([ab])(\d+)$", utterance_id)
    return (match.group(1), int(match.group(2))) if match else ("z", 0)


def load_corpus(
    root: str | os.PathLike, speakers: str | Sequence[str] | None = None
) -> list[Utterance]:
    """Lists the utterances of one or several speakers in the festvox layout.

    Utterances are ordered by speaker (in the order given) then by id (a0001..a0593,
    b0001..b0539), the order the splits use.

    Args:
        root: str or path-like, the folder holding `cmu_us_<speaker>_arctic/` folders.
        speakers: "slt,bdl", a list of codes, "all", or None (every speaker found under root).

    Returns:
        A list of `Utterance`.

    Raises:
        FileNotFoundError: a requested speaker's folder (or its `wav/`) is missing, or no
            speaker is found under root.
        ValueError: unknown speaker code, malformed transcript file, or a `wav/` folder
            holding no `arctic_<a|b>NNNN.wav` file.

    Example:
        >>> [u.utterance_id for u in load_corpus("data", "slt")]
        ['arctic_a0009']
    """
    root = Path(root)
    if speakers is None:
        speakers = find_speakers(root)
        if not speakers:
            raise FileNotFoundError(
                f"{root}: no CMU ARCTIC speaker folder (cmu_us_<speaker>_arctic/wav) found; "
                "download one with `keras-waveglow download arctic --speakers slt`."
            )
    else:
        speakers = parse_speakers(speakers)
    utterances = []
    for speaker in speakers:
        folder = speaker_dir(root, speaker)
        wav_dir = folder / "wav"
        if not wav_dir.is_dir():
            raise FileNotFoundError(
                f"{wav_dir}: missing; download the speaker with "
                f"`keras-waveglow download arctic --speakers {speaker} --dest {root}`."
            )
        transcript_file = folder / "etc" / "txt.done.data"
        transcripts = parse_transcripts(transcript_file) if transcript_file.is_file() else {}
        if not transcript_file.is_file():
            logger.warning("%s: missing; utterances of %s have no text.", transcript_file, speaker)
        names = sorted(
            (p for p in wav_dir.iterdir() if _WAV_NAME.match(p.name)),
            key=lambda p: _utterance_order(p.stem),
        )
        if not names:  # e.g. arctic_a0001.WAV or .flac copies: say so, not "too few"
            others = sorted(p.name for p in wav_dir.iterdir() if p.is_file())
            found = f"it holds {len(others)} other files, e.g. {others[0]}" if others else "empty"
            raise ValueError(
                f"{wav_dir}: no ARCTIC utterance (arctic_<a|b>NNNN.wav) in it ({found}); give "
                "other files in a file list (one path per line) instead."
            )
        untranscribed = sum(p.stem not in transcripts for p in names)
        if transcripts and untranscribed:
            logger.warning("%s: %d wav files without a transcript.", folder, untranscribed)
        utterances.extend(Utterance(speaker, p.stem, p, transcripts.get(p.stem)) for p in names)
    return utterances


def split_corpus(
    utterances: Sequence[Utterance], n_eval: int = 100, n_dev: int = 100
) -> dict[str, list[Utterance]]:
    """ParallelWaveGAN's ARCTIC split, per speaker: last `n_eval` eval, `n_dev` before dev.

    Deterministic: it only depends on the utterance order (see `load_corpus`). A speaker with
    fewer than `n_eval + n_dev + 1` utterances (too few for the recipe to leave any for
    training) is split proportionally instead, with a logged warning: eval and dev get the
    fractions the recipe gives a full 1132-utterance ARCTIC speaker (`n_eval / 1132` and
    `n_dev / 1132`, rounded down), so train keeps at least one utterance and a speaker with
    fewer than 12 (at the defaults) goes to train entirely. A speaker with enough for the
    recipe but fewer than twice its held-out count (201 to 399 at the defaults) is split as
    asked, leaving training fewer utterances than it holds out, with a logged warning.

    Args:
        utterances: the corpus, as `load_corpus` returns it.
        n_eval: int, evaluation utterances per speaker. Default 100.
        n_dev: int, development utterances per speaker. Default 100.

    Returns:
        {"train": [...], "dev": [...], "eval": [...]}.

    Example:
        >>> splits = split_corpus(load_corpus("data/full_arctic", "slt"))
        >>> [len(splits[k]) for k in ("train", "dev", "eval")]
        [932, 100, 100]
    """
    if n_eval < 0 or n_dev < 0:
        raise ValueError(f"n_eval and n_dev must be >= 0; got {n_eval}, {n_dev}.")
    by_speaker: dict[str, list[Utterance]] = {}
    for utterance in utterances:
        by_speaker.setdefault(utterance.speaker, []).append(utterance)
    splits: dict[str, list[Utterance]] = {name: [] for name in SPLITS}
    for speaker, items in by_speaker.items():
        items = sorted(items, key=lambda u: _utterance_order(u.utterance_id))
        n = len(items)
        speaker_eval, speaker_dev = n_eval, n_dev
        if n <= n_eval + n_dev:
            speaker_eval = n * n_eval // ARCTIC_UTTERANCES_PER_SPEAKER
            speaker_dev = n * n_dev // ARCTIC_UTTERANCES_PER_SPEAKER
            logger.warning(
                "speaker %s has %d utterance(s), too few for ParallelWaveGAN's split "
                "(%d eval + %d dev + at least 1 train): split proportionally instead, "
                "%d train, %d dev, %d eval.",
                speaker,
                n,
                n_eval,
                n_dev,
                n - speaker_eval - speaker_dev,
                speaker_dev,
                speaker_eval,
            )
        elif n - n_eval - n_dev < n_eval + n_dev:
            logger.warning(
                "speaker %s has %d utterance(s): ParallelWaveGAN's split (%d eval + %d dev) "
                "leaves %d for training, fewer than it holds out; pass smaller n_eval/n_dev "
                "for this corpus.",
                speaker,
                n,
                n_eval,
                n_dev,
                n - n_eval - n_dev,
            )
        eval_start = n - speaker_eval
        dev_start = eval_start - speaker_dev
        splits["train"].extend(items[:dev_start])
        splits["dev"].extend(items[dev_start:eval_start])
        splits["eval"].extend(items[eval_start:])
    return splits


def write_file_lists(
    splits: dict[str, Sequence[Utterance]], out_dir: str | os.PathLike, overwrite: bool = False
) -> dict[str, Path]:
    """Writes `<out_dir>/<split>.txt`, one wav path per line, relative to `out_dir`.

    Args:
        splits: the output of `split_corpus`.
        out_dir: str or path-like, the folder for the lists.
        overwrite: bool, replace existing lists. Default False.

    Returns:
        {split: path of its list}.

    Raises:
        FileExistsError: a list exists and `overwrite` is False.
    """
    out_dir = Path(out_dir)
    if not overwrite:  # every list checked before any is written: never half a set
        for name in splits:
            if (out_dir / f"{name}.txt").exists():
                raise FileExistsError(
                    f"{out_dir / f'{name}.txt'} exists; pass overwrite=True to replace it."
                )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, items in splits.items():
        path = out_dir / f"{name}.txt"
        lines = [os.path.relpath(Path(u.path).resolve(), out_dir.resolve()) for u in items]
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        _durable_replace(tmp, path)
        written[name] = path
    return written


def is_file_list(path: str | os.PathLike) -> bool:
    """Whether `path` is a file list: a text file (any name but an audio file's: `.txt`,
    `.lst`, `.scp`, ...), as opposed to audio.

    Example:
        >>> is_file_list("filelists/train.txt"), is_file_list("a.wav")  # doctest: +SKIP
        (True, False)
    """
    from keras_waveglow.audio import AUDIO_EXTENSIONS

    path = Path(path)
    if path.suffix.lower() in AUDIO_EXTENSIONS:
        return False
    piped = _pipe_bytes(path)
    if piped is not None:
        head = piped[:4096]
    elif not path.is_file():
        return False
    else:
        with open(path, "rb") as f:
            head = f.read(4096)
    if b"\0" in head:  # audio and other binary files hold NUL bytes; text does not
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start > len(head) - 4  # only a character cut at the 4096-byte mark
    return True


def read_file_list(path: str | os.PathLike, *, require_existing: bool = False) -> list[Path]:
    """Reads a file list: one audio path per line (blank lines and `#` comments ignored).

    A relative path is taken relative to the list's folder (as `write_file_lists` writes
    them), or relative to the working directory when only that one exists (NVIDIA's and
    Tacotron 2's lists name files relative to the repository they run from). A line in
    Tacotron 2's `path|text[|speaker]` form gives its path. A named pipe (the shell's
    `<(ls mels/*.pt)`) is read once and kept, its relative paths taken from the working
    directory.

    Args:
        path: the list (a text file; `.txt`, `.lst`, ...).
        require_existing: bool, refuse a list none of whose lines names an existing audio
            file (a folder or a text file does not count): prose (a README) rather than a
            list, named in one bounded message instead of as many missing files as it has
            lines. Default False (the caller names what is missing).

    Returns:
        A list of `Path`, in the list's order.

    Raises:
        FileNotFoundError: the list does not exist.
        ValueError: `require_existing` and none of the list's lines names an existing audio
            file, or the list is not UTF-8 text.

    Example:
        >>> read_file_list("klettres/train.txt")[:1]  # doctest: +SKIP
        [PosixPath('klettres/de/alpha_a.wav')]
    """
    path = Path(path)
    piped = _pipe_bytes(path)
    if piped is None and not path.is_file():
        raise FileNotFoundError(f"{path}: no such file list.")
    folder = list_folder(path)
    # utf-8-sig: a byte-order mark (Windows editors write one) is not part of the first path
    try:
        text = path.read_text(encoding="utf-8-sig") if piped is None else piped.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not a UTF-8 file list ({error}).") from error
    lines = [line.strip() for line in text.splitlines()]
    files = []
    for line in lines:
        if not line or (line.startswith("#") and not _exists(folder / line)):
            continue  # blank, or a comment (unless a file of that name is beside the list)
        if "|" in line and not _exists(folder / line):
            # Tacotron 2's path|text; a line with nothing before its first bar (a Markdown
            # table's) names no path, and kept whole it names no file (not the list's folder).
            line = line.split("|", 1)[0].strip() or line
        entry = Path(line)
        if not entry.is_absolute():
            beside = folder / entry
            entry = entry if not _exists(beside) and _exists(entry) else beside
        files.append(entry)
    if require_existing and files and not any(map(_may_be_audio, files)):
        first = str(files[0])
        first = first if len(first) <= 80 else f"{first[:77]}..."
        raise ValueError(
            f"{path}: read as a file list (one audio path per line), but none of its "
            f"{len(files)} lines names an existing audio file (first: {first!r}); is it a "
            "file list?"
        )
    return files


def list_folder(path: str | os.PathLike) -> Path:
    """The folder a file list's relative paths start from: the list's own, or the working
    directory for a named pipe (`<(ls mels/*.pt)` lives in /dev/fd)."""
    path = Path(path)
    return Path() if _pipe_bytes(path) is not None else path.parent


def _exists(path: Path) -> bool:
    """`path.exists()`, False for a name the system refuses (a prose line over 255 bytes)."""
    try:
        return path.exists()
    except OSError:  # e.g. ENAMETOOLONG, which pathlib raises
        return False


def _may_be_audio(path: Path) -> bool:
    """Whether `path` is an existing file that is not text (audio, as far as a list goes)."""
    try:
        if not path.is_file():
            return False
    except OSError:  # a name the system refuses
        return False
    try:
        return not is_file_list(path)
    except OSError:  # unreadable: the data check names it
        return True


# ------------------------------------------------------------------------------------------------
# Download
# ------------------------------------------------------------------------------------------------


def archive_url(speaker: str, base_url: str | None = None) -> str:
    """The festvox URL of a speaker's archive (or the same file name under `base_url`).

    Example:
        >>> archive_url("slt")
        'http://festvox.org/cmu_arctic/cmu_arctic/packed/cmu_us_slt_arctic-0.95-release.tar.bz2'
    """
    _check_speakers([speaker])
    base = (base_url or BASE_URL).rstrip("/")
    return f"{base}/{ARCHIVE_TEMPLATE.format(speaker=speaker)}"


def _total_size(response) -> int | None:
    content_range = response.headers.get("Content-Range")
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        return int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def part_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """The files a transfer to `path` leaves while unfinished: `<path>.part` (the bytes so
    far) and `<path>.part.validator` (the server's ETag or Last-Modified for those bytes)."""
    path = Path(path)
    return path.with_name(path.name + ".part"), path.with_name(path.name + ".part.validator")


def discard_part(path: str | os.PathLike) -> None:
    """Deletes an unfinished transfer to `path` (its `.part` file and validator record)."""
    for leftover in part_paths(path):
        leftover.unlink(missing_ok=True)


def _validator(response) -> str | None:
    """The validator an `If-Range` header may carry: the ETag unless it is weak (RFC 9110
    allows only strong ones there), else Last-Modified."""
    etag = response.headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("Last-Modified")


def _download_once(url: str, path: Path, progress: bool, timeout: float) -> int | None:
    """One HTTP request, resuming `<path>.part` with a Range header; returns the total size.

    A resume sends `If-Range` with the validator recorded when the part file was begun, so a
    server whose file changed since sends the new file whole instead of splicing its tail onto
    the old bytes (`download_file` has already dropped a part that nothing can check).
    """
    from tqdm.auto import tqdm

    part, record = part_paths(path)
    offset = part.stat().st_size if part.exists() else 0
    known = None
    if offset and record.is_file():
        known = record.read_text(encoding="utf-8").strip() or None
    request = urllib.request.Request(url, headers={"User-Agent": "keras-waveglow"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
        if known:
            request.add_header("If-Range", known)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            # Nothing left to send: the part file already holds the whole archive.
            total = _total_size(error)
            return total if total is not None else offset
        raise
    if offset and response.status == 206 and known and known.startswith('"'):
        sent = response.headers.get("ETag")
        if sent and sent != known:  # a server that ignored If-Range: its file changed
            response.close()
            logger.info("%s: the file changed since %s was begun; downloading it again.", url, part)
            discard_part(path)
            return _download_once(url, path, progress, timeout)
    with response:
        if offset and response.status != 206:
            logger.info(
                "%s: the server sent the whole file (Range not supported, or the file changed "
                "since %s was begun); downloading from scratch.",
                url,
                part,
            )
            offset = 0
        if not offset:  # a new part file: record what identifies the server's file
            validator = _validator(response)
            if validator:
                record.write_text(validator + "\n", encoding="utf-8")
            else:
                record.unlink(missing_ok=True)
        total = _total_size(response)
        mode = "ab" if offset else "wb"
        with (
            open(part, mode) as out,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                desc=part.name.removesuffix(".part"),
                disable=not progress,
            ) as bar,
        ):
            while True:
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                out.write(chunk)
                bar.update(len(chunk))
    return total


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(
    url: str,
    path: str | os.PathLike,
    sha256: str | None = None,
    progress: bool = True,
    retries: int = 3,
    timeout: float = 60.0,
) -> Path:
    """Downloads `url` to `path`, resuming interrupted transfers with HTTP Range.

    Bytes go to `<path>.part`; an interrupted transfer is resumed (within this call up to
    `retries` times, and by a later call from the part file left behind) with `If-Range` set
    to the server's ETag (or Last-Modified) recorded when the part was begun, in
    `<path>.part.validator`: a file changed on the server meanwhile is downloaded again whole,
    never spliced. A part left without such a record is resumed by a later call only when
    `sha256` is given (within a call, its own part always is). The
    size must equal the server's Content-Length (or Content-Range total) and, when given, the
    sha256; only then is the part file renamed to `path`.

    Args:
        url: str, http(s) URL.
        path: str or path-like, where the file goes.
        sha256: str or None, the expected hex digest.
        progress: bool, show a tqdm progress bar. Default True.
        retries: int, extra attempts after an interrupted transfer, a failed connection or a
            transient HTTP status (`TRANSIENT_HTTP_STATUSES`: 408, 429, 500, 502-504); an
            attempt that gained no bytes is followed by a pause (the server's Retry-After, else
            `RETRY_WAIT_S` doubled per attempt, at most a minute). Default 3.
        timeout: float, socket timeout in seconds. Default 60.

    Returns:
        The `Path` of the complete file.

    Raises:
        OSError: the transfer stayed incomplete after all retries (the part file is kept), or
            the server answered with another HTTP error (404, 403, ...: not retried).
        ValueError: size or checksum mismatch (the part file is deleted).
    """
    path = Path(path)
    part, record = part_paths(path)
    if part.exists() and sha256 is None and not record.is_file():
        # Left by an earlier call, with nothing to tell whether its bytes are of the server's
        # file now (no ETag or Last-Modified was recorded, no sha256 given): not resumed. Every
        # part from here on is this call's, or one the server's validator checks.
        logger.info("%s: %s cannot be resumed unchecked; downloading from scratch.", url, part)
        discard_part(path)
    for attempt in range(retries + 1):
        before = part.stat().st_size if part.exists() else 0
        try:
            total = _download_once(url, path, progress, timeout)
            problem = None
        except urllib.error.HTTPError as error:
            if error.code not in TRANSIENT_HTTP_STATUSES:
                raise OSError(f"{url}: HTTP error {error.code} {error.reason}.") from error
            # The server may answer later: wait (its Retry-After, else a doubling pause).
            total, problem = None, error
        except (http.client.HTTPException, OSError) as error:
            # A dropped connection (IncompleteRead, reset, timeout): keep the bytes, resume.
            total, problem = None, error
        size = part.stat().st_size if part.exists() else 0
        if total is not None and size > total:
            discard_part(path)
            raise OSError(f"{url}: got {size} bytes, more than the announced {total}.")
        if problem is None and (total is None or size == total):
            break
        problem = problem or f"connection closed at {size} of {total} bytes"
        cause = problem if isinstance(problem, BaseException) else None
        if attempt == retries and size == 0:
            discard_part(path)
            raise OSError(
                f"{url}: could not download it after {retries + 1} attempts ({problem}); "
                "nothing was saved."
            ) from cause
        if attempt == retries:
            later = (
                f"run again to resume from {part}"
                if sha256 is not None or record.is_file()
                else "run again to download it again (the server names no version of the "
                "file, so a later call cannot resume it unchecked)"
            )
            raise OSError(
                f"{url}: download interrupted at {size} bytes after {retries + 1} attempts "
                f"({problem}); {later}."
            ) from cause
        action = "resuming" if size else "retrying"
        wait = 0.0
        if isinstance(problem, urllib.error.HTTPError) or size <= before:
            # Nothing gained this attempt (a server error, a refused connection): pause before
            # asking again; a transfer cut after some progress resumes at once.
            wait = _retry_wait(problem, attempt)
            action += f" in {wait:g} s"
        logger.warning("%s: interrupted at %d bytes (%s); %s.", url, size, problem, action)
        time.sleep(wait)
    if sha256 is not None:
        digest = file_sha256(part)
        if digest.lower() != sha256.lower():
            discard_part(path)
            raise ValueError(f"{url}: sha256 mismatch: expected {sha256}, got {digest}.")
    _durable_replace(part, path)
    discard_part(path)  # the validator record
    return path


def _retry_wait(problem: object, attempt: int) -> float:
    """Seconds to wait before retry `attempt + 1`: the server's Retry-After (seconds, or an
    HTTP date) when it sent one, else RETRY_WAIT_S doubled per attempt; at most _MAX_WAIT_S."""
    retry_after = getattr(problem, "headers", None) and problem.headers.get("Retry-After")
    if retry_after:
        text = retry_after.strip()
        if text.isascii() and text.isdecimal():  # delay-seconds
            return min(float(text), _MAX_WAIT_S)
        try:  # an HTTP date (RFC 9110): the wait until then
            import email.utils
            from datetime import datetime, timezone

            until = email.utils.parsedate_to_datetime(text)
            if until.tzinfo is None:
                until = until.replace(tzinfo=timezone.utc)
            seconds = (until - datetime.now(timezone.utc)).total_seconds()
            return min(max(seconds, 0.0), _MAX_WAIT_S)
        except (TypeError, ValueError, OverflowError):
            pass  # neither: the doubling pause
    return min(RETRY_WAIT_S * 2**attempt, _MAX_WAIT_S)


def _is_within(dest: Path, target: Path) -> bool:
    try:
        target.resolve().relative_to(dest.resolve())
        return True
    except ValueError:
        return False


def check_archive_members(archive: tarfile.TarFile, dest: Path, name: str) -> None:
    """Refuses absolute paths, `..` components, and links that point out of `dest`."""
    for member in archive.getmembers():
        member_path = Path(member.name)
        if member_path.is_absolute() or member.name.startswith(("/", "\\")):
            raise UnsafeArchiveError(f"{name}: member {member.name!r} has an absolute path.")
        if ".." in member_path.parts:
            raise UnsafeArchiveError(f"{name}: member {member.name!r} contains '..'.")
        if not _is_within(dest, dest / member_path):
            raise UnsafeArchiveError(f"{name}: member {member.name!r} would land outside {dest}.")
        if member.issym() or member.islnk():
            base = dest / member_path.parent if member.issym() else dest
            if os.path.isabs(member.linkname) or not _is_within(dest, base / member.linkname):
                raise UnsafeArchiveError(
                    f"{name}: link {member.name!r} -> {member.linkname!r} points outside {dest}."
                )
        if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            raise UnsafeArchiveError(f"{name}: member {member.name!r} is a device or fifo.")


def _warn_of_replaced_files(archive: tarfile.TarFile, dest: Path, archive_path: Path) -> None:
    replaced = [
        member.name
        for member in archive.getmembers()
        if not member.isdir() and os.path.lexists(dest / member.name)
    ]
    if replaced:
        shown = ", ".join(replaced[:3]) + (
            f" and {len(replaced) - 3} more" if len(replaced) > 3 else ""
        )
        logger.warning(
            "%s: extracting it into %s replaces %d file(s) already there: %s.",
            archive_path,
            dest,
            len(replaced),
            shown,
        )


_FILTER_ERROR = getattr(tarfile, "FilterError", ())  # () catches nothing (no filters)


def extract_archive(archive_path: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Extracts a tarball safely into `dest`.

    Every member is checked first (nothing is written when one is unsafe), then extraction
    runs with tarfile's "data" filter as a second line of defence. Files already in `dest`
    that the archive holds too are replaced, with a warning naming them (an interrupted
    extraction's, the bundled sample's, or changes of the user's own).

    Raises:
        UnsafeArchiveError: a member is absolute, contains `..`, or links outside `dest`.
        ValueError: the file is not a readable tar archive.
    """
    archive_path, dest = Path(archive_path), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        archive = tarfile.open(archive_path, "r:*")
    except tarfile.TarError as error:
        raise ValueError(f"{archive_path}: not a readable tar archive ({error}).") from error
    with archive:
        try:
            check_archive_members(archive, dest, str(archive_path))
            _warn_of_replaced_files(archive, dest, archive_path)
            # tarfile's filters came with Python 3.10.12 / 3.11.4 (Debian 12 has 3.11.2):
            # without them the member check above is the only guard, as it is the first.
            filtered = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            archive.extractall(dest, **filtered)
        except _FILTER_ERROR as error:
            raise UnsafeArchiveError(
                f"{archive_path}: refused by the data filter: {error}"
            ) from error
        except (tarfile.ReadError, EOFError, OSError, lzma.LZMAError, zlib.error) as error:
            if isinstance(error, OSError) and error.errno is not None:
                raise  # the disk (full, read-only), not the archive
            # cut short, or bad compressed data (bz2 raises an OSError without errno, xz and
            # gzip their own errors)
            raise ValueError(f"{archive_path}: not a readable tar archive ({error}).") from error


def _usable_archive(archive: Path, sha256: str | None) -> bool:
    """Whether an archive left by an earlier run can be extracted as is: its sha256 when
    one is given, else whether tar can read it to the end (a transfer cut by a server that
    sent no length looks complete)."""
    if sha256 is not None:
        digest = file_sha256(archive)
        if digest.lower() != sha256.lower():
            logger.warning(
                "%s: sha256 %s, expected %s; downloading it again.", archive, digest, sha256
            )
            return False
        return True
    try:
        with tarfile.open(archive, "r:*") as handle:
            handle.getmembers()
    except (tarfile.TarError, EOFError, OSError, lzma.LZMAError, zlib.error) as error:
        logger.warning("%s: not a readable archive (%s); downloading it again.", archive, error)
        return False
    return True


def check_checksum_speakers(sha256: dict[str, str] | None, chosen: Sequence[str]) -> None:
    """Refuses checksums for a speaker not being downloaded: a mistyped speaker would leave
    its archive unchecked without a word.

    Raises:
        ValueError: `sha256` names a speaker not in `chosen` (named, with the speakers).
    """
    stray = sorted(set(sha256 or {}) - set(chosen))
    if stray:
        raise ValueError(
            f"sha256 names {', '.join(map(repr, stray))}, not among the speakers "
            f"{', '.join(chosen)}."
        )


def download_arctic(
    speakers: str | Sequence[str],
    dest: str | os.PathLike,
    base_url: str | None = None,
    sha256: dict[str, str] | None = None,
    progress: bool = True,
    keep_archive: bool = False,
    retries: int = 3,
    timeout: float = 60.0,
) -> list[Path]:
    """Downloads and extracts CMU ARCTIC speakers into `dest` (festvox layout); idempotent.

    A speaker whose folder already carries the completion marker is skipped without any network
    access. Otherwise its archive is fetched from `archive_url(speaker, base_url)` (resuming a
    `.part` file left by an interrupted run), its size (and sha256 when given) verified,
    extracted safely, and the archive deleted unless `keep_archive`.

    Args:
        speakers: "slt,bdl", a list of codes, or "all".
        dest: str or path-like, the data root (speaker folders go directly under it).
        base_url: str or None, a mirror holding the festvox file names (default festvox.org).
        sha256: optional {speaker: hex digest} of the archives.
        progress: bool, show progress bars. Default True.
        keep_archive: bool, keep the .tar.bz2 after extraction. Default False.
        retries: int, resume attempts within one call. Default 3.
        timeout: float, socket timeout in seconds. Default 60.

    Returns:
        The speaker folders, in the order given.

    Raises:
        OSError: download failed or stayed incomplete (rerun to resume).
        ValueError: size/checksum mismatch, unknown speaker, or an archive without the speaker
            folder.
        UnsafeArchiveError: the archive would write outside `dest`.

    Example:
        >>> download_arctic("slt,bdl", "data/")
        [PosixPath('data/cmu_us_slt_arctic'), PosixPath('data/cmu_us_bdl_arctic')]
    """
    dest = Path(dest)
    chosen = parse_speakers(speakers)
    check_checksum_speakers(sha256, chosen)
    dest.mkdir(parents=True, exist_ok=True)
    folders = []
    for speaker in chosen:
        folder = speaker_dir(dest, speaker)
        folders.append(folder)
        if (folder / _COMPLETE_MARKER).is_file():
            logger.info("%s: already downloaded; skipping.", folder)
            continue
        archive = dest / ARCHIVE_TEMPLATE.format(speaker=speaker)
        url, digest = archive_url(speaker, base_url), (sha256 or {}).get(speaker)
        if archive.is_file() and not _usable_archive(archive, digest):
            archive.unlink()  # left by an earlier run: fetched again below
        if not archive.is_file():
            download_file(
                url, archive, sha256=digest, progress=progress, retries=retries, timeout=timeout
            )
        try:
            extract_archive(archive, dest)
        except UnsafeArchiveError as error:
            # Kept, every later call extracted it again and failed the same way.
            archive.unlink(missing_ok=True)
            raise UnsafeArchiveError(f"{error} Deleted it.") from error
        except ValueError as error:  # a server that cut the transfer without a length
            archive.unlink(missing_ok=True)
            raise ValueError(f"{error} Deleted it; run again to download it again.") from error
        if not (folder / "wav").is_dir():
            archive.unlink(missing_ok=True)
            raise ValueError(
                f"{archive}: holds no {folder.name}/wav folder; not an ARCTIC archive "
                f"(deleted it; what it held was extracted into {dest})."
            )
        (folder / _COMPLETE_MARKER).write_text(archive_url(speaker, base_url) + "\n")
        if not keep_archive:
            archive.unlink()
    return folders
