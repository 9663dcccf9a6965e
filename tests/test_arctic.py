"""CMU ARCTIC: layout, transcripts, splits, and the download against a local HTTP server."""

import hashlib
import http.server
import io
import logging
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keras_waveglow import cli
from keras_waveglow.data import arctic

DATA = Path(__file__).resolve().parents[1] / "data"
ARCHIVE = "cmu_us_{}_arctic-0.95-release.tar.bz2"


def wav_bytes(seconds=0.1, rate=16000, seed=0):
    buffer = io.BytesIO()
    noise = np.random.default_rng(seed).uniform(-0.3, 0.3, int(seconds * rate))
    sf.write(buffer, noise, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def make_speaker(root, speaker, ids, with_transcripts=True):
    folder = Path(root) / f"cmu_us_{speaker}_arctic"
    (folder / "wav").mkdir(parents=True)
    (folder / "etc").mkdir()
    for i, utterance_id in enumerate(ids):
        (folder / "wav" / f"{utterance_id}.wav").write_bytes(wav_bytes(seed=i))
    if with_transcripts:
        lines = [f'( {u} "Sentence {u} by {speaker}." )' for u in ids]
        (folder / "etc" / "txt.done.data").write_text("\n".join(lines) + "\n")
    return folder


def add_bytes(archive, name, data=b"", **fields):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    archive.addfile(info, io.BytesIO(data))


def speaker_tarball(speaker, ids=("arctic_a0001", "arctic_a0002", "arctic_b0001")):
    """A .tar.bz2 in festvox's layout (cmu_us_<spk>_arctic/wav, etc/txt.done.data)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as archive:
        top = f"cmu_us_{speaker}_arctic"
        for i, utterance_id in enumerate(ids):
            add_bytes(archive, f"{top}/wav/{utterance_id}.wav", wav_bytes(seed=i))
        text = "".join(f'( {u} "Text of {u}." )\n' for u in ids).encode()
        add_bytes(archive, f"{top}/etc/txt.done.data", text)
    return buffer.getvalue()


class ArchiveServer(http.server.ThreadingHTTPServer):
    """Serves `files` on 127.0.0.1 with HTTP Range; can cut the first transfers short."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ArchiveHandler)
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.bytes_sent = 0
        self.cut_after: int | None = None  # bytes of body sent before dropping the connection
        self.cuts_left = 0
        self.support_range = True
        self.send_length = True  # False: no Content-Length (the end is where the data stop)
        self.fail_statuses: list[int] = []  # answered (one per request) before serving again
        self.retry_after: str | None = None  # the Retry-After header sent with those
        # What identifies a file's version: its ETag (from its bytes), or weak ETags and a
        # Last-Modified date per name, or nothing; If-Range is honoured unless told not to.
        self.validator: str | None = "etag"  # "etag", "last-modified" or None
        self.modified: dict[str, str] = {}  # name -> Last-Modified (default: a fixed date)
        self.honour_if_range = True
        self.if_ranges: list[str | None] = []  # the If-Range header of each request

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/packed"


class ArchiveHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        server = self.server
        range_header = self.headers.get("Range")
        server.requests.append((self.path, range_header))
        name = self.path.rsplit("/", 1)[-1]
        if not self.path.startswith("/packed/") or name not in server.files:
            self.send_error(404)
            return
        if server.fail_statuses:
            self.send_response(server.fail_statuses.pop(0))
            if server.retry_after is not None:
                self.send_header("Retry-After", server.retry_after)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = server.files[name]
        etag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
        modified = server.modified.get(name, "Mon, 07 Dec 2026 10:00:00 GMT")
        current = {"etag": etag, "last-modified": modified}.get(server.validator)
        if_range = self.headers.get("If-Range")
        server.if_ranges.append(if_range)
        if if_range and server.honour_if_range and if_range != current:
            range_header = None  # the file changed: RFC 9110 sends it whole
        start = 0
        if range_header and server.support_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        if server.validator == "etag":
            self.send_header("ETag", etag)
        elif server.validator == "last-modified":
            self.send_header("ETag", "W/" + etag)  # weak: not allowed in If-Range
            self.send_header("Last-Modified", modified)
        if server.send_length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.close_connection = True
        self.end_headers()
        if server.cuts_left > 0:
            server.cuts_left -= 1
            body = body[: server.cut_after]
            self.close_connection = True
        # Counted before the write: the client may finish reading, and the test assert, before
        # this thread runs another line after the write (seen once under CI's load).
        server.bytes_sent += len(body)
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = ArchiveServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


# ------------------------------------------------------------------------------------------------
# Layout, transcripts, splits
# ------------------------------------------------------------------------------------------------


def test_layout_of_every_speaker_and_several_at_once(tmp_path):
    for speaker in arctic.SPEAKERS:
        make_speaker(tmp_path, speaker, ["arctic_b0001", "arctic_a0010", "arctic_a0002"])
    (tmp_path / "cmu_us_xyz_arctic" / "wav").mkdir(parents=True)  # not an ARCTIC speaker
    assert arctic.find_speakers(tmp_path) == list(arctic.SPEAKERS)
    corpus = arctic.load_corpus(tmp_path, "slt,bdl")
    assert [(u.speaker, u.utterance_id) for u in corpus] == [
        ("slt", "arctic_a0002"),
        ("slt", "arctic_a0010"),
        ("slt", "arctic_b0001"),
        ("bdl", "arctic_a0002"),
        ("bdl", "arctic_a0010"),
        ("bdl", "arctic_b0001"),
    ]
    assert corpus[0].text == "Sentence arctic_a0002 by slt."
    assert corpus[0].path == tmp_path / "cmu_us_slt_arctic" / "wav" / "arctic_a0002.wav"
    assert len(arctic.load_corpus(tmp_path)) == 3 * 7
    assert len(arctic.load_corpus(tmp_path, "all")) == 3 * 7


def test_bundled_sample_is_a_festvox_layout():
    assert arctic.find_speakers(DATA) == ["awb", "slt"]
    corpus = arctic.load_corpus(DATA)
    assert [(u.speaker, u.utterance_id) for u in corpus] == [
        ("awb", "arctic_a0007"),
        ("slt", "arctic_a0009"),
    ]
    assert corpus[1].text == "He turned sharply, and faced Gregson across the table."


def test_layout_errors_are_clear(tmp_path):
    make_speaker(tmp_path, "slt", ["arctic_a0001"])
    with pytest.raises(ValueError, match="Unknown CMU ARCTIC speaker"):
        arctic.load_corpus(tmp_path, "slt,xyz")
    with pytest.raises(FileNotFoundError, match=r"cmu_us_bdl_arctic.*download arctic"):
        arctic.load_corpus(tmp_path, "bdl")
    with pytest.raises(FileNotFoundError, match="no CMU ARCTIC speaker folder"):
        arctic.load_corpus(tmp_path / "cmu_us_slt_arctic")
    bad = tmp_path / "cmu_us_slt_arctic" / "etc" / "txt.done.data"
    bad.write_text('( arctic_a0001 "fine" )\narctic_a0002 missing parentheses\n')
    with pytest.raises(ValueError, match=r"txt\.done\.data:2: not a festvox transcript line"):
        arctic.load_corpus(tmp_path, "slt")


def test_a_wav_folder_without_arctic_names_is_named(tmp_path):
    # Upper-case or FLAC copies in the festvox layout: the error names the folder and the
    # names it expects, not an empty split.
    wav = make_speaker(tmp_path, "slt", ["arctic_a0001"]) / "wav"
    (wav / "arctic_a0001.wav").rename(wav / "arctic_a0001.WAV")
    with pytest.raises(ValueError, match=r"wav: no ARCTIC utterance \(arctic_<a\|b>NNNN\.wav\)"):
        arctic.load_corpus(tmp_path)
    (wav / "arctic_a0001.WAV").unlink()
    with pytest.raises(ValueError, match=r"\(empty\)"):
        arctic.load_corpus(tmp_path, "slt")


def test_missing_transcripts_leave_text_empty(tmp_path, caplog):
    make_speaker(tmp_path, "clb", ["arctic_a0001"], with_transcripts=False)
    corpus = arctic.load_corpus(tmp_path, "clb")
    assert corpus[0].text is None
    assert "txt.done.data: missing" in caplog.text


def fake_corpus(counts):
    utterances = []
    for speaker, (n_a, n_b) in counts.items():
        ids = [f"arctic_a{i:04d}" for i in range(1, n_a + 1)]
        ids += [f"arctic_b{i:04d}" for i in range(1, n_b + 1)]
        for utterance_id in ids:
            path = Path(f"/corpus/cmu_us_{speaker}_arctic/wav/{utterance_id}.wav")
            utterances.append(arctic.Utterance(speaker, utterance_id, path, None))
    return utterances


def test_splits_follow_parallel_wavegan_per_speaker():
    corpus = fake_corpus({"slt": (593, 539), "bdl": (593, 539)})  # the real ARCTIC sizes
    shuffled = list(np.random.default_rng(0).permutation(np.array(corpus, dtype=object)))
    splits = arctic.split_corpus(shuffled)
    assert {k: len(v) for k, v in splits.items()} == {"train": 2 * 932, "dev": 200, "eval": 200}
    for speaker in ("slt", "bdl"):
        ids = {k: [u.utterance_id for u in v if u.speaker == speaker] for k, v in splits.items()}
        # Utterance order a0001..a0593, b0001..b0539: eval = b0440..b0539, dev = b0340..b0439.
        assert ids["eval"] == [f"arctic_b{i:04d}" for i in range(440, 540)]
        assert ids["dev"] == [f"arctic_b{i:04d}" for i in range(340, 440)]
        assert ids["train"][0] == "arctic_a0001" and ids["train"][-1] == "arctic_b0339"
    assert arctic.split_corpus(shuffled) == splits  # deterministic
    small = arctic.split_corpus(fake_corpus({"awb": (5, 0)}), n_eval=2, n_dev=1)
    assert [u.utterance_id for u in small["train"]] == ["arctic_a0001", "arctic_a0002"]
    assert [u.utterance_id for u in small["dev"]] == ["arctic_a0003"]
    assert [u.utterance_id for u in small["eval"]] == ["arctic_a0004", "arctic_a0005"]


def test_speakers_too_small_for_the_recipe_are_split_proportionally(caplog):
    # 150 utterances: eval and dev get floor(150 * 100 / 1132) = 13 each, the last ones.
    splits = arctic.split_corpus(fake_corpus({"slt": (150, 0), "awb": (1, 0), "bdl": (593, 539)}))
    ids = {k: [u.utterance_id for u in v if u.speaker == "slt"] for k, v in splits.items()}
    assert ids["eval"] == [f"arctic_a{i:04d}" for i in range(138, 151)]
    assert ids["dev"] == [f"arctic_a{i:04d}" for i in range(125, 138)]
    assert ids["train"] == [f"arctic_a{i:04d}" for i in range(1, 125)]
    # One utterance: all of it trains. A full speaker keeps the recipe's 100 + 100.
    assert [u.speaker for u in splits["train"]].count("awb") == 1
    assert [len([u for u in splits[k] if u.speaker == "bdl"]) for k in arctic.SPLITS] == [
        932,
        100,
        100,
    ]
    assert "speaker slt has 150 utterance(s), too few" in caplog.text
    assert "split proportionally instead, 124 train, 13 dev, 13 eval" in caplog.text
    assert (
        "speaker awb has 1 utterance(s)" in caplog.text and "1 train, 0 dev, 0 eval" in caplog.text
    )
    assert "speaker bdl" not in caplog.text


def test_a_speaker_the_recipe_leaves_little_training_data_is_named(caplog):
    """201 utterances fit 100 eval + 100 dev + 1 train: split as asked (the recipe), with a
    warning that training keeps fewer than it holds out; 400 leave 200 and no warning."""
    splits = arctic.split_corpus(fake_corpus({"slt": (201, 0), "bdl": (400, 0)}))
    counts = {
        k: {s: sum(u.speaker == s for u in v) for s in ("slt", "bdl")} for k, v in splits.items()
    }
    assert counts == {
        "train": {"slt": 1, "bdl": 200},
        "dev": {"slt": 100, "bdl": 100},
        "eval": {"slt": 100, "bdl": 100},
    }
    assert (
        "speaker slt has 201 utterance(s): ParallelWaveGAN's split (100 eval + 100 dev) "
        "leaves 1 for training, fewer than it holds out" in caplog.text
    )
    assert "speaker bdl" not in caplog.text


def test_file_lists_round_trip_and_are_not_overwritten(tmp_path):
    make_speaker(tmp_path / "corpus", "slt", [f"arctic_a{i:04d}" for i in range(1, 6)])
    splits = arctic.split_corpus(arctic.load_corpus(tmp_path / "corpus"), n_eval=2, n_dev=1)
    lists = arctic.write_file_lists(splits, tmp_path / "lists")
    assert (tmp_path / "lists" / "eval.txt").read_text().splitlines() == [
        "../corpus/cmu_us_slt_arctic/wav/arctic_a0004.wav",
        "../corpus/cmu_us_slt_arctic/wav/arctic_a0005.wav",
    ]
    for name, path in lists.items():
        read = [p.resolve() for p in arctic.read_file_list(path)]
        assert read == [u.path.resolve() for u in splits[name]]
    with pytest.raises(FileExistsError, match="overwrite=True"):
        arctic.write_file_lists(splits, tmp_path / "lists")
    # One list there already: refused before any other is written (never half a set).
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "dev.txt").write_text("kept\n")
    with pytest.raises(FileExistsError, match=r"dev\.txt exists"):
        arctic.write_file_lists(splits, tmp_path / "half")
    assert sorted(p.name for p in (tmp_path / "half").iterdir()) == ["dev.txt"]
    # A byte-order mark (written by some Windows editors) is not part of the first path.
    bom = tmp_path / "lists" / "bom.txt"
    bom.write_bytes("\ufeffa.wav\nb.wav\n".encode())
    assert arctic.read_file_list(bom) == [bom.parent / "a.wav", bom.parent / "b.wav"]


