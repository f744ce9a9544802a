#!/usr/bin/env bash
# One fuzzing run of a target, as the README's campaign table was measured:
#
#   fuzz/campaign.sh TARGET SECONDS [WORKDIR]
#
# Builds the targets (address sanitizer, debug assertions: an arithmetic overflow is a crash),
# fuzzes TARGET for SECONDS starting from its committed corpus, writing new inputs to
# WORKDIR/new-TARGET (default WORKDIR: /tmp/diffai-fuzz), samples libFuzzer's coverage once a
# minute into WORKDIR/cov-TARGET.tsv (unix time, runs, cov, ft), then prints how coverage grew and
# how long before the end the last new edge came ("plateaued" when none came in the last 10
# minutes), and counts where in the source the edges found after the corpus loaded are
# (new-edges.py, from libFuzzer's -print_pcs), with how long before the end the last edge outside
# hash-table probing came (whose branches depend on random hash keys). If the fuzzer stops on a
# finding, each input it wrote is replayed alone and its exit status and time printed. Merging what
# it found into the committed corpus is a separate step:
#
#   cargo +nightly fuzz run -O -a TARGET corpus/TARGET WORKDIR/new-TARGET -- -merge=1 -use_counters=0
#
# Needs cargo-fuzz and a nightly toolchain (see the README's Fuzzing section).
set -euo pipefail

target=${1:?usage: campaign.sh TARGET SECONDS [WORKDIR]}
seconds=${2:?usage: campaign.sh TARGET SECONDS [WORKDIR]}
work=${3:-/tmp/diffai-fuzz}
cd "$(dirname "$0")"
mkdir -p "$work/new-$target"
log="$work/fuzz-$target.log"
tsv="$work/cov-$target.tsv"
: >"$tsv"
# The fuzzing run and the replay of its findings judge an input by the same limits.
limits=(-rss_limit_mb=2048 -timeout=10)
# A target's dictionary of tokens (fuzz/dict/TARGET.dict), if it has one, guides the mutations.
dict=()
[[ -f "dict/$target.dict" ]] && dict=(-dict="dict/$target.dict")

cargo +nightly fuzz build -O -a "$target"
start=$(date +%s)
cargo +nightly fuzz run -O -a "$target" "$work/new-$target" "corpus/$target" -- \
    "${limits[@]}" "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 -print_pcs=1 \
    >"$log" 2>&1 &
fuzzer=$!

sample() {
    local line
    line=$(grep -a -E '^#[0-9]+[[:space:]]' "$log" | tail -n 1 || true)
    [[ $line =~ ^#([0-9]+).*cov:\ ([0-9]+)\ ft:\ ([0-9]+) ]] &&
        echo "$(date +%s) ${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]}" >>"$tsv"
    return 0
}
while kill -0 "$fuzzer" 2>/dev/null; do
    sample
    sleep 60
done
sample
status=0
wait "$fuzzer" || status=$?

awk -v target="$target" '
    NR == 1 { t0 = $1; r0 = $2; c0 = $3 }
    { t[NR] = $1; c[NR] = $3; runs = $2 }
    END {
        if (NR == 0) { print target ": no coverage sampled"; exit }
        last = t[1]
        for (i = 2; i <= NR; i++) if (c[i] != c[i - 1]) last = t[i]
        quiet = (t[NR] - last) / 60
        printf "%s: %.0f min, runs %d -> %d, cov %d -> %d, last new edge %.0f min before the end: %s\n",
            target, (t[NR] - t0) / 60, r0, runs, c0, c[NR], quiet,
            (quiet >= 10 ? "plateaued" : "still growing")
    }' "$tsv"
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
./new-edges.py "$log" "target/$host/release/$target" "$tsv" || echo "$target: where the new edges are: not counted" >&2

if [[ $status -ne 0 ]]; then
    echo "$target: the fuzzer stopped with status $status (a finding): see $log and artifacts/$target/" >&2
    # A timeout can also be the machine stalling (other load, a paused VM): each input the run
    # wrote is replayed alone, so a hang (slow again) shows apart from a stall (fast alone).
    while IFS= read -r -d '' artifact; do
        t0=$(date +%s%N)
        replay=0
        "target/$host/release/$target" "${limits[@]}" "$artifact" >/dev/null 2>&1 || replay=$?
        echo "$target: $artifact replayed alone: status $replay in $((($(date +%s%N) - t0) / 1000000)) ms" >&2
    done < <(find "artifacts/$target" -type f -newermt "@$start" -print0 2>/dev/null)
    exit 1
fi
