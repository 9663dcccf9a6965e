"""The Debian speech recipes (klettres, fillets) on small fake .debs built here (no network)."""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keras_waveglow import cli
from keras_waveglow.data import UnsafeArchiveError, debian, read_file_list

# speaker -> [(kind, name, source rate, seconds)]: the rates the real package mixes.
RECORDINGS = {
    "aa": [("alpha", "a", 44100, 0.30), ("syllab", "ba", 48000, 0.20)],
    "bb": [("alpha", "b", 128000, 0.25)],
    "cc": [("alpha", "c", 22050, 0.40), ("alpha", "d", 44100, 0.10)],
    "dd": [("syllab", "ka", 44100, 0.50)],
}
TONE_HZ = 440.0


def ogg_bytes(rate, seconds):
    t = np.arange(int(rate * seconds)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, 0.5 * np.sin(2 * np.pi * TONE_HZ * t), rate, format="OGG", subtype="VORBIS")
    return buffer.getvalue()


def tar_xz(files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def ar_archive(members):
    out = bytearray(b"!<arch>\n")
    for name, data in members.items():
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n"
        out += header.encode() + data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    return build_deb(tmp_path_factory.mktemp("deb") / "klettres-data_1.0_all.deb", klettres_files())


def build_deb(path, files):
    path.write_bytes(
        ar_archive(
            {
                "debian-binary": b"2.0\n",
                "control.tar.xz": tar_xz({"./control": b"Package: x\n"}),
                "data.tar.xz": tar_xz(files),
            }
        )
    )
    return path


def klettres_files():
    files = {
        f"./usr/share/klettres/{speaker}/{kind}/{name}.ogg": ogg_bytes(rate, seconds)
        for speaker, items in RECORDINGS.items()
        for kind, name, rate, seconds in items
    }
    files["./usr/share/klettres/cc/alpha/broken.ogg"] = b"OggS but not really"
    silence, buffer = np.zeros(4410), io.BytesIO()
    sf.write(buffer, silence, 44100, format="OGG", subtype="VORBIS")
    files["./usr/share/klettres/cc/alpha/silent.ogg"] = buffer.getvalue()
    files["./usr/share/klettres/cc/alpha/tick.ogg"] = ogg_bytes(44100, 0.005)  # 220 samples
    files["./usr/share/klettres/pics/kids/x.svg"] = b"<svg/>"  # not a speaker
    files["./usr/share/doc/klettres-data/copyright"] = b"License: GPL-2+\n"
    return files


def test_recipe_resamples_splits_by_speaker_and_writes_the_licence(deb, tmp_path):
    dest = tmp_path / "klettres"
    summary = debian.prepare_klettres(dest, sample_rate=16000, deb=deb)

    # Default hold-out: 3 speakers at positions int((i + 0.5) * 4 / 3) = 0, 2, 3 alphabetically.
    assert summary["splits"]["eval"]["speakers"] == ["aa", "cc", "dd"]
    assert summary["splits"]["train"]["speakers"] == ["bb"]
    for speaker, items in RECORDINGS.items():
        recorded = summary["speakers"][speaker]
        assert recorded["files"] == len(items)
        # Durations are kept through resampling: soxr returns round(n * 16000 / rate) samples.
        expected = sum(round(int(rate * s) * 16000 / rate) for _, _, rate, s in items) / 16000
        assert recorded["seconds"] == pytest.approx(expected, abs=1e-3)
        assert recorded["source_rates"] == {
            str(r): sum(1 for _, _, rate, _ in items if rate == r) for _, _, r, _ in items
        }
    skipped = {file.rsplit("/", 1)[1]: reason for file, reason in summary["skipped"]}
    assert list(skipped) == ["broken.ogg", "silent.ogg", "tick.ogg"]
    assert skipped["silent.ogg"].startswith("digital silence")
    assert skipped["tick.ogg"] == "80 samples, shorter than 10 ms"

    audio, rate = sf.read(dest / "bb" / "alpha_b.wav")
    assert rate == 16000 and audio.ndim == 1
    # The 440 Hz tone survives the 128 kHz -> 16 kHz resampling: the spectrum peaks within one
    # FFT bin (4 Hz at 4000 samples) of it.
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    assert abs(np.argmax(spectrum) * rate / len(audio) - TONE_HZ) <= rate / len(audio)
    assert sf.info(dest / "aa" / "syllab_ba.wav").subtype == "PCM_16"

    lists = {name: read_file_list(path) for name, path in summary["lists"].items()}
    assert [p.name for p in lists["train"]] == ["alpha_b.wav"]
    assert {p.parent.name for p in lists["eval"]} == {"aa", "cc", "dd"}
    assert all(p.is_file() for paths in lists.values() for p in paths)
    assert "GPL-2+" in (dest / "NOTICE.txt").read_text()
    assert (dest / "copyright").read_text() == "License: GPL-2+\n"
    written = json.loads((dest / "klettres.json").read_text())
    assert written["source"]["package"] == deb.name and len(written["source"]["sha256"]) == 64
    assert not list(tmp_path.glob(".klettres.*"))  # the work folder is gone

    with pytest.raises(FileExistsError, match="not empty"):
        debian.prepare_klettres(dest, deb=deb)


def test_extracted_folder_explicit_speakers_and_flac(deb, tmp_path):
    root = debian.extract_deb(deb, tmp_path / "tree")
    assert debian.choose_eval_speakers(["dd", "aa", "cc", "bb"], 2) == ["bb", "dd"]
    summary = debian.prepare_klettres(
        tmp_path / "out", sample_rate=22050, deb=root, eval_speakers=["aa"], audio_format="flac"
    )
    assert summary["splits"]["eval"] == {"speakers": ["aa"], "files": 2, "seconds": 0.5}
    assert sf.info(tmp_path / "out" / "dd" / "syllab_ka.flac").samplerate == 22050
    with pytest.raises(ValueError, match=r"unknown: \['zz'\]"):
        debian.prepare_klettres(tmp_path / "o2", deb=root, eval_speakers=["zz"])
    with pytest.raises(ValueError, match="not all"):
        debian.prepare_klettres(tmp_path / "o3", deb=root, eval_speakers=list(RECORDINGS))
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()


def test_recordings_beyond_full_scale_are_scaled_down_not_clipped(tmp_path):
    """Vorbis decodes to floats beyond +-1 (klettres' tn recordings peak at up to 40): such a
    file keeps its waveform, scaled to a 0.99 peak; a file within full scale is untouched."""
    sounds = tmp_path / "tree" / "usr" / "share" / "klettres"
    rate, seconds = 22050, 0.25
    for speaker, amplitude in (("hot", 3.0), ("ok", 0.5)):
        (sounds / speaker / "alpha").mkdir(parents=True)
        t = np.arange(int(rate * seconds)) / rate
        tone = amplitude * np.sin(2 * np.pi * TONE_HZ * t)
        sf.write(sounds / speaker / "alpha" / "a.ogg", tone, rate, format="OGG", subtype="VORBIS")
    summary = debian.prepare_klettres(
        tmp_path / "out", sample_rate=rate, deb=tmp_path / "tree", eval_speakers=["ok"]
    )
    decoded_peak = float(np.max(np.abs(sf.read(sounds / "hot" / "alpha" / "a.ogg")[0])))
    assert decoded_peak > 2.9
    ((name, gain),) = summary["rescaled"]
    assert name == "usr/share/klettres/hot/alpha/a.ogg"
    assert gain == pytest.approx(0.99 / decoded_peak, rel=1e-5)
    hot = sf.read(tmp_path / "out" / "hot" / "alpha_a.wav")[0]
    # Not clipped: a clipped 3x sine sits at full scale for ~80% of its samples; scaled, the
    # peak is 0.99 and the waveform is the decoded one times the gain (to 16-bit rounding).
    assert np.max(np.abs(hot)) == pytest.approx(0.99, abs=2 / 32768)
    assert np.mean(np.abs(hot) > 0.98) < 0.1
    source = sf.read(sounds / "hot" / "alpha" / "a.ogg")[0]
    # 16-bit storage: libsndfile writes x * 32767 and reads n / 32768, so up to ~1 LSB apart.
    np.testing.assert_allclose(hot, source * gain, atol=1.5 / 32768)
    ok = sf.read(tmp_path / "out" / "ok" / "alpha_a.wav")[0]
    np.testing.assert_allclose(ok, sf.read(sounds / "ok" / "alpha" / "a.ogg")[0], atol=1.5 / 32768)


def test_bad_packages_and_missing_apt_get_are_explained(tmp_path, monkeypatch):
    not_deb = tmp_path / "x.deb"
    not_deb.write_bytes(b"PK\x03\x04 a zip")
    with pytest.raises(ValueError, match=r"x\.deb: not a Debian package"):
        debian.prepare_klettres(tmp_path / "a", deb=not_deb)
    evil = tmp_path / "evil.deb"
    evil.write_bytes(ar_archive({"data.tar.xz": tar_xz({"../../evil.ogg": b"x"})}))
    with pytest.raises(UnsafeArchiveError, match=r"'\.\.'"):
        debian.prepare_klettres(tmp_path / "b", deb=evil)
    assert not (tmp_path.parent / "evil.ogg").exists()
    # A corrupt package: xz stores incompressible data as is, so tar read every member of
    # this one and the damage went through unseen; a gzip one gave a bare zlib.error.
    blob = np.random.default_rng(0).bytes(20000)
    xz = bytearray(tar_xz({"./usr/share/klettres/aa/alpha/a.ogg": blob}))
    xz[len(xz) // 2 : len(xz) // 2 + 64] = bytes(64)
    corrupt = tmp_path / "corrupt.deb"
    corrupt.write_bytes(ar_archive({"debian-binary": b"2.0\n", "data.tar.xz": bytes(xz)}))
    with pytest.raises(ValueError, match=r"corrupt\.deb: its data\.tar\.xz is corrupt"):
        debian.prepare_klettres(tmp_path / "d", deb=corrupt)
    gz = bytearray(gzip.compress(b"x" * 5000))
    gz[20:30] = bytes(10)
    corrupt.write_bytes(ar_archive({"data.tar.gz": bytes(gz)}))
    with pytest.raises(ValueError, match=r"corrupt\.deb: its data\.tar\.gz is corrupt"):
        debian.prepare_klettres(tmp_path / "d", deb=corrupt)
    # A negative member size kept the reader at the same offset forever.
    header = f"{'data.tar.xz/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{-60:<10}`\n".encode()
    corrupt.write_bytes(b"!<arch>\n" + header + bytes(80))
    with pytest.raises(ValueError, match=r"corrupt\.deb: corrupt ar member size '-60'"):
        debian.prepare_klettres(tmp_path / "d", deb=corrupt)
    assert not (tmp_path / "d").exists()
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get anywhere
    with pytest.raises(RuntimeError, match=r"apt-get not found.*--deb"):
        debian.prepare_klettres(tmp_path / "c")


def test_a_dest_that_cannot_be_replaced_is_refused_before_any_work(deb, tmp_path, monkeypatch):
    """A link to an empty folder, or `.` in an empty folder, passed the emptiness check and
    failed after every file was decoded ("Not a directory", "Invalid argument")."""
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with pytest.raises(FileExistsError, match=r"link is a symbolic link"):
        debian.prepare_klettres(tmp_path / "link", deb=deb)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    for dest in (".", str(empty)):
        with pytest.raises(FileExistsError, match=r"is the current folder or holds it"):
            debian.prepare_klettres(dest, deb=deb)
    assert list(empty.iterdir()) == [] and list((tmp_path / "target").iterdir()) == []


def test_cli_prepare(deb, tmp_path, capsys):
    argv = ["prepare", "klettres", "--dest", str(tmp_path / "k"), "--deb", str(deb)]
    assert cli.main([*argv, "--sample-rate", "16000", "--eval-speakers", "aa, bb"]) == 0
    out = capsys.readouterr().out
    assert "train: 2 speakers, 3 files" in out and "eval: 2 speakers, 3 files" in out
    assert cli.main(argv) == 2  # refused before any work, as train/vocode/evaluate
    assert "prepare: error:" in capsys.readouterr().err
    missing = ["prepare", "klettres", "--dest", str(tmp_path / "m")]
    assert cli.main([*missing, "--deb", str(tmp_path / "missing.deb")]) == 2
    assert "missing.deb: no such .deb or folder" in capsys.readouterr().err


def test_cli_prepare_exits_1_when_the_download_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get anywhere: the download fails
    assert cli.main(["prepare", "klettres", "--dest", str(tmp_path / "k")]) == 1
    assert "prepare failed: apt-get not found" in capsys.readouterr().err


def test_a_refusal_leaves_no_new_parent_folder_of_dest(
    deb, mute_deb, tmp_path, monkeypatch, capsys
):
    """The missing parents of --dest are made for the work folder and removed again when
    prepare refuses or fails; a parent that existed before stays, and a run that succeeds
    keeps the ones it made."""
    dest = tmp_path / "new" / "deeper" / "k"
    argv = ["prepare", "klettres", "--dest", str(dest), "--deb", str(deb)]
    assert cli.main([*argv, "--eval-speakers", "zz"]) == 2  # unknown held-out speaker
    assert "prepare: error: eval speakers ['zz']" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    with pytest.raises(ValueError, match="the train split would have no recording"):
        debian.prepare_klettres(dest, deb=mute_deb, eval_speakers=["aa", "bb", "cc", "dd"])
    with pytest.raises(FileNotFoundError, match=r"no such \.deb or folder"):
        debian.prepare_klettres(dest, deb=tmp_path / "missing.deb")
    (tmp_path / "new").mkdir()  # there before: kept
    with pytest.raises(ValueError, match="unknown"):
        debian.prepare_klettres(dest, deb=deb, eval_speakers=["zz"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]
    assert list((tmp_path / "new").iterdir()) == []
    monkeypatch.setenv("PATH", str(tmp_path / "none"))  # no apt-get: the download fails
    assert cli.main(["prepare", "klettres", "--dest", str(dest)]) == 1
    assert list((tmp_path / "new").iterdir()) == []
    summary = debian.prepare_klettres(dest, deb=deb, eval_speakers=["aa"])
    assert summary["splits"]["eval"]["speakers"] == ["aa"]
    assert sorted(p.name for p in (tmp_path / "new" / "deeper").iterdir()) == ["k"]


def test_a_write_failure_stops_prepare_instead_of_skipping_the_file(
    deb, tmp_path, monkeypatch, capsys, caplog
):
    """A prepared file that cannot be written (here a full disk, for one file, after part of
    it was written) is not a bad recording: prepare stops with an error naming the file and
    the problem, and leaves nothing at --dest, nor the parent folders it made."""
    write = sf.write

    def full_disk(file, *args, **kwargs):
        if os.path.basename(file) == "alpha_b.wav":
            with open(file, "wb") as partial:
                partial.write(b"RIFF half a file")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))
        return write(file, *args, **kwargs)

    monkeypatch.setattr(sf, "write", full_disk)
    dest = tmp_path / "made" / "k"
    with caplog.at_level("WARNING", logger="keras_waveglow.data.debian"):
        with pytest.raises(OSError) as caught:
            debian.prepare_klettres(dest, deb=deb)
    assert caught.value.errno == errno.ENOSPC
    assert str(caught.value) == (
        f"{dest / 'bb' / 'alpha_b.wav'}: cannot write it: No space left on device (converting "
        f"usr/share/klettres/bb/alpha/b.ogg); nothing was left at {dest}."
    )
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert not any("b.ogg" in message for message in skipped), skipped
    assert list(tmp_path.iterdir()) == []  # no dest, work folder or parent made for them

    # Through the CLI: a failure on the way (exit 1), the file and the problem named once.
    argv = ["prepare", "klettres", "--dest", str(dest), "--deb", str(deb)]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert f"prepare failed: {dest / 'bb' / 'alpha_b.wav'}: cannot write it: No space left" in err
    assert err.count("alpha_b.wav") == 1 and ".k." not in err, err
    assert list(tmp_path.iterdir()) == []

    # libsndfile's own write errors (e.g. a folder it may not write to) are RuntimeErrors,
    # as its decode errors are: they stop prepare too.
    def read_only(file, *args, **kwargs):
        raise sf.LibsndfileError(2, prefix=f"Error opening {str(file)!r}: ")

    monkeypatch.setattr(sf, "write", read_only)
    with pytest.raises(OSError, match=r"aa/alpha_a\.wav: cannot write it: Error opening the file"):
        debian.prepare_klettres(dest, deb=deb)
    assert list(tmp_path.iterdir()) == []


def stereo_ogg_bytes(rate, seconds, right_gain):
    t = np.arange(int(rate * seconds)) / rate
    tone = 0.5 * np.sin(2 * np.pi * TONE_HZ * t)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([tone, right_gain * tone], axis=1), rate, format="OGG")
    return buffer.getvalue()