def test_a_named_pipe_is_a_file_list_read_once_relative_to_the_working_directory(
    tmp_path, monkeypatch
):
    """`-f <(ls wavs/*.wav)`: a pipe can be read only once, yet it is asked whether it is a
    list and then read (and read again by a second caller); its relative paths start at the
    working directory, not at /dev/fd."""
    from tests.helpers import named_pipe

    (tmp_path / "wavs").mkdir()
    for name in ("a", "b"):
        sf.write(tmp_path / "wavs" / f"{name}.wav", np.zeros(400, np.float32), 16000)
    (tmp_path / "pipes").mkdir()
    pipe = named_pipe(tmp_path / "pipes", "wavs/a.wav\nwavs/b.wav\n")
    monkeypatch.chdir(tmp_path)
    assert arctic.is_file_list(pipe)
    expected = [Path("wavs/a.wav"), Path("wavs/b.wav")]
    assert arctic.read_file_list(pipe, require_existing=True) == expected
    assert arctic.read_file_list(pipe) == expected  # the same pipe again: its kept text
    assert arctic.list_folder(pipe) == Path()
    assert arctic.list_folder(tmp_path / "pipes" / "x.txt") == tmp_path / "pipes"


def test_file_lists_of_any_name_tacotron_lines_and_paths_from_the_working_directory(
    tmp_path, monkeypatch
):
    """A list need not end in .txt; `path|text|speaker` lines give their path; a path that
    exists only relative to the working directory (NVIDIA's lists) is taken from there."""
    from keras_waveglow.data import resolve_files

    (tmp_path / "wavs").mkdir()
    for name in ("a", "b", "c"):
        sf.write(tmp_path / "wavs" / f"{name}.wav", np.zeros(400, np.float32), 16000)
    (tmp_path / "lists").mkdir()
    plain = tmp_path / "lists" / "train.lst"
    plain.write_text("# my training list\n../wavs/a.wav\n\n  # b next\n../wavs/b.wav\n")
    tacotron = tmp_path / "lists" / "ljs_audio_text_train_filelist"  # no suffix at all
    tacotron.write_text("wavs/c.wav|Printing, in the only sense.\nwavs/a.wav|Text|3\n")
    monkeypatch.chdir(tmp_path)  # the lists' paths are relative to the repository root
    assert arctic.is_file_list(plain) and arctic.is_file_list(tacotron)
    assert not arctic.is_file_list(tmp_path / "wavs" / "a.wav")
    binary = tmp_path / "lists" / "audio.raw"
    binary.write_bytes(b"RIFF\0\0\0\0WAVE" + bytes(range(256)))
    assert not arctic.is_file_list(binary)  # binary: read as audio (and refused as such)
    assert [p.resolve() for p in resolve_files(plain, "all")] == [
        (tmp_path / "wavs" / n).resolve() for n in ("a.wav", "b.wav")
    ]
    assert arctic.read_file_list(tacotron) == [Path("wavs/c.wav"), Path("wavs/a.wav")]
    # A line naming a file beside the list wins over the working directory's.
    (tmp_path / "lists" / "wavs").mkdir()
    sf.write(tmp_path / "lists" / "wavs" / "c.wav", np.zeros(400, np.float32), 16000)
    assert arctic.read_file_list(tacotron)[0] == tmp_path / "lists" / "wavs" / "c.wav"


