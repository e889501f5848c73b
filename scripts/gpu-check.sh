#!/usr/bin/env bash
# The GPU check, run on a machine with an NVIDIA GPU (the device tool's H100/H200):
#   1. unpacks the carried Debian packages (.deps/debs, from scripts/gpu-deps.sh) into
#      .deps/prefix and points CMake at them -- or, with --prebuilt, unpacks the binaries that
#      scripts/gpu-pack.sh built and packed on the development machine (.gpupack/, sm_90 too)
#      and builds nothing;
#   2. finds cuDNN and NCCL in /usr/local/cuda or in the Python environment
#      (nvidia-cudnn-cu13, nvidia-nccl-cu13);
#   3. builds with -arch=sm_90 (CMAKE_CUDA_ARCHITECTURES=90) into build-gpu/;
#   4. runs a GPU smoke test (devices_gpu_test; stops there if it fails), then the whole test
#      suite, GPU-labelled tests included, then compute-sanitizer memcheck on the native
#      conv2d kernel's every tile/split plan;
#   5. runs the GPU benchmarks, sf-train's GPU throughput and its PyTorch peer, the cifar10
#      tutorial (sf-cifar10-multi-gpu-train) on 1 and 2 towers
#      (benchmarks/compare/pytorch_fashion_cnn.py), sf-bench's towers on logical GPUs
#      (efficiency, cost model per strategy, all-reduce bandwidth), and last the 15-epoch
#      accuracy run with whatever time is left;
#   6. prints a short summary table last. Logs and JSON go to build*/gpu-results/ and, where
#      the device tool's $OUT is set, to $OUT/gpu-results.tgz (it returns at most 8 files).
# Usage: scripts/gpu-check.sh [--prebuilt] [--quick | --tests | --bench | --towers]
#   (SF_GPU_KERNEL_FILTER=REGEX: only those kernel benchmarks)
#   --quick: only the kernel tests; --tests: whole suite, no benchmarks; --bench: benchmarks
#   only; --towers: sf-bench's towers only (efficiency, cost model, all-reduce); none:
#   everything. SF_GPU_BUDGET_S=N ends every step by N seconds after the start
#   (each step's timeout shrinks to fit; what no longer fits is listed as skipped), so the
#   summary prints inside the device tool's 10-minute call.
# Device time is short (15 minutes a task): build here, `bash scripts/gpu-pack.sh`, then one
# call: `SF_GPU_BUDGET_S=480 bash scripts/gpu-check.sh --prebuilt` with carry [".gpupack"].
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd -P)
t0=$(date +%s)
deadline=$((t0 + ${SF_GPU_BUDGET_S:-86400}))
quick=0 run_tests=1 run_bench=1 prebuilt=0 towers_only=0
for a in "$@"; do
  case "$a" in
    --quick) quick=1 run_bench=0 ;;
    --tests) run_bench=0 ;;
    --bench) run_tests=0 ;;
    --towers) run_tests=0 towers_only=1 ;;
    --prebuilt) prebuilt=1 ;;
    *) echo "gpu-check: unknown option '$a' (expected --prebuilt, --quick, --tests, --bench or --towers)" >&2; exit 2 ;;
  esac
done
bdir=build-gpu
[ $prebuilt = 1 ] && bdir=build
out=$root/$bdir/gpu-results
rm -rf "$out"
mkdir -p "$out"
finish() {  # the device tool returns at most 8 files: one archive of everything
  if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
    tar czf "$OUT/gpu-results.tgz" -C "$out" . 2>/dev/null
  fi
}
trap finish EXIT
# tb SECONDS CMD...: runs CMD with a timeout of SECONDS, shortened to end 20 s before the
# deadline; skips it (status 124, listed in skipped.txt) when under 5 s would be left.
tb() {
  local s=$1
  shift
  local left=$((deadline - $(date +%s) - 15))
  [ "$left" -lt "$s" ] && s=$left
  if [ "$s" -lt 5 ]; then
    echo "${1##*/} $(echo "$*" | grep -oE '[^/ ]+\.json' | head -1)" >>"$out/skipped.txt"
    return 124
  fi
  timeout -k 5 "$s" "$@"
}
jobs=$(nproc)

