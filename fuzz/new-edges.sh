#!/usr/bin/env bash
# Where the coverage edges a fuzzing run found after loading its corpus are in the source:
#
#   fuzz/new-edges.sh LOG
#
# LOG is the output of a run with -print_pcs=1 (campaign.sh writes one). Each line counts the
# new edges in one file of diffai's own crates, in one dependency (by crate and version), in
# the standard library, or in the standard library's HashMap, whose probing depends on hash keys
# that are random per map (so those edges come from chance, not only from the input).
set -euo pipefail
awk '/INITED/ { inited = 1 }
    inited && /NEW_PC:/ {
        if ($0 ~ /\/rust\/deps\/hashbrown/) where = "std HashMap"
        else if ($0 ~ /\/rustc\/|\/rust\/deps\//) where = "std"
        else if (match($0, /registry\/src\/[^\/]+\/[^\/]+/)) {
            where = substr($0, RSTART, RLENGTH)
            sub(/.*\//, "", where)
        } else if (match($0, /crates\/diffai[a-z-]*\/src\/[^:]*/)) where = substr($0, RSTART, RLENGTH)
        else where = "other"
        n[where]++
    }
    END { for (w in n) printf "%6d new edges in %s\n", n[w], w }' "${1:?usage: new-edges.sh LOG}" | sort -rn
