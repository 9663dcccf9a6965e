"""Data: CMU ARCTIC (layout, download, splits), Debian speech, the (mel, audio) pipeline."""

from keras_waveglow.data import arctic, debian
from keras_waveglow.data.arctic import (
    SPEAKERS,
    UnsafeArchiveError,
    Utterance,
    download_arctic,
    load_corpus,
    read_file_list,
    split_corpus,
    write_file_lists,
)
from keras_waveglow.data.debian import CORPORA, prepare_debian_speech, prepare_klettres
from keras_waveglow.data.pipeline import AudioPyDataset, ExampleSource, make_dataset, resolve_files

__all__ = [
    "CORPORA",
    "SPEAKERS",
    "AudioPyDataset",
    "ExampleSource",
    "UnsafeArchiveError",
    "Utterance",
    "arctic",
    "debian",
    "download_arctic",
    "load_corpus",
    "make_dataset",
    "prepare_debian_speech",
    "prepare_klettres",
    "read_file_list",
    "resolve_files",
    "split_corpus",
    "write_file_lists",
]
