"""vocode's inputs: a folder gives its audio and mel files only, a file list its entries, and a
file named explicitly that is neither fails with its reason."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from keras_waveglow import cli, inference
from keras_waveglow.audio import AUDIO_EXTENSIONS, load_audio
from tests import vocode_helpers


@pytest.fixture(autouse=True)
def _no_default_model(monkeypatch):
    monkeypatch.delenv(inference.MODEL_ENV_VAR, raising=False)
    inference.set_default_model(None)
    yield
    inference.set_default_model(None)


@pytest.fixture
def corpus(tmp_path):
    """A folder laid out as `keras-waveglow prepare` writes one: audio in subfolders, beside
    it a notice, a copyright file, a manifest and two file lists (paths relative to it); plus
    a mel."""
    audio, _ = load_audio(vocode_helpers.SPEECH, 16000)
    root = tmp_path / "corpus"
    (root / "de").mkdir(parents=True)
    (root / "en").mkdir()
    sf.write(root / "de" / "a.wav", audio[:4000], 16000)
    sf.write(root / "de" / "b.flac", audio[4000:9000], 16000)
    np.save(root / "en" / "c.npy", vocode_helpers.speech_mel()[:12])
    (root / "NOTICE.txt").write_text("Recordings of letters, licensed under the GPL.\n")
    (root / "copyright").write_text("Format: https://example.org/copyright-format/1.0/\n")
    (root / "klettres.json").write_text('{"files": 3, "sample_rate": 16000}\n')
    (root / "train.txt").write_text("de/a.wav\nen/c.npy\n")
    (root / "eval.txt").write_text("# held out\nde/b.flac\n")
    return root


def _names(paths, root):
    return sorted(p.relative_to(root).as_posix() for p in paths)


def test_cli_vocode_of_a_prepared_folder_vocodes_its_audio_and_mels_only(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    model = str(vocode_helpers.tiny_model_file())
    argv = ["vocode", str(corpus), "-o", str(out), "--model", model, "--seed", "0"]
    assert cli.main([*argv, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "wrote 3 file(s)" in err and "0 failed" in err and "FAILED" not in err, err
    assert _names(out.rglob("*.wav"), out) == ["de/a.wav", "de/b.wav", "en/c.wav"]
    assert sf.info(out / "de" / "a.wav").frames == 4000  # copy-synthesis keeps the length
    assert sf.info(out / "en" / "c.wav").frames == 12 * 256


def test_a_file_list_gives_its_entries_relative_to_its_folder(corpus, tmp_path):
    model = vocode_helpers.tiny_model()
    out = tmp_path / "out"
    result = inference.vocode_files([corpus / "eval.txt"], out, model, progress=False)
    assert result["failed"] == []
    assert _names(result["written"], out) == ["de/b.wav"]

    # A folder and a list of its files: each file once, no failure.
    result = inference.vocode_files(
        [corpus, corpus / "train.txt"], tmp_path / "both", model, progress=False
    )
    assert result["failed"] == []
    assert _names(result["written"], tmp_path / "both") == ["de/a.wav", "de/b.wav", "en/c.wav"]

    # A listed file outside the list's folder keeps its name; a missing one, a folder and a
    # non-audio file are failures, named with the list; the rest is vocoded.
    elsewhere = tmp_path / "elsewhere.wav"
    audio, _ = load_audio(vocode_helpers.SPEECH, 16000)
    sf.write(elsewhere, audio[:3000], 16000)
    listing = corpus / "mixed.lst"
    listing.write_text(f"{elsewhere}\nde/missing.wav\nen\nNOTICE.txt\nde/a.wav|a text\n")
    out = tmp_path / "mixed"
    result = inference.vocode_files([listing], out, model, progress=False)
    assert _names(result["written"], out) == ["de/a.wav", "elsewhere.wav"]
    messages = sorted(message for _, message in result["failed"])
    assert messages == [
        f"{corpus / 'NOTICE.txt'}: unknown input type '.txt'; expected one of "
        f"{(*inference.MEL_EXTENSIONS, *AUDIO_EXTENSIONS)}.",
        f"{corpus / 'de' / 'missing.wav'}: no such file (listed in {listing}).",
        f"{corpus / 'en'}: a folder, not a file (listed in {listing}).",
    ]


def test_explicit_files_that_are_not_audio_fail_with_their_reason(corpus, tmp_path, capsys):
    (tmp_path / "blob.bin").write_bytes(b"\0\1\2\3")
    (tmp_path / "empty.txt").write_text("")
    inputs = [
        corpus / "NOTICE.txt",
        corpus / "klettres.json",
        corpus / "copyright",
        tmp_path / "blob.bin",
        tmp_path / "empty.txt",
        corpus / "de" / "a.wav",
    ]
    out = tmp_path / "out"
    model = str(vocode_helpers.tiny_model_file())
    argv = ["vocode", *map(str, inputs), "-o", str(out), "--model", model, "--no-progress"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "wrote 1 file(s)" in err and "5 failed" in err, err
    assert _names(out.rglob("*.wav"), out) == ["a.wav"]
    failed = [line for line in err.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 5, err
    for name in ("NOTICE.txt", "klettres.json", "copyright"):
        line = next(line for line in failed if f"{corpus / name}:" in line)
        assert "neither audio, a mel" in line and "none of its 1 lines names an existing" in line
    assert any(f"{tmp_path / 'blob.bin'}: unknown input type '.bin'" in line for line in failed)
    assert any(f"{tmp_path / 'empty.txt'}: neither" in line and "empty" in line for line in failed)

    # A folder with nothing to vocode in it is still a named failure.
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "README").write_text("no audio here\n")
    argv = ["vocode", str(tmp_path / "texts"), "-o", str(tmp_path / "o2"), "--model", model]
    assert cli.main([*argv, "--no-progress"]) == 1
    assert "texts: the folder holds no files to vocode" in capsys.readouterr().err
