#!/usr/bin/env bash
# Compares two finished corrsteer runs that should hold the same collection, e.g. a one-process run
# and a merge of shards:
#
#   scripts/cluster/compare-runs.sh [--corrsteer BIN] [--rel TOL] [--features-rel TOL] RUN_A RUN_B
#
# 1. statistics (stats/checkpoint.json and every stats/<folder>/layer_L.safetensors): the same
#    samples_done and successes, the same layers, tensors, dtypes and shapes; integer tensors (counts)
#    byte-identical; float tensors (sums) equal within a relative TOL (default 1e-12: the sums differ
#    only by float64 addition order). Metadata is not compared.
# 2. features.json (run `corrsteer select` on both first): the selected feature of every layer
#    identical (read with `corrsteer features`, when --corrsteer is given), and the whole file equal
#    line by line, numbers within --features-rel (default 1e-9: r and coefficients are computed
#    from the sums), ignoring timing fields (keys matching seconds|created|time|date).
#
# Needs bash, GNU od and awk only. Prints one line per check and `compare: OK` or `compare: DIFFERENT`;
# exits 0 when the runs agree, 1 when they differ, 2 on bad input.
set -euo pipefail

REL=1e-12
FEATURES_REL=1e-9
CORRSTEER=
while (($# > 2)); do
    case $1 in
        --rel) REL=$2; shift 2 ;;
        --features-rel) FEATURES_REL=$2; shift 2 ;;
        --corrsteer) CORRSTEER=$2; shift 2 ;;
        *) break ;;
    esac
done
(($# == 2)) || { echo "usage: $0 [--corrsteer BIN] [--rel TOL] [--features-rel TOL] RUN_A RUN_B" >&2; exit 2; }
A=$1 B=$2
failures=0
# The first 12 differences are printed; the rest only counted.
fail() {
    failures=$((failures + 1))
    if ((failures <= 12)); then echo "  DIFFERENT: $*"; elif ((failures == 13)); then echo "  DIFFERENT: … (further differences only counted)"; fi
}
bad_input() { echo "compare: error: $*" >&2; exit 2; }

# checkpoint.json field (numbers and strings on one line each, as corrsteer writes it).
field() { sed -n "s/^ *\"$2\" *: *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\} *$/\1/p" "$1/stats/checkpoint.json" | head -1; }

# One line per tensor of a safetensors file: name dtype shape start end (offsets from the data start),
# then a line `data <offset of the data section>`.
tensors() {
    local file=$1 size
    size=$(od -An -v -tu8 -N8 "$file" | tr -d ' ')
    [[ $size =~ ^[0-9]+$ ]] || bad_input "$file: not a safetensors file"
    dd if="$file" bs=1 skip=8 count="$size" status=none | awk -v data=$((8 + size)) '
        {
            text = $0
            sub(/"__metadata__" *: *\{[^}]*\} *,?/, "", text)
            while (match(text, /"[^"]+" *: *\{[^}]*\}/)) {
                entry = substr(text, RSTART, RLENGTH); text = substr(text, RSTART + RLENGTH)
                name = entry; sub(/^"/, "", name); sub(/".*/, "", name)
                dtype = entry; sub(/.*"dtype" *: *"/, "", dtype); sub(/".*/, "", dtype)
                shape = entry; sub(/.*"shape" *: *\[/, "", shape); sub(/\].*/, "", shape); gsub(/ /, "", shape)
                offsets = entry; sub(/.*"data_offsets" *: *\[/, "", offsets); sub(/\].*/, "", offsets); gsub(/ /, "", offsets)
                split(offsets, o, ",")
                print name, dtype, "[" shape "]", o[1], o[2]
            }
        }
        END { print "data", data }' | sort
}

# The values of one tensor, one per line (floats in shortest round-trip form).
values() {
    local file=$1 dtype=$2 start=$3 end=$4 data=$5 type
    case $dtype in
        F64) type=f8 ;; F32) type=f4 ;; I64) type=d8 ;; I32) type=d4 ;; U8) type=u1 ;;
        *) bad_input "$file: dtype $dtype not supported" ;;
    esac
    ((end > start)) || return 0
    od -An -v -w8 -t$type -j $((data + start)) -N $((end - start)) "$file" | tr -s ' ' '\n' | sed '/^$/d'
}

echo "compare: $A"
echo "   with: $B"

# 1. Statistics.
for run in "$A" "$B"; do
    [[ -f $run/stats/checkpoint.json ]] || bad_input "$run: no stats/checkpoint.json (not a collected run)"
    [[ -f $run/stats/complete ]] || fail "$run: no stats/complete (collection not finished)"
done
for key in samples_done successes complete; do
    va=$(field "$A" $key) vb=$(field "$B" $key)
    if [[ $va == "$vb" ]]; then echo "  checkpoint $key: $va"; else fail "checkpoint $key: $va vs $vb"; fi
done
folder_a=$A/stats/$(field "$A" folder) folder_b=$B/stats/$(field "$B" folder)
layers_a=$(cd "$folder_a" && ls layer_*.safetensors | sort -V | tr '\n' ' ')
layers_b=$(cd "$folder_b" && ls layer_*.safetensors | sort -V | tr '\n' ' ')
[[ $layers_a == "$layers_b" ]] || fail "layer files: $layers_a vs $layers_b"
[[ -n $layers_a ]] || bad_input "$folder_a: no layer_*.safetensors"

