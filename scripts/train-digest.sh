#!/usr/bin/env bash
# Train the tiny configs with every recipe and print what must not change across a refactor: each
# epoch's loss, dev score and learning rate, and the dev/test reports (timings dropped). Run it
# before and after a change and diff the outputs:
#   scripts/train-digest.sh target/release/nerco > before.json
set -euo pipefail
NERCO="${1:-target/release/nerco}"
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for cfg in tiny tiny-flat; do
  for recipe in nerco no-contrast joint no-filter; do
    "$NERCO" train --config "configs/$cfg.toml" --recipe "$recipe" --seed 42 \
      --out "$dir/$cfg-$recipe" > "$dir/$cfg-$recipe.log" 2>&1
  done
done
python3 - "$dir" <<'PY'
import json, os, sys
d = sys.argv[1]
out = {}
for name in sorted(x for x in os.listdir(d) if os.path.isdir(os.path.join(d, x))):
    m = json.load(open(os.path.join(d, name, "metrics.json")))
    out[name] = {
        "parameters": m["parameters"],
        "history": [{k: e[k] for k in ("phase", "epoch", "train_loss", "dev_score", "lr", "head_only")}
                    for e in m["history"]],
        "dev": m["dev"], "test": m["test"],
    }
print(json.dumps(out, indent=1, sort_keys=True))
PY
