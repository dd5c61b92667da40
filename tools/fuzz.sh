#!/usr/bin/env bash
# Runs the firmware's libFuzzer targets (firmware/fuzz/) for MINUTES each, one after another,
# then the Python loaders under Hypothesis (tests/test_loader_fuzz.py, 5000 examples a test,
# repeated with new random inputs until MINUTES are up).
#   tools/fuzz.sh MINUTES [TARGET...]     targets: model frames text loaders (default: all four)
# Corpora grow in firmware/build/fuzz/corpus/TARGET (seeded by tools/fuzz_seeds.py from the repo's
# models and protocol exchanges); a crash is written to firmware/build/fuzz/crashes/TARGET/ and
# ends the script with status 1. Fix it in the C code, then copy the input to
# tests/data/fuzz/TARGET/: tests/test_fuzz.py replays every file there.
# Needs clang and libclang-rt-14-dev (tools/system-packages.txt). Runs under nice.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES="${1:?usage: tools/fuzz.sh MINUTES [model|frames|text|loaders ...]}"
shift
TARGETS=("${@:-model frames text loaders}")
read -r -a TARGETS <<< "${TARGETS[*]}"
OUT=firmware/build/fuzz
PYTHON="${PYTHON:-$(command -v python3)}"

make -s -C firmware/fuzz
"$PYTHON" tools/fuzz_seeds.py "$OUT/seeds"
status=0
fuzz_loaders() {
  local until=$(( $(date +%s) + MINUTES * 60 )) rounds=0
  while [ "$(date +%s)" -lt "$until" ]; do
    HYPOTHESIS_PROFILE=fuzz nice -n 15 "$PYTHON" -m pytest -q -p no:cacheprovider tests/test_loader_fuzz.py || return 1
    rounds=$((rounds + 1))
  done
  echo "loaders: $rounds rounds of 5000 examples per test, no traceback"
}

for target in "${TARGETS[@]}"; do
  if [ "$target" = loaders ]; then
    echo "== Python loaders for $MINUTES min"
    fuzz_loaders || status=1
    continue
  fi
  mkdir -p "$OUT/corpus/$target" "$OUT/crashes/$target"
  echo "== fuzz_$target for $MINUTES min"
  # -timeout: one input may take 10 s (an ASan build invoking a large model); -rss_limit_mb
  # bounds a leak. The corpus directory comes first: new inputs are saved there.
  if ! nice -n 15 "$OUT/fuzz_$target" -max_total_time=$((MINUTES * 60)) -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OUT/crashes/$target/" \
      "$OUT/corpus/$target" "$OUT/seeds/$target" 2> "$OUT/fuzz_$target.log"; then
    status=1
    echo "fuzz_$target FOUND A CRASH: $(ls "$OUT/crashes/$target")" >&2
  fi
  grep -E '^(#[0-9]+\s+DONE|Done|stat::number_of_executed_units|stat::average_exec_per_sec)' \
    "$OUT/fuzz_$target.log" || tail -n 30 "$OUT/fuzz_$target.log"
done
exit $status