# level/language/name -> right channel's gain: the package's naming, leads -m-/-v-, others.
FILLETS = {
    "city/nl/vit-m-hlava": 1.0,
    "airplane/nl/vit-m-hlava": 1.0,  # the same name in another level stays a separate file
    "city/nl/vit-v-proc": 0.0,  # left channel only: the mono mix halves it
    "barrel/nl/bar_v_fotka": 1.0,  # underscores separate the fields too
    "barrel/nl/b-hurt-0": 1.0,  # no character code (hurt is a word): who speaks is unknown
    "city/nl/vit-hs-dite0": 1.0,  # a third character's code
    "hanoi/nl/v-alehrac": 1.0,  # some levels name the lead first
    "fdto/nl/kecas-v": 1.0,  # or last
    "share/blackjokes/nl/help1": 1.0,  # shared dialogue, one folder deeper; no speaker field
    "key/nl/cactus-0big": 1.0,  # no field: the game's script gives this line to v
    "keys/nl/init-0-0": 1.0,  # a number where the field goes: m, by the script
    "share/borejokes/nl/ob-m-ach": 1.0,
    "share/border/nl/sp-shout_big_00": 1.0,  # the big fish's shout: v
    "city/cs/vit-m-hlava": 1.0,  # Czech: another package's language, not read for nl
}