# ---------------------------------------------------------------- 1. carried packages
prefix=$root/.deps/prefix
if [ $prebuilt = 1 ]; then
  [ -f .gpupack/pack.tar.xz ] ||
    { echo "gpu-check: --prebuilt needs .gpupack/ (scripts/gpu-pack.sh, carried)" >&2; exit 1; }
  # The binaries carry the development machine's source path (ctest files, test data).
  src=$(cat .gpupack/srcdir)
  if [ "$src" != "$root" ]; then
    if [ -e "$src" ] && [ "$(readlink -f "$src")" != "$root" ]; then
      echo "gpu-check: $src exists and is not this checkout; cannot place the prebuilt tree" >&2
      exit 1
    fi
    mkdir -p "$(dirname "$src")" && ln -sfn "$root" "$src" ||
      echo "gpu-check: cannot link $src to this checkout (ctest files and test data use it)" >&2
  fi
  xz -dc .gpupack/pack.tar.xz | tar xf - -C "$root" ||
    { echo "gpu-check: cannot unpack .gpupack/pack.tar.xz" >&2; exit 1; }
  # gtest_discover_tests reruns discovery (with this machine's CMake modules, which may be
  # missing) when a *_tests.cmake is not newer than its binary and include file: make it so.
  find "$bdir" -name '*_tests.cmake' -exec touch {} +
  # The tests and samples that read Fashion-MNIST look in the Debian package's folder.
  fm=/usr/share/datasets/fashion-mnist
  if [ ! -e "$fm" ] && [ -d .gpupack/fashion-mnist ] && [ "$(id -u)" = 0 ]; then
    mkdir -p "$(dirname "$fm")" && ln -s "$root/.gpupack/fashion-mnist" "$fm"
  fi
  echo "prebuilt: commit $(cat .gpupack/commit 2>/dev/null), unpacked at +$(($(date +%s) - t0))s"
  export LD_LIBRARY_PATH="$root/$bdir/gpupack-lib:${LD_LIBRARY_PATH:-}"
