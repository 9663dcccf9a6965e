#!/usr/bin/env bash
# One prepared training run on the lent GPU machine (JAX, no TensorFlow: the PyDataset engine),
# for the bundled vocoder's recipe: prepare klettres there from the carried .deb, train with
# `keras-waveglow train` for BUDGET seconds, and copy results to $OUT as they come (a run
# stopped at its limit still returns them): the latest checkpoint's generator as float16
# (generator.weights.h5, under the 16 MiB per-file limit; Adam's moments do not come back),
# log.csv, training_state.json, progress.txt (unix time and step of each export: every 15 s
# poll that finds a new checkpoint), the log's tail (and prepare's, when it fails), and
# gpu.txt: the GPU's name, whether the run is new or resumed, and how it ended.
#
# Continuing: a second call with the same settings resumes the run exactly, but only on a
# machine still warm (the device tool gives one back after about 30 s idle; a fresh one starts
# bare, and gpu.txt then says "new run"). On a fresh machine, continue from the returned
# generator: copy it over keras_waveglow/weights/squeezewave_128s_klettres.weights.h5 in the
# working tree (the same size, so the carry stays under 64 MiB; a copy anywhere else is
# git-ignored or pushes past it; never commit it), run with that INIT, then restore the file
# (`git show HEAD:<path> > <path>`). A call whose settings differ from the warm machine's run
# moves that run aside and starts a new one (it was forced into --resume, refused, and the old
# run's generator came back as this call's).
#
# Here: bash benchmarks/gpu/pack.sh; then the device tool's `run` with carry [".gpu"] and
#   command: BUDGET=330 bash benchmarks/gpu/train.sh        (timeout_s 600)
# Settings (environment): PRESET (squeezewave_128s), BATCH (32), SEGMENT (16384), LR (4e-4),
# MAE (4), STFT (0: `train --stft-weight`), SAVE_EVERY (200), INIT (weights to start from),
# STEPS (1000000), EMA (a momentum such as 0.999: `train --ema`, snapshots kept every
# SAVE_EVERY steps hold the moving average and generator.weights.h5 is the latest of them;
# unset: none),
# REMOVE_GROUP_MEAN=1 (`train --remove-group-mean`), GROUP_MEAN_WINDOW (an odd number of
# groups: `train --group-mean-window`, implies the former), EVEN (`train --even-weight`: the
# even part's power share; unset: off), AUGMENT_SPEED ("LOW HIGH": `train --augment-speed`),
# AUGMENT_EQ (dB: `train --augment-eq`), GAN=1 (`train --gan`, with DISC_WIDTH (0.5),
# WARMUP (0: `--discriminator-warmup`), ADV (1) and FM (2): `--adv-weight`, `--fm-weight`),
# SKIP_INSTALL=1 to use the current Python as is (the CPU rehearsal). Continuing the bundled
# model, as the CPU runs found best:
#   INIT=keras_waveglow/weights/squeezewave_128s_klettres.weights.h5 LR=1e-4 EMA=0.999
# and the adversarial route from it, untried with a moving average (README, "What the next
# run needs"): the same plus GAN=1 WARMUP=500 ADV=0.1 FM=0.2
set -euo pipefail
cd "$(dirname "$0")/../.."
BUDGET=${BUDGET:-330}
OUT=${OUT:-/tmp/gpu_out}
PRESET=${PRESET:-squeezewave_128s}
BATCH=${BATCH:-32}
SEGMENT=${SEGMENT:-16384}
LR=${LR:-4e-4}
MAE=${MAE:-4}
STFT=${STFT:-0}
SAVE_EVERY=${SAVE_EVERY:-200}
STEPS=${STEPS:-1000000}
PY=${PY:-python3}
WORK=${WORK:-/tmp/kwg_gpu}
mkdir -p "$OUT" "$WORK"
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$WORK/site" .gpu/whl/*.whl
  export PYTHONPATH="$WORK/site:$PWD"
else
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
(nvidia-smi --query-gpu=name,memory.total --format=csv || echo "no nvidia-smi") > "$OUT/gpu.txt" 2>&1
start=$(date +%s)
if [ ! -f "$WORK/klettres/train.txt" ]; then
  # Its reason comes back: under `set -e` a failure ended the call with gpu.txt alone.
  prepared=0
  $PY -m keras_waveglow.cli prepare klettres --deb .gpu/klettres-data.deb \
    --dest "$WORK/klettres" --sample-rate 22050 > "$WORK/prepare.log" 2>&1 || prepared=$?
  if [ "$prepared" != 0 ]; then
    echo "prepare failed (exit $prepared); its log: prepare_log.txt" >> "$OUT/gpu.txt"
    tail -n 200 "$WORK/prepare.log" | tee "$OUT/prepare_log.txt" >&2
    exit "$prepared"
  fi
fi
echo "prepared in $(( $(date +%s) - start )) s" >> "$OUT/gpu.txt"
run="$WORK/run"