@pytest.fixture(scope="module")
def fillets_deb(tmp_path_factory):
    root = "./usr/share/games/fillets-ng/sound"
    files = {f"{root}/{name}.ogg": stereo_ogg_bytes(22050, 0.2, g) for name, g in FILLETS.items()}
    files[f"{root}/city/nl/readme.txt"] = b"not audio"
    files["./usr/share/doc/fillets-ng-data-nl/copyright"] = b"GPL version 2\n"
    path = tmp_path_factory.mktemp("deb") / "fillets-ng-data-nl_1.0.1-1.1_all.deb"
    return build_deb(path, files)


def test_fillets_speakers_are_the_two_leads_and_the_rest(fillets_deb, tmp_path):
    """The two leads by their field, other characters by their code, and the lines whose
    name says nobody in no list: key's lines had no field and went to train as "other",
    though the game's script gives half of them to the held-out v (review 35)."""
    dest = tmp_path / "fillets"
    summary = debian.prepare_debian_speech("fillets-nl", dest, sample_rate=16000, deb=fillets_deb)

    assert summary["corpus"] == "fillets-nl" and summary["license"] == "GPL-2"
    assert {s: v["files"] for s, v in summary["speakers"].items()} == {"m": 3, "other": 1, "v": 5}
    assert summary["unattributed"] == [
        f"usr/share/games/fillets-ng/sound/{name}.ogg"
        for name in ("barrel/nl/b-hurt-0", "key/nl/cactus-0big", "keys/nl/init-0-0")
    ] + ["usr/share/games/fillets-ng/sound/share/blackjokes/nl/help1.ogg"]
    assert summary["splits"]["eval"]["speakers"] == ["v"]  # the corpus' default hold-out
    assert summary["splits"]["train"]["speakers"] == ["m", "other"]
    assert sorted(p.name for p in (dest / "m").iterdir()) == [
        "airplane_vit-m-hlava.wav",
        "city_vit-m-hlava.wav",
        "share-borejokes_ob-m-ach.wav",
    ]
    assert sorted(p.name for p in (dest / "other").iterdir()) == ["city_vit-hs-dite0.wav"]
    listed = [p.name for name in ("train", "eval") for p in read_file_list(summary["lists"][name])]
    assert not any(word in name for name in listed for word in ("cactus", "init", "help", "hurt"))
    lists = {name: read_file_list(path) for name, path in summary["lists"].items()}
    eval_names = sorted(p.name for p in lists["eval"])
    assert eval_names == [  # every line of the held-out lead, wherever the name puts its field
        "barrel_bar_v_fotka.wav",
        "city_vit-v-proc.wav",
        "fdto_kecas-v.wav",
        "hanoi_v-alehrac.wav",
        "share-border_sp-shout_big_00.wav",
    ]
    assert not any("v" in p.name.split(".")[0].split("-") for p in lists["train"])
    # Stereo is mixed to mono: a tone on the left only comes out at half the amplitude of one
    # on both channels (Vorbis and resampling keep the 0.5 peak to within 2%).
    both = sf.read(dest / "v" / "barrel_bar_v_fotka.wav")[0]
    left = sf.read(dest / "v" / "city_vit-v-proc.wav")[0]
    assert both.ndim == 1 and sf.info(dest / "v" / "city_vit-v-proc.wav").samplerate == 16000
    assert np.max(np.abs(both)) == pytest.approx(0.5, rel=0.02)
    assert np.max(np.abs(left)) == pytest.approx(0.25, rel=0.02)

    notice = (dest / "NOTICE.txt").read_text()
    assert "fillets-ng-data-nl" in notice and "Fish Fillets" in notice
    assert "version 2 (GPL-2)" in notice and "later" not in notice
    assert (dest / "copyright").read_text() == "GPL version 2\n"
    assert json.loads((dest / "fillets-nl.json").read_text())["speakers"]["m"]["files"] == 3
    assert not (dest / "klettres.json").exists()

    # The Czech pack's recordings live in the same tree layout under cs/.
    tree = debian.extract_deb(fillets_deb, tmp_path / "tree")
    assert [p.name for p in debian.find_recordings(tree, "fillets-cs")["m"]] == ["vit-m-hlava.ogg"]
    with pytest.raises(FileNotFoundError, match="fillets-ng-data-nl"):
        debian.find_recordings(tmp_path / "tree" / "usr", "fillets-nl")
    with pytest.raises(ValueError, match=r"Unknown corpus 'fillets'.*klettres"):
        debian.prepare_debian_speech("fillets", tmp_path / "x", deb=tree)
    with pytest.raises(ValueError, match=r"unknown: \['de'\]"):
        debian.prepare_debian_speech("fillets-nl", tmp_path / "y", deb=tree, eval_speakers=["de"])