fi
if [ -d .deps/debs ] && [ $prebuilt = 0 ]; then
  mkdir -p "$prefix"
  for f in .deps/debs/*.deb; do dpkg -x "$f" "$prefix"; done
fi
export CMAKE_PREFIX_PATH="$prefix/usr:${CMAKE_PREFIX_PATH:-}"
export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu:$prefix/usr/lib/x86_64-linux-gnu/openblas-pthread:${LD_LIBRARY_PATH:-}"

# ---------------------------------------------------------------- 2. cuDNN / NCCL
pyroot() {  # prints the folder of a Python package of NVIDIA's wheels, if installed
  python3 -c "import importlib, sys; m = importlib.import_module('$1'); print(list(m.__path__)[0])" 2>/dev/null
}
cmake_extra=()
if [ ! -f /usr/local/cuda/include/cudnn.h ] && d=$(pyroot nvidia.cudnn) && [ -n "$d" ]; then
  cmake_extra+=(-DCUDNN_ROOT="$d")
  export LD_LIBRARY_PATH="$d/lib:$LD_LIBRARY_PATH"
fi
if [ ! -f /usr/local/cuda/include/nccl.h ] && d=$(pyroot nvidia.nccl) && [ -n "$d" ]; then
  cmake_extra+=(-DNCCL_ROOT="$d")
  export LD_LIBRARY_PATH="$d/lib:$LD_LIBRARY_PATH"
fi
export PATH="/usr/local/cuda/bin:$PATH"
export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:/usr/local/cuda/lib64"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee "$out/gpu.txt"

# ---------------------------------------------------------------- 3. build
start=$(date +%s)
if [ $prebuilt = 1 ]; then
  echo "build: prebuilt (sm_90, $(grep -m1 CMAKE_BUILD_TYPE "$src/$bdir/CMakeCache.txt" 2>/dev/null |
    cut -d= -f2))" >"$out/build.log"
else
  cmake -S . -B $bdir -G Ninja -DCMAKE_BUILD_TYPE=Release -DSF_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 "${cmake_extra[@]}" >"$out/configure.log" 2>&1 ||
    { tail -40 "$out/configure.log"; echo "gpu-check: configure FAILED"; exit 1; }
  grep -E "ScopeFlow:" "$out/configure.log"
  targets=()
  [ $quick = 1 ] && targets=(--target kernels_test devices_gpu_test)
  cmake --build $bdir -j "$jobs" "${targets[@]}" >"$out/build.log" 2>&1 ||
    { grep -E "error|FAILED" "$out/build.log" | head -40; echo "gpu-check: build FAILED"; exit 1; }
fi
build_s=$(( $(date +%s) - start ))

# ---------------------------------------------------------------- 4. tests
export NVIDIA_TF32_OVERRIDE=0
test_rc=0
# Smoke: the device layer on the GPU. If this fails (a library not found, no device), the rest
# would only repeat it: stop with what the loader says.
tb 60 $bdir/tests/devices_gpu_test --gtest_brief=1 >"$out/smoke.log" 2>&1
smoke_rc=$?
tail -5 "$out/smoke.log"
if [ $smoke_rc != 0 ]; then
  echo "gpu-check: smoke test FAILED (rc=$smoke_rc)"
  ldd $bdir/tests/devices_gpu_test | grep -i "not found"
  exit 1
fi
if [ $quick = 1 ]; then
  tb 240 $bdir/tests/kernels_test --gtest_brief=1 >"$out/tests.log" 2>&1
  test_rc=$?
  tail -15 "$out/tests.log"
elif [ $run_tests = 0 ]; then
  echo "tests: skipped (--bench or --towers)" >"$out/tests.log"
else
  # GPU tests share the one card; install_consumer (a CMake build of an installed copy) and
  # the slow label are CPU-only matters for CI.
  (cd $bdir && tb 200 ctest --output-on-failure -j "$jobs" -LE "slow|install" --timeout 240) \
    >"$out/tests.log" 2>&1
  test_rc=$?
  grep -E "tests passed|tests failed|\(Failed\)|\(SEGFAULT\)|\(Subprocess|Timeout" "$out/tests.log" | tail -30
  # The CUDA-graph tests whose state depends on thread timing, five more times each.
  tb 60 $bdir/tests/cuda_graph_test --gtest_brief=1 --gtest_repeat=5 \
    --gtest_filter='*ReplaysEveryStep*:*OutOfRangeLabels*:*AFailedCapture*' \
    >"$out/graph_repeat.log" 2>&1
  echo "CUDA-graph tests x5: rc=$? $(grep -cE '^\[  FAILED  \]' "$out/graph_repeat.log") failure lines"
  # Memory checker on the native conv2d kernel: every tile shape and split-K plan.
  if command -v compute-sanitizer >/dev/null; then
    tb 45 compute-sanitizer --tool memcheck --error-exitcode 3 $bdir/tests/kernels_test \
      --gtest_filter='Conv2DCudaPlanTest.EveryTileAndSplitMatchesReference' \
      >"$out/memcheck.log" 2>&1
    echo "memcheck (conv2d every tile/split): rc=$? $(grep -E 'ERROR SUMMARY' "$out/memcheck.log")"
  fi
fi

echo "tests done at +$(( $(date +%s) - t0 ))s"

# ---------------------------------------------------------------- 5. benchmarks
bench_rc=0
if [ $run_bench = 1 ]; then
  # Google Benchmark programs, GPU cases (the CPU ones are CI's and this machine's matter).
  gbench() {  # gbench NAME SECONDS FILTER
    tb "$2" $bdir/benchmarks/sf-bench-$1 --benchmark_min_time=0.1 --benchmark_filter="$3" \
      --benchmark_out="$out/bench_$1.json" --benchmark_out_format=json >"$out/bench_$1.txt" 2>&1 ||
      bench_rc=1
  }
  # sf-train's images/sec on one GPU tower, and the same model in PyTorch eager (TF32 off).
  fmnist=/usr/share/datasets/fashion-mnist
  for d in "$prefix/usr/share/datasets/fashion-mnist" "$root/.gpupack/fashion-mnist"; do
    [ -f "$fmnist/train-images-idx3-ubyte.gz" ] || fmnist=$d
  done
  train() {  # train NAME SECONDS FLAGS...
    local name=$1 secs=$2
    shift 2
    tb "$secs" $bdir/samples/sf-train --data "$fmnist" --device gpu --batch_size 64 --towers 1 \
      --json "$out/$name.json" "$@" >"$out/$name.txt" 2>&1 || bench_rc=1
  }
  if [ $towers_only = 1 ]; then
    # Where the variables live, and nothing else of sf-train's: on the CPU, pageable or pinned.
    echo "sf-train (but the variables-on-CPU pair), PyTorch, kernel benchmarks: not run (--towers)"
    if [ -f "$fmnist/train-images-idx3-ubyte.gz" ]; then
      train sf_train_gpu_vars_cpu 60 --epochs 1 --max_steps 300 --eval_limit 1000 \
        --local_parameter_device cpu
      train sf_train_gpu_vars_cpu_pinned 60 --epochs 1 --max_steps 300 --eval_limit 1000 \
        --local_parameter_device cpu --pin_host_memory
    fi
  elif [ -f "$fmnist/train-images-idx3-ubyte.gz" ]; then
    # The default (one GPU tower: the variables on the GPU too), then with CUDA-graph replay of
    # the step, then with the variables on the CPU (TF's cifar10 tutorial's _variable_on_cpu).
    train sf_train_gpu 60 --epochs 1 --max_steps 300 --eval_limit 1000 \
      --trace_file "$out/sf_train_gpu_trace.json"
    # A/B in the same run: without session 8's constant folding and grouped updates.
    train sf_train_gpu_unoptimized 60 --epochs 1 --max_steps 300 --eval_limit 1000 \
      --constant_folding 0 --group_updates 0
    train sf_train_gpu_graph 60 --epochs 1 --max_steps 300 --eval_limit 1000 --cuda_graph
    train sf_train_gpu_vars_cpu 60 --epochs 1 --max_steps 300 --eval_limit 1000 \
      --local_parameter_device cpu
    # The same with the CPU's memory page-locked (SessionOptions::pin_host_memory).
    train sf_train_gpu_vars_cpu_pinned 60 --epochs 1 --max_steps 300 --eval_limit 1000 \
      --local_parameter_device cpu --pin_host_memory
  else
    echo "skipped: no Fashion-MNIST IDX files (Debian package dataset-fashion-mnist)" \
      >"$out/sf_train_gpu.txt"
  fi
  if [ $towers_only = 1 ]; then
    :
  elif python3 -c "import torch" >/dev/null 2>&1; then
    tb 90 python3 benchmarks/compare/pytorch_fashion_cnn.py --batch_size 64 --steps 200 \
      --data "$fmnist" --json "$out/pytorch_fashion_cnn.json" >"$out/pytorch_fashion_cnn.txt" 2>&1 ||
      bench_rc=1
  else
    echo "skipped: python3 cannot import torch" >"$out/pytorch_fashion_cnn.txt"
  fi
  # TF's cifar10 multi-GPU tutorial (synthetic images): 1 tower, and 2 towers on logical GPUs
  # of the card, variables on the CPU as the tutorial puts them; then --eval of the averages.
  if [ $towers_only = 0 ]; then
    for k in 1 2; do
      tb 60 $bdir/samples/sf-cifar10-multi-gpu-train --data synthetic --device gpu --num_gpus $k \
        --batch_size 128 --max_steps 200 --log_frequency 50 --eval --num_examples 1024 \
        --train_dir "$out/cifar10_train_$k" --json "$out/tutorial_cifar10_gpu$k.json" \
        >"$out/tutorial_cifar10_gpu$k.txt" 2>&1 || bench_rc=1
    done
  fi
  echo "sf-train / PyTorch done at +$(( $(date +%s) - t0 ))s"
  # SF_GPU_KERNEL_FILTER narrows the kernel benchmarks (all GPU cases by default).
  [ $towers_only = 1 ] || gbench kernels 120 "${SF_GPU_KERNEL_FILTER:-Gpu|cublas|cudnn|Cuda}"
  echo "kernel benchmarks done at +$(( $(date +%s) - t0 ))s"
  # sf-bench on logical GPUs of one card (towers issue): E_K = K towers x 128 against 1 tower
  # x 128K (replicated), every strategy at K=4 with --explain (cost model vs measured), and the
  # all-reduce microbenchmark per spec against the same run's device-to-device copy.
  sfb() { tb 45 $bdir/samples/sf-bench --device gpu --model fashion_cnn --num_batches 40 \
    --num_warmup_batches 10 --display_every 1000 "$@" >>"$out/sf_bench.txt" 2>&1 || bench_rc=1; }
  for k in 1 4; do
    tr=()
    [ "$k" = 4 ] && tr=(--trace_file "$out/tower_replicated_4x128_trace.json")
    sfb --num_devices "$k" --batch_size 128 --variable_update replicated \
      --json "$out/tower_replicated_${k}x128.json" "${tr[@]}"
    [ "$k" = 1 ] || sfb --num_devices 1 --batch_size $((128 * k)) --variable_update replicated \
      --json "$out/tower_replicated_1x$((128 * k)).json"
  done
  # One collective a step instead of one per variable (each a barrier of all towers): the
  # gradients packed into one buffer, all-reduced by the fused kernel into one shared result.
  for k in 4 8; do
    tr=()
    [ "$k" = 4 ] && tr=(--trace_file "$out/tower_replicated_nccl_pack1_4x128_trace.json")
    sfb --num_devices "$k" --batch_size 128 --variable_update replicated --all_reduce_spec nccl \
      --gradient_repacking 1 --json "$out/tower_replicated_nccl_pack1_${k}x128.json" "${tr[@]}"
  done
  sfb --num_devices 1 --batch_size 1024 --variable_update replicated \
    --json "$out/tower_replicated_1x1024.json"
  # E_4 once more, baseline and towers back to back (one run each swung 0.66-0.94 on a noisy
  # machine): the spread between the two rounds says how far to trust either.
  sfb --num_devices 1 --batch_size 512 --variable_update replicated \
    --json "$out/tower_replicated_1x512_r2.json"
  sfb --num_devices 4 --batch_size 128 --variable_update replicated --all_reduce_spec nccl \
    --gradient_repacking 1 --json "$out/tower_replicated_nccl_pack1_4x128_r2.json"
  sfb --num_devices 4 --batch_size 128 --explain --variable_update parameter_server \
    --local_parameter_device cpu --json "$out/tower_ps_cpu_4x128_explain.json"
  sfb --num_devices 4 --batch_size 128 --explain --variable_update parameter_server \
    --local_parameter_device gpu --ps_strategy greedy --json "$out/tower_ps_gpu_4x128_explain.json"
  for spec in copy nccl ring; do
    sfb --num_devices 4 --batch_size 128 --explain --variable_update replicated \
      --all_reduce_spec "$spec" --json "$out/tower_replicated_${spec}_4x128_explain.json"
  done
  # parameter_server/cpu with the CPU's memory page-locked (SessionOptions::pin_host_memory):
  # its host traffic at the DMA rate, and the cost model's host part measured the same way.
  for k in 4 8; do
    sfb --num_devices $k --batch_size 128 --explain --variable_update parameter_server \
      --local_parameter_device cpu --pin_host_memory \
      --json "$out/tower_ps_cpu_${k}x128_pinned_explain.json"
  done
  # The cost model at K = 2 and 8 too, for the strategies that move the most.
  for k in 2 8; do
    sfb --num_devices $k --batch_size 128 --explain --variable_update parameter_server \
      --local_parameter_device cpu --json "$out/tower_ps_cpu_${k}x128_explain.json"
    sfb --num_devices $k --batch_size 128 --explain --variable_update replicated \
      --all_reduce_spec copy --json "$out/tower_replicated_copy_${k}x128_explain.json"
  done
  for spec in copy ring nccl; do
    tb 45 $bdir/samples/sf-bench --device gpu --num_devices 4 --all_reduce_spec "$spec" allreduce \
      --min_bytes $((1 << 20)) --max_bytes $((256 << 20)) --iters 10 \
      --json "$out/allreduce_$spec.json" >>"$out/sf_bench.txt" 2>&1 || bench_rc=1
    # The sum alone, 20 back to back per Session run (nccl-tests' all_reduce_perf: its
    # iterations between two synchronizations; the mean adds a 1/K pass on every device).
    [ "$spec" = ring ] ||
      tb 45 $bdir/samples/sf-bench --device gpu --num_devices 4 --all_reduce_spec "$spec" \
        allreduce --op sum --rounds 20 --min_bytes $((16 << 20)) --max_bytes $((256 << 20)) \
        --iters 10 --json "$out/allreduce_${spec}_sum.json" >>"$out/sf_bench.txt" 2>&1 ||
      bench_rc=1
  done
  sfb --num_devices 4 --batch_size 128 --explain --variable_update independent \
    --json "$out/tower_independent_4x128_explain.json"
  sfb --num_devices 8 --batch_size 128 --variable_update replicated \
    --json "$out/tower_replicated_8x128.json"
  # SessionOptions::inbound_copy_streams (off by default until this A/B says otherwise): the
  # copy-heavy strategies again with the copies on their own streams. (replicated's default
  # is --use_nccl, which makes no copies: the copy all-reduce is named, with its K=8 baseline.)
  sfb --num_devices 8 --batch_size 128 --variable_update replicated --all_reduce_spec copy \
    --json "$out/tower_replicated_copy_8x128.json"
  sfb --num_devices 4 --batch_size 128 --variable_update replicated --all_reduce_spec copy \
    --inbound_copy_streams --json "$out/tower_replicated_copy_4x128_inbound.json"
  sfb --num_devices 8 --batch_size 128 --variable_update replicated --all_reduce_spec copy \
    --inbound_copy_streams --json "$out/tower_replicated_copy_8x128_inbound.json"
  sfb --num_devices 4 --batch_size 128 --explain --variable_update parameter_server \
    --local_parameter_device gpu --ps_strategy greedy --inbound_copy_streams \
    --json "$out/tower_ps_gpu_4x128_inbound_explain.json"
  echo "sf-bench done at +$(( $(date +%s) - t0 ))s"
  if [ $towers_only = 0 ]; then
    gbench devices 30 'Cuda|Gpu'
    gbench init 20 'Gpu'
  fi
  # Last (the longest): the training issue's GPU accuracy target, >= 0.916 test accuracy
  # within 15 epochs, with whatever time is left.
  # (Run 3 took 92 s: started with less than 120 s left it would only be cut off.)
  if [ $towers_only = 1 ]; then
    :
  elif [ -f "$fmnist/train-images-idx3-ubyte.gz" ]; then
    if [ $((deadline - $(date +%s))) -ge 135 ]; then
      train sf_train_gpu_15_epochs 600 --epochs 15
    else
      echo "sf-train sf_train_gpu_15_epochs.json (under 120 s left)" >>"$out/skipped.txt"
    fi
  fi
fi

# ---------------------------------------------------------------- 6. summary
echo
echo "==================== gpu-check summary ===================="
echo "GPU: $(cat "$out/gpu.txt" | head -1)"
echo "build: ${build_s}s (sm_90), tests rc=$test_rc, benchmarks rc=$bench_rc"
grep -E "tests passed" "$out/tests.log" | tail -1
grep -cE "\(Skipped\)" "$out/tests.log" | sed 's/^/skipped tests: /'
echo "wall: $(( $(date +%s) - t0 ))s"
[ -f "$out/skipped.txt" ] && sed 's/^/skipped (out of time): /' "$out/skipped.txt"
if [ $run_bench = 1 ] && [ $towers_only = 0 ]; then
  [ -f "$out/sf_train_gpu.json" ] || echo "sf-train gpu: $(tail -1 "$out/sf_train_gpu.txt")"
  [ -f "$out/pytorch_fashion_cnn.json" ] ||
    echo "pytorch peer: $(tail -1 "$out/pytorch_fashion_cnn.txt")"
  for k in 1 2; do
    [ -f "$out/tutorial_cifar10_gpu$k.json" ] &&
      python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('cifar10 tutorial, %d tower(s): %.0f images/sec, precision @ 1 %.3f' % (d['num_gpus'], d['images_per_sec'], d.get('precision_at_1', float('nan'))))" "$out/tutorial_cifar10_gpu$k.json"
  done
fi
jsons=$(ls "$out"/bench_*.json $(ls "$out"/sf_train_gpu*.json 2>/dev/null | grep -v _trace) "$out"/pytorch_fashion_cnn.json \
  $(ls "$out"/tower_*.json 2>/dev/null | grep -v _trace) "$out"/allreduce_*.json 2>/dev/null)
[ -n "$jsons" ] && python3 scripts/bench_summary.py $jsons
[ $test_rc = 0 ] && [ $bench_rc = 0 ]
