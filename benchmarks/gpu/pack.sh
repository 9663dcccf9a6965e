#!/usr/bin/env bash
# Builds .gpu/ for benchmarks/gpu/train.sh: the wheels the JAX-only GPU machine lacks (Python
# 3.12, x86-64) and Debian's klettres-data .deb (its recordings only, 35 MB of Vorbis), kept out
# of git by .git/info/exclude. Run here (network to PyPI and Debian), then carry .gpu:
#   bash benchmarks/gpu/pack.sh [path/to/klettres-data.deb]
# It prints the size of what will travel (the device tool's limit is 64 MiB with the tree).
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.gpu/' .git/info/exclude || echo '/.gpu/' >> .git/info/exclude
# Only what this script makes is replaced (anything else put in .gpu/ to carry stays).
rm -rf .gpu/whl .gpu/full.deb .gpu/klettres-data.deb && mkdir -p .gpu/whl
# The machine has jax, numpy, scipy, scikit-learn, numba, h5py, absl-py, rich, ml-dtypes,
# joblib, msgpack, lazy-loader, requests, typing-extensions (KINDS.md); these it lacks, at the
# versions the tests here ran with (PY, default .venv/bin/python):
PY=${PY:-.venv/bin/python}
pins=$($PY -c "from importlib.metadata import version as v; print(' '.join(f'{n}=={v(n)}' for n in \
'keras namex optree soundfile cffi pycparser soxr librosa audioread decorator pooch platformdirs'.split()))")
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .gpu/whl $pins
if [ $# -ge 1 ]; then
  cp "$1" .gpu/full.deb
else
  (cd .gpu && apt-get download klettres-data && mv klettres-data_*.deb full.deb)
fi
# Only the recordings (and the copyright notice) travel: the package's pictures, handbooks and
# translations (4.2 MB of the 39.5 MB .deb) pushed the carry past the 64 MiB limit as the tree
# grew (65 MiB on 2026-12-06). `prepare` reads the .ogg files alone, so its result is the same.
slim=$(mktemp -d)
dpkg-deb -R .gpu/full.deb "$slim/pkg"
find "$slim/pkg" -type f ! -name '*.ogg' ! -path '*/DEBIAN/*' ! -name copyright -delete
find "$slim/pkg" -type d -empty -delete
rm -f "$slim/pkg/DEBIAN/md5sums" "$slim/pkg/DEBIAN/conffiles"
dpkg-deb -Zxz -b "$slim/pkg" .gpu/klettres-data.deb > /dev/null
rm -rf "$slim" .gpu/full.deb
tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
gpu=$(du -sb .gpu | cut -f1)
echo "{\"tree_bytes\": $tree, \"gpu_bytes\": $gpu, \"total_mib\": $(( (tree + gpu) / 1048576 ))}"
ls .gpu/whl