def test_cli_prepare_fillets_and_the_corpus_names(fillets_deb, tmp_path, capsys):
    assert cli.PREPARE_CORPORA == tuple(sorted(debian.CORPORA))
    argv = ["prepare", "fillets-nl", "--dest", str(tmp_path / "f"), "--deb", str(fillets_deb)]
    assert cli.main([*argv, "--eval-speakers", "m"]) == 0
    out = capsys.readouterr().out
    assert "in neither: 4 files whose names do not say who speaks" in out
    assert "train: 2 speakers, 6 files" in out and "eval: 1 speakers, 3 files" in out


def klettres_files_with_a_mute_speaker():
    """The package of `deb` plus a speaker `zz` whose only recording cannot be decoded."""
    return {**klettres_files(), "./usr/share/klettres/zz/alpha/z.ogg": b"OggS but not really"}


@pytest.fixture(scope="module")
def mute_deb(tmp_path_factory):
    path = tmp_path_factory.mktemp("deb") / "klettres-data_1.0_all.deb"
    return build_deb(path, klettres_files_with_a_mute_speaker())


def test_a_speaker_without_a_usable_recording_is_left_out_of_the_splits(mute_deb, tmp_path, caplog):
    dest = tmp_path / "k"
    with caplog.at_level("WARNING", logger="keras_waveglow.data.debian"):
        summary = debian.prepare_klettres(dest, sample_rate=16000, deb=mute_deb)

    # The default spread is over the 4 usable speakers (aa, cc, dd), not the 5 found (it would
    # have been aa, cc, zz).
    assert summary["splits"]["eval"]["speakers"] == ["aa", "cc", "dd"]
    assert summary["splits"]["train"] == {"speakers": ["bb"], "files": 1, "seconds": 0.25}
    assert sorted(summary["speakers"]) == ["aa", "bb", "cc", "dd"]
    assert summary["skipped_speakers"] == {"zz": "no usable recording: its only file skipped"}
    assert not (dest / "zz").exists()
    written = json.loads((dest / "klettres.json").read_text())
    assert written["skipped_speakers"] == summary["skipped_speakers"]
    assert "zz" not in written["speakers"]

    # Files are named by their path inside the package, reasons without the (gone) work folder.
    skipped = dict(summary["skipped"])
    assert list(skipped) == [
        "usr/share/klettres/cc/alpha/broken.ogg",
        "usr/share/klettres/cc/alpha/silent.ogg",
        "usr/share/klettres/cc/alpha/tick.ogg",
        "usr/share/klettres/zz/alpha/z.ogg",
    ]
    assert skipped["usr/share/klettres/zz/alpha/z.ogg"].startswith("Error opening the file")
    warnings = [record.getMessage() for record in caplog.records]
    # The synthetic package has none of the bundled model's held-out speakers: said once.
    fallback = [w for w in warnings if "default held-out speakers" in w]
    assert len(fallback) == 1 and "holding out ['aa', 'cc', 'dd'] instead" in fallback[0]
    warnings = [w for w in warnings if w not in fallback]
    assert "usr/share/klettres/zz/alpha/z.ogg: skipped (Error opening the file" in warnings[-2]
    assert warnings[-1] == (
        "speaker zz: no usable recording: its only file skipped; left out of the splits."
    )
    for text in [*warnings, (dest / "klettres.json").read_text()]:
        assert str(tmp_path) not in text and "extracted" not in text
    assert not list(tmp_path.glob(".k.*"))