export_latest() {  # the latest checkpoint -> $OUT (atomic: .tmp then rename)
  [ -f "$run/training_state.json" ] || return 0
  step=$($PY -c "import json; print(json.load(open('$run/training_state.json'))['step'])")
  [ "$step" = "${last_step:-}" ] && return 0
  source="$run/last.weights.h5"  # with EMA, the average the snapshot holds
  [ -n "${EMA:-}" ] && [ -f "$run/snaps/$step.weights.h5" ] && source="$run/snaps/$step.weights.h5"
  # On the CPU (a checkpoint without a snapshot builds a model: on the GPU it would compete
  # with the trainer's memory); a failed export leaves the step to the next call, not done.
  if ! JAX_PLATFORMS=cpu $PY -c "from keras_waveglow.training import export_generator_weights \
as e; e('$source', '$OUT/weights.tmp.weights.h5', 'float16')"; then
    echo "$(date +%s) export of step $step failed" >> "$OUT/gpu.txt"
    return 1
  fi
  mv "$OUT/weights.tmp.weights.h5" "$OUT/generator.weights.h5"
  cp "$run/log.csv" "$OUT/log.csv.tmp" && mv "$OUT/log.csv.tmp" "$OUT/log.csv"
  cp "$run/training_state.json" "$OUT/training_state.json"
  echo "$(date +%s) $step" >> "$OUT/progress.txt"
  last_step=$step
}

# This call's settings: a run on this (still warm) machine made with the same ones is resumed
# exactly; one made with others is moved aside and a new run starts.
settings="$PRESET $BATCH $SEGMENT $LR $MAE $STFT $SAVE_EVERY $STEPS ${INIT:-} ${EMA:-}"
settings+=" ${REMOVE_GROUP_MEAN:-} ${GROUP_MEAN_WINDOW:-} ${EVEN:-} ${AUGMENT_SPEED:-}"
settings+=" ${AUGMENT_EQ:-} ${GAN:-0} ${DISC_WIDTH:-} ${WARMUP:-} ${ADV:-} ${FM:-}"
if [ -f "$run/training_state.json" ] && [ "$(cat "$WORK/run.settings" 2>/dev/null)" != "$settings" ]; then
  aside="$WORK/run.$(date +%s)"
  mv "$run" "$aside"
  echo "the machine's run had other settings: moved to $aside" >> "$OUT/gpu.txt"
fi
init=()
[ -n "${INIT:-}" ] && init=(--init-from "$INIT")
if [ -f "$run/training_state.json" ]; then
  init=(--resume)
  echo "resumed at step $($PY -c "import json; print(json.load(open('$run/training_state.json'))['step'])")" >> "$OUT/gpu.txt"
else
  rm -rf "$run"  # a start killed before its first checkpoint
  echo "new run${INIT:+ from $INIT}" >> "$OUT/gpu.txt"
fi
echo "$settings" > "$WORK/run.settings"
# Both the first call and a resumed one: `--resume` refuses another optimizer (EMA or not).
[ -n "${EMA:-}" ] && init+=(--ema "$EMA" --keep-every "$SAVE_EVERY")
[ -n "${REMOVE_GROUP_MEAN:-}" ] && init+=(--remove-group-mean)
[ -n "${GROUP_MEAN_WINDOW:-}" ] && init+=(--group-mean-window "$GROUP_MEAN_WINDOW")
[ -n "${EVEN:-}" ] && init+=(--even-weight "$EVEN")
# shellcheck disable=SC2206  # two numbers, split on purpose
[ -n "${AUGMENT_SPEED:-}" ] && init+=(--augment-speed $AUGMENT_SPEED)
[ -n "${AUGMENT_EQ:-}" ] && init+=(--augment-eq "$AUGMENT_EQ")
[ "${GAN:-0}" = 1 ] && init+=(--gan --discriminator-width "${DISC_WIDTH:-0.5}" \
  --discriminator-warmup "${WARMUP:-0}" --adv-weight "${ADV:-1}" --fm-weight "${FM:-2}")
echo "$(date +%s) start" >> "$OUT/progress.txt"
timeout --signal=TERM --kill-after=45 "$BUDGET" $PY -m keras_waveglow.cli train --data "$WORK/klettres/train.txt" \
  --split all --preset "$PRESET" --batch-size "$BATCH" --segment-length "$SEGMENT" \
  --learning-rate "$LR" --mae-weight "$MAE" --stft-weight "$STFT" --save-every "$SAVE_EVERY" --steps "$STEPS" \
  --seed 0 --sample-every 0 --out "$run" "${init[@]}" >> "$WORK/train.log" 2>&1 &
trainer=$!
while kill -0 $trainer 2>/dev/null; do sleep 15; export_latest || true; done
wait $trainer || echo "trainer exit $? (124: stopped at BUDGET)" >> "$OUT/gpu.txt"
export_latest || export_latest || echo "the last checkpoint was not exported" >> "$OUT/gpu.txt"
tail -c 200000 "$WORK/train.log" | tr '\r' '\n' | tail -n 400 > "$OUT/train_log_tail.txt"
echo "done after $(( $(date +%s) - start )) s" >> "$OUT/gpu.txt"
