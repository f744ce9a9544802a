#!/usr/bin/env bash
# The HTML report of the f32 benchmark pair with charts and the weight analyses: its size
# (target < 2 MB), how long headless Chromium takes to parse and load it (target < 1 s), and
# the screenshot in docs/report.png. Needs bench/data/f32 (bench/run.sh writes it) and chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
data=bench/data/f32
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s.%N)
target/release/diffai "$data/old.safetensors" "$data/new.safetensors" -o json \
  --generate-report "$out/report.html" --include-charts --review-friendly \
  --show-structure --change-summary --show-size-reduction --memory-analysis \
  --param-efficiency-analysis --quantization-analysis --anomaly-detection \
  --architecture-comparison --inference-speed-estimate --performance-impact-estimate \
  --gradient-analysis --embedding-analysis --clustering-change --low-rank-analysis \
  --regression-test --deployment-readiness >/dev/null || [ $? -le 3 ]  # 1: differ, 3: a gate failed
end=$(date +%s.%N)
bytes=$(stat -c %s "$out/report.html")
echo "diffai with the report: $(echo "$end - $start" | bc) s"
echo "report size: $bytes bytes ($(echo "scale=2; $bytes / 1000000" | bc) MB; target < 2 MB)"
# Times from navigation start, recorded by the page itself: parsed (end of body) and loaded.
probe='<script>document.body.setAttribute("data-parsed-ms",performance.now());window.addEventListener("load",function(){document.body.setAttribute("data-loaded-ms",performance.now());});</script>'
sed "s|</body>|$probe</body>|" "$out/report.html" >"$out/probe.html"
flags=(--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking
       --user-data-dir="$out/profile")
chromium "${flags[@]}" --dump-dom "file://$out/probe.html" 2>/dev/null \
  | grep -o 'data-[a-z]*-ms="[0-9.]*"' | sed 's/^data-/in chromium: /'
chromium "${flags[@]}" --hide-scrollbars --window-size=1280,2400 \
  --screenshot="$PWD/docs/report.png" "file://$out/report.html" 2>/dev/null
echo "screenshot: docs/report.png"