def test_held_out_speakers_without_recordings_or_an_empty_split_are_refused(
    mute_deb, tmp_path, capsys
):
    with pytest.raises(ValueError, match=r"eval speakers \['zz'\]: no usable recording"):
        debian.prepare_klettres(tmp_path / "a", deb=mute_deb, eval_speakers=["aa", "zz"])
    # Holding out every usable speaker leaves training only the mute one: no training file.
    with pytest.raises(ValueError, match=r"the train split would have no recording.*\['zz'\]"):
        debian.prepare_klettres(
            tmp_path / "b", deb=mute_deb, eval_speakers=["aa", "bb", "cc", "dd"]
        )
    # Through the CLI: refused as prepare's other refusals (exit 2), nothing at --dest.
    (tmp_path / "c").mkdir()  # an empty --dest is accepted, and left empty
    argv = ["prepare", "klettres", "--dest", str(tmp_path / "c"), "--deb", str(mute_deb)]
    assert cli.main([*argv, "--eval-speakers", "zz"]) == 2
    err = capsys.readouterr().err
    assert "prepare: error: eval speakers ['zz']: no usable recording" in err
    assert "extracted" not in err
    assert cli.main([*argv, "--eval-speakers", "aa,bb,cc,dd"]) == 2
    assert "prepare: error: the train split would have no recording" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert not any((tmp_path / "c").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]  # no hidden work folder either

    # Too few usable speakers for the default spread of 3: refused, naming the mute ones.
    tree = tmp_path / "tree"
    for speaker in ("aa", "bb", "cc"):
        (tree / "usr/share/klettres" / speaker / "alpha").mkdir(parents=True)
        (tree / "usr/share/klettres" / speaker / "alpha" / "a.ogg").write_bytes(
            ogg_bytes(8000, 0.1)
        )
    (tree / "usr/share/klettres/zz/alpha").mkdir(parents=True)
    (tree / "usr/share/klettres/zz/alpha/z.ogg").write_bytes(b"not audio")
    (tree / "usr/share/klettres/zz/alpha/y.ogg").write_bytes(b"not audio either")
    with pytest.raises(ValueError, match=r"3 speakers have a usable recording.*none for \['zz'\]"):
        debian.prepare_klettres(tmp_path / "d", deb=tree)
    summary = debian.prepare_klettres(tmp_path / "e", deb=tree, eval_speakers=["aa"])
    assert summary["skipped_speakers"] == {"zz": "no usable recording: all 2 of its files skipped"}
    # This folder has no copyright file: the notice says so (it pointed at a `copyright`
    # beside it that was never written), with a warning.
    notice = (tmp_path / "e" / "NOTICE.txt").read_text()
    assert not (tmp_path / "e" / "copyright").exists()
    assert "beside this notice" not in notice
    assert "(/usr/share/doc/klettres-data/copyright; this copy of the package had none)" in notice


