#!/usr/bin/env bash
# "Was there any improvement?" — trains each of the seed's variants for the same wall-clock budget on the built-in
# data (one after another, nothing else running), evaluates each with the same settings, and writes the comparison.
#   bash bench/compare_variants.sh [MINUTES=5] [OUT=runs/compare]
set -euo pipefail
cd "$(dirname "$0")/.."
MIN=${1:-5}
OUT=${2:-runs/compare}
for m in dcgan dcgan-fm dcgan-mbd dcgan-ssl dcgan-128; do
  npx ganc run "models/$m.ts" --out "$OUT/$m" --max-minutes "$MIN" --steps 1000000 --sample-every 25 --ckpt-every 25 --force
  npx ganc eval "$OUT/$m" -n 500
done
npx ganc compare "$OUT"/dcgan "$OUT"/dcgan-fm "$OUT"/dcgan-mbd "$OUT"/dcgan-ssl "$OUT"/dcgan-128 -o "$OUT/report.html"