def test_a_prose_file_read_as_a_list_is_refused_in_one_message_when_asked(tmp_path):
    """`read_file_list(..., require_existing=True)` (what `train` reads --data with) refuses a
    text that names no existing audio file (a README: its lines, a table row, named whole
    since nothing precedes its first bar, a path to a JSON file) in one bounded message; a
    list with one audio file left passes, and without the flag the lines come back as before
    (vocode names them itself)."""
    (tmp_path / "notes.json").write_text("{}")
    sf.write(tmp_path / "a.wav", np.zeros(400, np.float32), 16000)
    prose = tmp_path / "README.md"
    lines = [f"Line {i} of prose about the vocoder." for i in range(500)]
    prose.write_text("\n".join(["# Title", "| a | b |", "notes.json", *lines]) + "\n")
    assert len(arctic.read_file_list(prose)) == 502
    with pytest.raises(ValueError) as refused:
        arctic.read_file_list(prose, require_existing=True)
    message = str(refused.value)
    assert message == (
        f"{prose}: read as a file list (one audio path per line), but none of its 502 lines "
        f"names an existing audio file (first: {str(tmp_path / '| a | b |')!r}); is it a file "
        "list?"
    )
    prose.write_text("\n".join([*lines, "a.wav"]) + "\n")  # one file left: the data check
    assert len(arctic.read_file_list(prose, require_existing=True)) == 501
    long_line = tmp_path / "long.txt"
    long_line.write_text("x" * 300 + "\n")
    with pytest.raises(ValueError, match=r"\.\.\.'\); is it a file list\?$") as refused:
        arctic.read_file_list(long_line, require_existing=True)
    assert len(str(refused.value)) < 300