def test_errors_name_the_package_not_the_work_folder(tmp_path, monkeypatch):
    empty = {"./usr/share/doc/klettres-data/copyright": b"License: GPL-2+\n"}
    given = build_deb(tmp_path / "klettres-data_1.0_all.deb", empty)
    with pytest.raises(FileNotFoundError) as caught:
        debian.prepare_klettres(tmp_path / "a", deb=given)
    assert str(caught.value) == (
        f"{given}: no usr/share/klettres/*/*/*.ogg recordings of klettres-data."
    )

    def fetch(workdir, package):  # as apt-get download: into the work folder
        return build_deb(workdir / "klettres-data_1.0_all.deb", empty)

    monkeypatch.setattr(debian, "fetch_deb", fetch)
    with pytest.raises(FileNotFoundError) as caught:
        debian.prepare_klettres(tmp_path / "b")
    assert str(caught.value).startswith("klettres-data_1.0_all.deb: no usr/share/klettres/")
    evil = tmp_path / "evil.deb"
    evil.write_bytes(ar_archive({"data.tar.xz": tar_xz({"../../evil.ogg": b"x"})}))
    with pytest.raises(UnsafeArchiveError) as caught:
        debian.prepare_klettres(tmp_path / "c", deb=evil)
    assert str(caught.value).startswith(f"{evil} (data.tar.xz): member '../../evil.ogg'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.deb", "klettres-data_1.0_all.deb"]


