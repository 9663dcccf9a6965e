"""Data: the CMU ARCTIC corpus (layout, download, splits) and the (mel, audio) pipeline."""

from keras_waveglow.data import arctic
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
from keras_waveglow.data.pipeline import AudioPyDataset, ExampleSource, make_dataset, resolve_files

__all__ = [
    "SPEAKERS",
    "AudioPyDataset",
    "ExampleSource",
    "UnsafeArchiveError",
    "Utterance",
    "arctic",
    "download_arctic",
    "load_corpus",
    "make_dataset",
    "read_file_list",
    "resolve_files",
    "split_corpus",
    "write_file_lists",
]
