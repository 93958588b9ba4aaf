#!/usr/bin/env bash
# Table I as the paper ran it, on one GPU (target: < 5 min on a modern GPU): all five
# backbones of the paper with its recipe and 160 epochs, ImageNet weights where this machine
# can load them (else trained from scratch, and the table's weights column says so), on the
# paper protocol (one 70/30 split) and on 5 honest folds, no crop.
#
#   scripts/gpu_table1.sh                    # after scripts/gpu_check.sh installed .venv-gpu
#   GPU_CHECK_CPU=1 BACKBONES=alexnet TORCH_EPOCHS=1 TORCH_FOLDS=2 scripts/gpu_table1.sh  # CPU rehearsal
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_table1}
if [ -z "${GPU_CHECK_CPU:-}" ] && [ -d .venv-gpu ]; then . .venv-gpu/bin/activate; fi
python -m experiments.paper \
  --table1_backbones="${BACKBONES:-alexnet,googlenet,vgg16,vgg19,efficientnet_b0}" --table2_backbones= \
  --torch_epochs="${TORCH_EPOCHS:-160}" --torch_folds="${TORCH_FOLDS:-5}" \
  --torch_weights=imagenet --weights_fallback \
  --crops=none --torch_crops=none --augment_methods=none \
  --n_repeats=1 --paper_splits=1 --vae_epochs=20 \
  --out_dir="$OUT"
echo "Table I: $OUT/table1.md"