# Runs prepare in a fresh process whose conversion hangs once it has started writing.
SLOW_PREPARE = """
import signal, sys, time
from keras_waveglow.data import debian

# A terminal's process: SIGHUP at its default action (under `nohup`, as CI may run, it is
# inherited as ignored, and prepare then leaves it alone).
signal.signal(signal.SIGHUP, signal.SIG_DFL)

def hang(source, target, sample_rate):
    target.write_bytes(b"half a file")
    print("converting", flush=True)
    time.sleep(120)

debian._convert = hang
debian.prepare_klettres(sys.argv[1], deb=sys.argv[2])
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_sigterm_during_prepare_removes_the_work_folder(deb, tmp_path, signum):
    """SIGHUP (a dropped ssh session) left the work folder (134 MB for klettres) too."""
    dest = tmp_path / "out" / "k"
    env = {**os.environ, "KERAS_BACKEND": "numpy"}  # imports in about 3 s, not TensorFlow's 5
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_PREPARE, str(dest), str(deb)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = process.stdout.readline()  # "" if it ended first
        assert line == "converting\n", process.communicate(timeout=60)[1]
        assert [p.name[:3] for p in dest.parent.iterdir()] == [".k."]  # the work folder
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    # Still ended by the signal (as without the handler), but nothing is left behind: not
    # even the parent folder of --dest that prepare made.
    assert process.returncode == -signum, err
    assert list(tmp_path.iterdir()) == []


def test_the_sigterm_handler_is_set_only_during_prepare_and_only_when_default(
    deb, tmp_path, monkeypatch
):
    # Whatever the test runner set, this test starts from the default action (restored after).
    outer = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        _check_sigterm_handler_placement(deb, tmp_path, monkeypatch)
    finally:
        signal.signal(signal.SIGTERM, outer)


def _check_sigterm_handler_placement(deb, tmp_path, monkeypatch):
    seen, convert = [], debian._convert

    def spy(*args):
        seen.append(signal.getsignal(signal.SIGTERM))
        return convert(*args)

    monkeypatch.setattr(debian, "_convert", spy)
    debian.prepare_klettres(tmp_path / "a", deb=deb)
    assert callable(seen[0]) and seen[0] not in (signal.SIG_DFL, signal.SIG_IGN)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # restored
    # Refused half way (after the conversion): restored too.
    with pytest.raises(ValueError, match="not all"):
        debian.prepare_klettres(tmp_path / "b", deb=deb, eval_speakers=list(RECORDINGS))
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL

    def own(signum, frame):  # the caller's handler is the caller's business
        pass

    previous = signal.signal(signal.SIGTERM, own)
    try:
        seen.clear()
        debian.prepare_klettres(tmp_path / "c", deb=deb)
        assert set(seen) == {own} and signal.getsignal(signal.SIGTERM) is own
    finally:
        signal.signal(signal.SIGTERM, previous)

    # Off the main thread no handler can be set: prepare works and leaves SIGTERM alone.
    seen.clear()
    errors = []
    thread = threading.Thread(
        target=lambda: _record(errors, debian.prepare_klettres, tmp_path / "d", deb=deb)
    )
    thread.start()
    thread.join()
    assert errors == [] and (tmp_path / "d" / "klettres.json").is_file()
    assert set(seen) == {signal.SIG_DFL}


def _record(errors, function, *args, **kwargs):
    try:
        function(*args, **kwargs)
    except Exception as error:  # reported to the test's thread
        errors.append(error)


def _klettres_languages(languages, broken=()):
    files = {
        f"./usr/share/klettres/{language}/alpha/a.ogg": (
            b"OggS but not really" if language in broken else ogg_bytes(22050, 0.2)
        )
        for language in languages
    }
    files["./usr/share/doc/klettres-data/copyright"] = b"License: GPL-2+\n"
    return files


def test_klettres_holds_out_the_bundled_model_s_speakers_whatever_the_package_adds(
    tmp_path, caplog
):
    """The default hold-out was spread over the package's speakers: a language more (or one
    that does not decode here) moved a speaker the bundled model trained on into eval.txt."""
    languages = ["de", "en", "it", "pt_BR", "ru", "sk"]
    assert debian.choose_eval_speakers(languages) == ["en", "pt_BR", "sk"]  # the spread
    deb = build_deb(tmp_path / "klettres-data_2.0_all.deb", _klettres_languages(languages))
    with caplog.at_level("WARNING", logger="keras_waveglow.data.debian"):
        summary = debian.prepare_klettres(tmp_path / "k", deb=deb)
    assert summary["splits"]["eval"]["speakers"] == ["de", "it", "pt_BR"]
    assert "default held-out speakers" not in caplog.text
    # One of them does not decode here: the spread over the usable ones, said.
    deb = build_deb(
        tmp_path / "klettres-data_3.0_all.deb", _klettres_languages(languages, broken=("de",))
    )
    with caplog.at_level("WARNING", logger="keras_waveglow.data.debian"):
        summary = debian.prepare_klettres(tmp_path / "k2", deb=deb)
    assert summary["splits"]["eval"]["speakers"] == ["en", "pt_BR", "sk"]
    assert "default held-out speakers ['de', 'it', 'pt_BR']" in caplog.text
    assert (
        "de: no usable recording" in caplog.text
        and "holding out ['en', 'pt_BR', 'sk']" in caplog.text
    )
    # One speaker named as a string is that speaker, not its letters.
    summary = debian.prepare_klettres(tmp_path / "k3", deb=deb, eval_speakers="en")
    assert summary["splits"]["eval"]["speakers"] == ["en"]


def test_an_empty_eval_speakers_is_refused_not_the_default(deb, tmp_path, capsys):
    argv = ["prepare", "klettres", "--deb", str(deb), "--dest", str(tmp_path / "k")]
    assert cli.main([*argv, "--eval-speakers", ""]) == 2
    assert "eval speakers []: need at least one" in capsys.readouterr().err
    assert not (tmp_path / "k").exists()


def test_a_dest_that_cannot_take_the_prepared_folder_is_refused_first(
    deb, tmp_path, monkeypatch, caplog
):
    """An empty mount point as --dest passed every check, then failed with EBUSY after all the
    decoding (the audio written to the parent's disk); a parent that cannot be written failed
    naming the hidden work folder; a killed run's work folder was never mentioned."""
    mounted = tmp_path / "disk"
    mounted.mkdir()
    real_ismount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: Path(p) == mounted or real_ismount(p))
    with pytest.raises(FileExistsError, match=r"disk is a mount point.*such as .*disk/klettres"):
        debian.prepare_klettres(mounted, deb=deb)
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m: Path(p) != locked and real_access(p, m))
    with pytest.raises(PermissionError, match=r"--dest .*locked/new/k: .*locked cannot be written"):
        debian.prepare_klettres(locked / "new" / "k", deb=deb)
    assert list(locked.iterdir()) == []
    (tmp_path / ".k.abcd1234").mkdir()  # left by a prepare killed with SIGKILL
    (tmp_path / ".k.mine").mkdir()  # a user's own hidden folder: not a work folder
    with caplog.at_level("WARNING", logger="keras_waveglow.data.debian"):
        debian.prepare_klettres(tmp_path / "k", deb=deb)
    assert "1 work folder(s) of another prepare (.k.abcd1234)" in caplog.text
    (tmp_path / "afile").write_text("x")
    with pytest.raises(FileExistsError):  # under a file: not a permission problem
        debian.prepare_klettres(tmp_path / "afile" / "k", deb=deb)