# ------------------------------------------------------------------------------------------------
# Download (offline: a local server on 127.0.0.1)
# ------------------------------------------------------------------------------------------------


def test_url_template_is_festvox():
    assert arctic.archive_url("bdl") == (
        "http://festvox.org/cmu_arctic/cmu_arctic/packed/cmu_us_bdl_arctic-0.95-release.tar.bz2"
    )
    assert arctic.archive_url("slt", "http://mirror/x/") == (
        "http://mirror/x/cmu_us_slt_arctic-0.95-release.tar.bz2"
    )


def test_download_two_speakers_verifies_and_is_idempotent(server, tmp_path):
    tarballs = {s: speaker_tarball(s) for s in ("slt", "bdl")}
    server.files = {ARCHIVE.format(s): data for s, data in tarballs.items()}
    checksums = {s: hashlib.sha256(data).hexdigest() for s, data in tarballs.items()}
    dest = tmp_path / "data"
    folders = arctic.download_arctic(
        "slt,bdl", dest, base_url=server.url, sha256=checksums, progress=False
    )
    assert folders == [dest / "cmu_us_slt_arctic", dest / "cmu_us_bdl_arctic"]
    assert [p for p, _ in server.requests] == [
        f"/packed/{ARCHIVE.format('slt')}",
        f"/packed/{ARCHIVE.format('bdl')}",
    ]
    corpus = arctic.load_corpus(dest)
    assert [(u.speaker, u.utterance_id) for u in corpus][:3] == [
        ("bdl", "arctic_a0001"),
        ("bdl", "arctic_a0002"),
        ("bdl", "arctic_b0001"),
    ]
    assert corpus[0].path.read_bytes() == wav_bytes(seed=0)
    assert not list(dest.glob("*.tar.bz2")) and not list(dest.glob("*.part"))

    # Second run: nothing downloaded, nothing requested.
    arctic.download_arctic("slt,bdl", dest, base_url=server.url, progress=False)
    assert len(server.requests) == 2


