#!/usr/bin/env bash
# sf-train --resume continues where the checkpoint's run stopped: 2 epochs in one run and 1
# epoch + --resume for the second write the same final checkpoint, byte for byte (the same
# batches, dropout masks and updates), and the resumed run's "checkpoint" still lists the first
# run's file. Usage: resume_check.sh SF_TRAIN WORKDIR
set -euo pipefail
train=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
common=(--max_steps 3 --towers 2 --batch_size 16 --device cpu --eval_limit 100)
"$train" "${common[@]}" --epochs 2 --checkpoint_dir "$work/whole" > /dev/null
"$train" "${common[@]}" --epochs 1 --checkpoint_dir "$work/split" > /dev/null
"$train" "${common[@]}" --epochs 2 --checkpoint_dir "$work/split" --resume > /dev/null
cmp "$work/whole/model.ckpt-6.safetensors" "$work/split/model.ckpt-6.safetensors"
grep -q '"model.ckpt-3.safetensors"' "$work/split/checkpoint"
# Nothing left of --epochs 2: a clear error, not a silent run.
if "$train" "${common[@]}" --epochs 2 --checkpoint_dir "$work/split" --resume 2> "$work/err"; then
  echo "resumed past the last epoch without an error" >&2
  exit 1
fi
grep -q "nothing left of --epochs 2" "$work/err"
# Another batch size would place the run elsewhere in the data: refused, naming the flags.
if "$train" --max_steps 3 --towers 2 --batch_size 32 --device cpu --eval_limit 100 --epochs 3 \
  --checkpoint_dir "$work/split" --resume 2> "$work/err2"; then
  echo "resumed with another --batch_size without an error" >&2
  exit 1
fi
grep -q "resume with the same --batch_size, --towers, --max_steps and --optimizer" "$work/err2"
echo "resume ok"
