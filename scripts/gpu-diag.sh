#!/usr/bin/env bash
# One-off diagnostics on the GPU machine with the prebuilt pack (see gpu-check.sh --prebuilt).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
src=$(cat .gpupack/srcdir)
[ "$src" != "$root" ] && { mkdir -p "$(dirname "$src")"; ln -sfn "$root" "$src"; }
xz -dc .gpupack/pack.tar.xz | tar xf - -C "$root"
d=$root/build/diag; mkdir -p $d
export LD_LIBRARY_PATH="$root/build/gpupack-lib:/usr/local/cuda/lib64"
for m in nvidia.cudnn nvidia.nccl; do p=$(python3 -c "import importlib;print(list(importlib.import_module('$m').__path__)[0])" 2>/dev/null) && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$p/lib"; done
export NVIDIA_TF32_OVERRIDE=0
fm=$root/.gpupack/fashion-mnist
B=build/samples/sf-bench
sfb() { local n=$1; shift; timeout 40 $B --device gpu --model fashion_cnn --num_batches 40 --num_warmup_batches 10 --display_every 1000 --json $d/$n.json "$@" > $d/$n.txt 2>&1; echo "$n rc=$? $(grep 'total images/sec' $d/$n.txt)"; }
sfb r4x128 --num_devices 4 --batch_size 128 --variable_update replicated --trace_file $d/r4x128_trace.json
sfb r1x512 --num_devices 1 --batch_size 512 --variable_update replicated --trace_file $d/r1x512_trace.json
sfb r1x128 --num_devices 1 --batch_size 128 --variable_update replicated
sfb r4x512 --num_devices 4 --batch_size 512 --variable_update replicated
sfb r1x2048 --num_devices 1 --batch_size 2048 --variable_update replicated
sfb r4x128_t4 --num_devices 4 --batch_size 128 --variable_update replicated --inter_op_threads 4
sfb i4x128 --num_devices 4 --batch_size 128 --variable_update independent
for s in copy ring nccl; do timeout 40 $B --device gpu --num_devices 4 --all_reduce_spec $s --json $d/ar_$s.json allreduce --min_bytes 1048576 --max_bytes 268435456 --iters 10 > $d/ar_$s.txt 2>&1; echo "allreduce $s rc=$?"; tail -4 $d/ar_$s.txt; done
T=build/samples/sf-train
for g in nograph graph; do f=""; [ $g = graph ] && f=--cuda_graph
  timeout 60 $T --data $fm --device gpu --epochs 1 --max_steps 300 --batch_size 64 --towers 1 --eval_limit 1000 --local_parameter_device gpu $f --json $d/t_$g.json --trace_file $d/t_${g}_trace.json > $d/t_$g.txt 2>&1
  echo "train $g rc=$? $(grep -o '"images_per_sec": [0-9.]*' $d/t_$g.json)"; done
for bt in "kernels_test Devices/GpuOpsTest.MatMul/GPU_0" "kernels_test ConcatTest.GpuKernelsMatchTheCpu" "runtime_test ExecutorTest.ReadsInAStepSeeThePreUpdateValue" "cuda_graph_test CudaGraphSessionTest.FetchesAreSnapshotsAndVariablesStayConsistent" "conformance_test Conformance.E63*"; do
  set -- $bt; echo "== $2" >> $d/tests_repeat.txt; timeout 60 build/tests/$1 --gtest_filter="$2" --gtest_repeat=3 >> $d/tests_repeat.txt 2>&1; echo "$2 rc=$?"; done
grep -E "^\[  (PASSED|FAILED) " $d/tests_repeat.txt | sort | uniq -c
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv
tar czf $OUT/diag.tgz -C $d .