def test_a_speaker_folder_without_the_marker_is_completed_naming_what_it_replaces(
    server, tmp_path, caplog
):
    """Downloading into a folder that holds part of the speaker (the bundled sample, an
    interrupted extraction, files of the user's own): the archive's files replace theirs with
    a warning naming them; the folder's other files stay."""
    server.files = {ARCHIVE.format("slt"): speaker_tarball("slt")}
    folder = tmp_path / "cmu_us_slt_arctic"
    (folder / "wav").mkdir(parents=True)
    (folder / "wav" / "arctic_a0002.wav").write_bytes(b"edited")
    (folder / "wav" / "mine.wav").write_bytes(b"mine")
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.data.arctic"):
        arctic.download_arctic("slt", tmp_path, base_url=server.url, progress=False)
    assert "replaces 1 file(s) already there: cmu_us_slt_arctic/wav/arctic_a0002.wav." in (
        caplog.text
    )
    assert (folder / "wav" / "arctic_a0002.wav").read_bytes() == wav_bytes(seed=1)
    assert (folder / "wav" / "mine.wav").read_bytes() == b"mine"


def test_interrupted_transfer_resumes_with_range(server, tmp_path):
    data = speaker_tarball("slt", ids=[f"arctic_a{i:04d}" for i in range(1, 9)])
    server.files = {ARCHIVE.format("slt"): data}
    server.cut_after, server.cuts_left = len(data) // 3, 1
    arctic.download_arctic("slt", tmp_path, base_url=server.url, progress=False)
    assert server.requests[0][1] is None
    assert server.requests[1][1] == f"bytes={len(data) // 3}-"
    etag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
    assert server.if_ranges == [None, etag]  # the resume names the version it continues
    assert server.bytes_sent == len(data)  # nothing fetched twice
    assert len(arctic.load_corpus(tmp_path, "slt")) == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cmu_us_slt_arctic"]  # no leftovers


def test_partial_file_from_an_earlier_run_is_resumed(server, tmp_path):
    data = speaker_tarball("awb")
    server.files = {ARCHIVE.format("awb"): data}
    server.cut_after, server.cuts_left = 1000, 1
    with pytest.raises(OSError, match="run again to resume"):
        arctic.download_arctic("awb", tmp_path, base_url=server.url, progress=False, retries=0)
    arctic.download_arctic("awb", tmp_path, base_url=server.url, progress=False)
    assert server.requests[1] == (f"/packed/{ARCHIVE.format('awb')}", "bytes=1000-")
    assert server.bytes_sent == len(data)
    assert len(arctic.load_corpus(tmp_path, "awb")) == 3


def _interrupted(server, tmp_path, old: bytes, cut: int) -> Path:
    """Leaves `<tmp_path>/f.bin.part` as a transfer of `old` cut after `cut` bytes."""
    server.files = {"f.bin": old}
    server.cut_after, server.cuts_left = cut, 1
    with pytest.raises(OSError, match="run again to"):
        arctic.download_file(f"{server.url}/f.bin", tmp_path / "f.bin", progress=False, retries=0)
    return tmp_path / "f.bin"


@pytest.mark.parametrize("validator", ["etag", "last-modified"])
def test_file_changed_on_the_server_is_downloaded_again_not_spliced(server, tmp_path, validator):
    # The server's file changes to another of the same length between two calls: without a
    # sha256 only If-Range (the ETag, or Last-Modified when the ETag is weak) can tell.
    server.validator = validator
    old, new = bytes(range(256)) * 40, bytes(range(255, -1, -1)) * 40
    path = _interrupted(server, tmp_path, old, cut=3000)
    server.files = {"f.bin": new}
    server.modified = {"f.bin": "Tue, 08 Dec 2026 10:00:00 GMT"}
    arctic.download_file(f"{server.url}/f.bin", path, progress=False)
    assert path.read_bytes() == new
    assert server.requests[-1][1] == "bytes=3000-" and server.if_ranges[-1] is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]
    # Unchanged, the same resume continues the old bytes.
    path.unlink()
    _interrupted(server, tmp_path, old, cut=3000)
    sent = server.bytes_sent
    arctic.download_file(f"{server.url}/f.bin", path, progress=False)
    assert path.read_bytes() == old and server.bytes_sent - sent == len(old) - 3000