total_float=0 total_int=0 int_bad=0 worst=0 worst_where="-"
for layer in $layers_a; do
    fa=$folder_a/$layer fb=$folder_b/$layer
    [[ -f $fb ]] || continue
    ta=$(tensors "$fa") tb=$(tensors "$fb")
    data_a=$(awk '$1 == "data" {print $2}' <<<"$ta") data_b=$(awk '$1 == "data" {print $2}' <<<"$tb")
    # Same tensor names, dtypes and shapes (offsets may differ).
    sig_a=$(awk '$1 != "data" {print $1, $2, $3}' <<<"$ta") sig_b=$(awk '$1 != "data" {print $1, $2, $3}' <<<"$tb")
    if [[ $sig_a != "$sig_b" ]]; then
        fail "$layer: tensors differ: $(diff <(echo "$sig_a") <(echo "$sig_b") | grep '^[<>]' | tr '\n' ' ')"
        continue
    fi
    while read -r name dtype _ start end; do
        [[ $name == data ]] && continue
        read -r _ _ _ start_b end_b < <(awk -v n="$name" '$1 == n' <<<"$tb")
        result=$(paste -d ' ' <(values "$fa" "$dtype" "$start" "$end" "$data_a") \
                              <(values "$fb" "$dtype" "$start_b" "$end_b" "$data_b") |
            awk -v exact="$([[ $dtype == I* || $dtype == U* ]] && echo 1 || echo 0)" -v rel="$REL" '
                function abs(v) { return v < 0 ? -v : v }
                {
                    count++
                    if (NF != 2) { bad++; if (!first) first = NR ": length differs"; next }
                    if ($1 == $2) next
                    if (exact) { bad++; if (!first) first = "[" NR - 1 "]: " $1 " vs " $2; next }
                    a = $1 + 0; b = $2 + 0; d = abs(a - b); m = abs(a) > abs(b) ? abs(a) : abs(b)
                    r = m > 0 ? d / m : 0
                    if (r > worst) worst = r
                    if (r > rel || ($1 ~ /n/ || $2 ~ /n/)) { bad++; if (!first) first = "[" NR - 1 "]: " $1 " vs " $2 }
                }
                END { printf "%d %d %.3g %s\n", count, bad, worst, first }')
        read -r count bad diff where <<<"$result"
        if [[ $dtype == I* || $dtype == U* ]]; then total_int=$((total_int + count)); else total_float=$((total_float + count)); fi
        if ((bad > 0)); then
            fail "${layer%.safetensors} $name: $bad of $count values differ, first $where"
            [[ $dtype == I* || $dtype == U* ]] && int_bad=$((int_bad + bad))
        fi
        if awk -v d="$diff" -v w="$worst" 'BEGIN { exit !(d > w) }'; then worst=$diff worst_where="${layer%.safetensors} $name"; fi
    done <<<"$ta"
done
nlayers=$(wc -w <<<"$layers_a")
echo "  statistics: $nlayers layers; $total_int counts, $int_bad differ; $total_float sums, largest relative difference $worst ($worst_where), tolerance $REL"

# 2. Selected features.
if [[ -f $A/features.json || -f $B/features.json ]]; then
    [[ -f $A/features.json && -f $B/features.json ]] || fail "features.json exists in only one run (run corrsteer select on both)"
fi
if [[ -f $A/features.json && -f $B/features.json ]]; then
    if [[ -n $CORRSTEER ]]; then
        # `corrsteer features` table: layer site rank feature r coefficient ...
        sel_a=$("$CORRSTEER" features "$A" | awk 'NR > 1 {printf "L%s:%s ", $1, $4}')
        sel_b=$("$CORRSTEER" features "$B" | awk 'NR > 1 {printf "L%s:%s ", $1, $4}')
        if [[ $sel_a == "$sel_b" && -n $sel_a ]]; then echo "  selected features (layer:feature): $sel_a"
        else fail "selected features: $sel_a vs $sel_b"; fi
    fi
    result=$(paste -d '\t' <(grep -Ev '"[a-z_]*(seconds|created|time|date)[a-z_]*" *:' "$A/features.json") \
                           <(grep -Ev '"[a-z_]*(seconds|created|time|date)[a-z_]*" *:' "$B/features.json") |
        awk -F '\t' -v rel="$FEATURES_REL" '
            function abs(v) { return v < 0 ? -v : v }
            function value(s) { sub(/^[^:]*: */, "", s); sub(/,? *$/, "", s); return s }
            function key(s) { sub(/ *:.*/, "", s); gsub(/^ +/, "", s); return s }
            {
                lines++
                if ($1 == $2) next
                va = value($1); vb = value($2)
                number = "^-?[0-9][0-9.]*([eE][-+]?[0-9]+)?$"
                if (key($1) == key($2) && va ~ number && vb ~ number) {
                    a = va + 0; b = vb + 0; m = abs(a) > abs(b) ? abs(a) : abs(b); r = m > 0 ? abs(a - b) / m : 0
                    if (r > worst) worst = r
                    if (r <= rel) { numeric++; next }
                }
                bad++; if (!first) first = "line " NR ": " $1 " | " $2
            }
            END { printf "%d %d %d %.3g\t%s\n", lines, bad, numeric, worst, first }')
    read -r lines bad numeric fworst <<<"${result%%$'\t'*}"
    if ((bad > 0)); then fail "features.json: $bad of $lines lines differ, first ${result#*$'\t'}"
    else echo "  features.json: $lines lines equal ($numeric numbers differ in the last digits, largest relative difference $fworst, tolerance $FEATURES_REL)"; fi
fi

if ((failures == 0)); then echo "compare: OK"; else echo "compare: DIFFERENT ($failures checks failed)"; exit 1; fi
