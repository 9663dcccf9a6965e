"""The Debian speech recipes (klettres, fillets) on small fake .debs built here (no network)."""

from __future__ import annotations

import io
import json
import tarfile

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
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get anywhere
    with pytest.raises(RuntimeError, match=r"apt-get not found.*--deb"):
        debian.prepare_klettres(tmp_path / "c")


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
    "barrel/nl/b-hurt-0": 1.0,  # a third character
    "share/nl/help1": 1.0,  # no speaker field
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
    dest = tmp_path / "fillets"
    summary = debian.prepare_debian_speech("fillets-nl", dest, sample_rate=16000, deb=fillets_deb)

    assert summary["corpus"] == "fillets-nl" and summary["license"] == "GPL-2"
    assert {s: v["files"] for s, v in summary["speakers"].items()} == {"m": 2, "other": 2, "v": 2}
    assert summary["splits"]["eval"]["speakers"] == ["v"]  # the corpus' default hold-out
    assert summary["splits"]["train"]["speakers"] == ["m", "other"]
    assert sorted(p.name for p in (dest / "m").iterdir()) == [
        "airplane_vit-m-hlava.wav",
        "city_vit-m-hlava.wav",
    ]
    assert sorted(p.name for p in (dest / "other").iterdir()) == [
        "barrel_b-hurt-0.wav",
        "share_help1.wav",
    ]
    lists = {name: read_file_list(path) for name, path in summary["lists"].items()}
    eval_names = sorted(p.name for p in lists["eval"])
    assert eval_names == ["barrel_bar_v_fotka.wav", "city_vit-v-proc.wav"]
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
    assert json.loads((dest / "fillets-nl.json").read_text())["speakers"]["m"]["files"] == 2
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
    assert "train: 2 speakers, 4 files" in out and "eval: 1 speakers, 2 files" in out