def test_server_that_ignores_if_range_is_caught_by_its_etag(server, tmp_path):
    old, new = b"a" * 5000, b"b" * 5000
    path = _interrupted(server, tmp_path, old, cut=2000)
    server.files, server.honour_if_range = {"f.bin": new}, False
    arctic.download_file(f"{server.url}/f.bin", path, progress=False)
    assert path.read_bytes() == new
    assert [r for _, r in server.requests[-2:]] == ["bytes=2000-", None]


def test_part_without_a_validator_is_resumed_only_with_a_sha256(server, tmp_path):
    data = bytes(range(256)) * 20
    server.validator = None  # nothing identifies the server's version of the file
    # Within one call its own bytes are resumed (each retry started from 0 for a while).
    server.files = {"f.bin": data}
    server.cut_after, server.cuts_left = 1000, 3
    arctic.download_file(f"{server.url}/f.bin", tmp_path / "f.bin", progress=False)
    assert [r for _, r in server.requests] == [None, "bytes=1000-", "bytes=2000-", "bytes=3000-"]
    (tmp_path / "f.bin").unlink()
    # A later call cannot tell: it starts again, and the interrupted call said so.
    server.cut_after, server.cuts_left = 1000, 1
    with pytest.raises(OSError, match=r"run again to download it again .*names no version"):
        arctic.download_file(f"{server.url}/f.bin", tmp_path / "f.bin", progress=False, retries=0)
    path = tmp_path / "f.bin"
    arctic.download_file(f"{server.url}/f.bin", path, progress=False)
    assert path.read_bytes() == data and server.requests[-1][1] is None  # from scratch
    path.unlink()
    _interrupted(server, tmp_path, data, cut=1000)
    digest = hashlib.sha256(data).hexdigest()
    arctic.download_file(f"{server.url}/f.bin", path, sha256=digest, progress=False)
    assert path.read_bytes() == data and server.requests[-1][1] == "bytes=1000-"


def test_server_without_range_support_restarts_cleanly(server, tmp_path):
    data = speaker_tarball("rms")
    server.files = {ARCHIVE.format("rms"): data}
    server.support_range = False
    (tmp_path / (ARCHIVE.format("rms") + ".part")).write_bytes(b"x" * 500)  # stale bytes
    arctic.download_arctic("rms", tmp_path, base_url=server.url, progress=False)
    assert len(arctic.load_corpus(tmp_path, "rms")) == 3


def test_transfer_that_stays_incomplete_keeps_the_part_for_later(server, tmp_path):
    data = speaker_tarball("ksp")
    server.files = {ARCHIVE.format("ksp"): data}
    server.cut_after, server.cuts_left = 700, 10
    with pytest.raises(OSError, match=r"interrupted at \d+ bytes.*run again to resume"):
        arctic.download_arctic("ksp", tmp_path, base_url=server.url, progress=False, retries=1)
    part = tmp_path / (ARCHIVE.format("ksp") + ".part")
    assert part.stat().st_size == 1400
    assert not (tmp_path / "cmu_us_ksp_arctic").exists()
    server.cuts_left = 0
    arctic.download_arctic("ksp", tmp_path, base_url=server.url, progress=False)
    assert server.requests[-1][1] == "bytes=1400-"


def test_unreachable_server_leaves_nothing_and_says_so(tmp_path, caplog, monkeypatch):
    import socket

    with socket.socket() as probe:  # a port with nothing listening: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x.tar.bz2"
    waits = []
    monkeypatch.setattr(arctic.time, "sleep", waits.append)
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.data.arctic"):
        with pytest.raises(OSError, match=r"could not download it after 2 attempts.*nothing was"):
            arctic.download_file(url, tmp_path / "x.tar.bz2", progress=False, retries=1)
    assert "retrying in 1 s" in caplog.text and "resuming" not in caplog.text
    assert waits == [arctic.RETRY_WAIT_S] and list(tmp_path.iterdir()) == []


def test_transient_http_errors_are_retried_after_a_pause(server, tmp_path, monkeypatch, caplog):
    waits = []
    monkeypatch.setattr(arctic.time, "sleep", waits.append)
    data = speaker_tarball("slt")
    server.files = {ARCHIVE.format("slt"): data}
    # 503 with Retry-After: 7 -> waits 7 s; then 502 without one -> RETRY_WAIT_S * 2 ** 1.
    server.fail_statuses, server.retry_after = [503], "7"
    path = tmp_path / ARCHIVE.format("slt")
    url = f"{server.url}/{ARCHIVE.format('slt')}"
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.data.arctic"):
        arctic.download_file(url, path, progress=False)
    assert path.read_bytes() == data and len(server.requests) == 2
    assert waits == [7.0]
    assert "HTTP Error 503" in caplog.text and "retrying in 7 s" in caplog.text

    path.unlink()
    waits.clear()
    server.requests.clear()
    server.fail_statuses, server.retry_after = [502, 500], None
    arctic.download_file(url, path, progress=False)
    assert path.read_bytes() == data and len(server.requests) == 3
    assert waits == [arctic.RETRY_WAIT_S, 2 * arctic.RETRY_WAIT_S]

    # Retry-After as an HTTP date: the wait until then (about 3 s here).
    import email.utils
    from datetime import datetime, timedelta, timezone

    path.unlink()
    waits.clear()
    when = datetime.now(timezone.utc) + timedelta(seconds=3)
    server.fail_statuses, server.retry_after = [503], email.utils.format_datetime(when, True)
    arctic.download_file(url, path, progress=False)
    assert len(waits) == 1 and 1.0 < waits[0] <= 3.0
    server.retry_after = None

    # A server that keeps failing: the last status named, nothing saved.
    path.unlink()
    server.fail_statuses = [503] * 3
    with pytest.raises(OSError, match=r"could not download it after 2 attempts \(HTTP Error 503"):
        arctic.download_file(url, path, progress=False, retries=1)
    assert list(tmp_path.iterdir()) == []
    # An answer that cannot change (404) ends the call at once, without waiting.
    waits.clear()
    server.requests.clear()
    server.fail_statuses = []
    with pytest.raises(OSError, match="HTTP error 404"):
        arctic.download_file(f"{server.url}/missing.tar.bz2", path, progress=False)
    assert len(server.requests) == 1 and waits == []


def test_checksum_mismatch_and_http_errors_are_reported(server, tmp_path):
    server.files = {ARCHIVE.format("jmk"): speaker_tarball("jmk")}
    with pytest.raises(ValueError, match="sha256 mismatch"):
        arctic.download_arctic(
            "jmk", tmp_path, base_url=server.url, sha256={"jmk": "0" * 64}, progress=False
        )
    assert not list(tmp_path.iterdir())  # bad archive deleted, nothing extracted
    with pytest.raises(OSError, match="HTTP error 404"):
        arctic.download_arctic("clb", tmp_path, base_url=server.url, progress=False)


def test_archives_left_behind_are_checked_before_they_are_used(server, tmp_path, caplog):
    data = speaker_tarball("slt")
    server.files = {ARCHIVE.format("slt"): data}
    digest = hashlib.sha256(data).hexdigest()
    # A checksum for a speaker not asked for (a typo) would check nothing: refused up front.
    with pytest.raises(ValueError, match=r"sha256 names 'SLT', not among the speakers slt"):
        arctic.download_arctic("slt", tmp_path / "a", base_url=server.url, sha256={"SLT": digest})
    assert not server.requests and not (tmp_path / "a").exists()

    # An archive already there is held to the sha256 given: a wrong one is fetched again.
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / ARCHIVE.format("slt")).write_bytes(speaker_tarball("slt", ids=["x"]))
    with caplog.at_level("WARNING"):
        arctic.download_arctic(
            "slt", tmp_path / "a", base_url=server.url, sha256={"slt": digest}, progress=False
        )
    assert "downloading it again" in caplog.text and len(server.requests) == 1
    assert len(arctic.load_corpus(tmp_path / "a", "slt")) == 3

    # A server that sends no length and closes half-way: the cut file looks complete, but it
    # is not a readable archive. It is deleted, so the next run downloads it again.
    server.send_length, server.cut_after, server.cuts_left = False, len(data) // 2, 1
    with pytest.raises(ValueError, match=r"(?s)not a readable tar archive .*Deleted it; run again"):
        arctic.download_arctic("slt", tmp_path / "b", base_url=server.url, progress=False)
    assert not list((tmp_path / "b").glob("*.tar.bz2"))
    arctic.download_arctic("slt", tmp_path / "b", base_url=server.url, progress=False)
    assert len(arctic.load_corpus(tmp_path / "b", "slt")) == 3

    # Without a sha256, a cut archive left by an earlier run is read to the end first.
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / ARCHIVE.format("slt")).write_bytes(data[: len(data) // 2])
    arctic.download_arctic("slt", tmp_path / "c", base_url=server.url, progress=False)
    assert len(arctic.load_corpus(tmp_path / "c", "slt")) == 3
    assert len(server.requests) == 4


def malicious_tarball(kind):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as archive:
        add_bytes(archive, "cmu_us_slt_arctic/wav/arctic_a0001.wav", wav_bytes())
        if kind == "dotdot":
            add_bytes(archive, "cmu_us_slt_arctic/../../evil.txt", b"pwned")
        elif kind == "absolute":
            add_bytes(archive, "/tmp/keras_waveglow_evil.txt", b"pwned")
        elif kind == "symlink":
            add_bytes(archive, "cmu_us_slt_arctic/link", type=tarfile.SYMTYPE, linkname="../../..")
            add_bytes(archive, "cmu_us_slt_arctic/link/evil.txt", b"pwned")
        elif kind == "hardlink":
            add_bytes(archive, "cmu_us_slt_arctic/h", type=tarfile.LNKTYPE, linkname="/etc/passwd")
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink"])
def test_malicious_tarball_is_refused_and_writes_nothing_outside(server, tmp_path, kind):
    server.files = {ARCHIVE.format("slt"): malicious_tarball(kind)}
    dest = tmp_path / "a" / "b" / "dest"
    before = {p for p in tmp_path.rglob("*")}
    with pytest.raises(arctic.UnsafeArchiveError, match=r"absolute|'\.\.'|outside") as error:
        arctic.download_arctic("slt", dest, base_url=server.url, progress=False)
    assert "cmu_us_slt_arctic-0.95-release.tar.bz2" in str(error.value)
    created = {p for p in tmp_path.rglob("*")} - before
    # Only dest, the folders leading to it, and what is inside it may appear.
    assert all(p == dest or p in dest.parents or dest in p.parents for p in created)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "a" / "evil.txt").exists()
    assert not Path("/tmp/keras_waveglow_evil.txt").exists()
    assert not (dest / "cmu_us_slt_arctic").exists()  # checked before anything is extracted


def test_an_unusable_archive_is_deleted_not_extracted_again_by_every_later_call(server, tmp_path):
    """Kept, an unsafe (or non-ARCTIC) archive was extracted again by every later call, which
    failed the same way without downloading."""
    dest = tmp_path / "dest"
    server.files = {ARCHIVE.format("slt"): malicious_tarball("dotdot")}
    with pytest.raises(arctic.UnsafeArchiveError, match=r"'\.\.'.*Deleted it"):
        arctic.download_arctic("slt", dest, base_url=server.url, progress=False)
    assert not (dest / ARCHIVE.format("slt")).exists()
    server.files = {ARCHIVE.format("slt"): speaker_tarball("bdl")}  # another speaker's
    with pytest.raises(ValueError, match=r"holds no cmu_us_slt_arctic/wav folder.*deleted it"):
        arctic.download_arctic("slt", dest, base_url=server.url, progress=False)
    assert not (dest / ARCHIVE.format("slt")).exists()
    server.files = {ARCHIVE.format("slt"): speaker_tarball("slt")}
    arctic.download_arctic("slt", dest, base_url=server.url, progress=False)
    assert len(arctic.load_corpus(dest, "slt")) == 3
    assert len(server.requests) == 3  # each call downloaded


def test_extraction_without_tarfile_s_filters(tmp_path, monkeypatch):
    """Python before 3.10.12 / 3.11.4 (Debian 12's 3.11.2) has no extraction filters: the
    call with filter="data" was a TypeError there. The member check still refuses a bad
    archive before anything is written; a good one is extracted."""
    real = tarfile.TarFile.extractall

    def old_extractall(self, path=".", members=None, *, numeric_owner=False, **kwargs):
        if kwargs:  # as Python 3.11.2 answers filter="data"
            raise TypeError(
                f"extractall() got an unexpected keyword argument {next(iter(kwargs))!r}"
            )
        return real(self, path, members, numeric_owner=numeric_owner)

    monkeypatch.delattr(tarfile, "data_filter")
    monkeypatch.setattr(tarfile.TarFile, "extractall", old_extractall)
    good, bad = tmp_path / "good.tar.bz2", tmp_path / "bad.tar.bz2"
    good.write_bytes(speaker_tarball("slt"))
    bad.write_bytes(malicious_tarball("dotdot"))
    arctic.extract_archive(good, tmp_path / "out")
    assert (tmp_path / "out" / "cmu_us_slt_arctic" / "wav").is_dir()
    with pytest.raises(arctic.UnsafeArchiveError, match=r"'\.\.'"):
        arctic.extract_archive(bad, tmp_path / "evil")
    assert not (tmp_path / "evil" / "cmu_us_slt_arctic").exists()


def test_cli_download_and_splits(server, tmp_path, capsys):
    server.files = {ARCHIVE.format("slt"): speaker_tarball("slt")}
    dest = tmp_path / "data"
    argv = ["download", "arctic", "--speakers", "slt", "--dest", str(dest)]
    argv += ["--base-url", server.url, "--no-progress", "--splits", str(tmp_path / "lists")]
    assert cli.main(argv) == 0
    assert str(dest / "cmu_us_slt_arctic") in capsys.readouterr().out
    # Three utterances, too few for the recipe: split proportionally, so all of them train.
    assert len(arctic.read_file_list(tmp_path / "lists" / "train.txt")) == 3
    assert arctic.read_file_list(tmp_path / "lists" / "eval.txt") == []
    # Existing lists are not replaced silently: refused before any download, or --overwrite.
    (tmp_path / "lists" / "train.txt").write_text("mine.wav\n")
    requests = len(server.requests)
    assert cli.main(argv) == 2  # a refusal before anything is fetched, as the others
    assert "train.txt exists; pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / "lists" / "train.txt").read_text() == "mine.wav\n"
    assert len(server.requests) == requests
    assert cli.main([*argv, "--overwrite"]) == 0
    assert len(arctic.read_file_list(tmp_path / "lists" / "train.txt")) == 3
    assert cli.main(["download", "arctic", "--speakers", "nobody", "--dest", str(dest)]) == 2
    assert "Unknown CMU ARCTIC speaker" in capsys.readouterr().err
    stray = [*argv[:-2], "--speakers", "slt", "--sha256", f"bdl={'0' * 64}"]
    assert cli.main(stray) == 2  # refused before a request (exit 1 was a failed download)
    assert "sha256 names 'bdl', not among the speakers slt." in capsys.readouterr().err
    assert len(server.requests) == requests
