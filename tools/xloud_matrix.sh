#!/usr/bin/env bash
# tox -e matrix: the heavy test matrix, outside the default list. For every
# series under patches/ (or the ones named as arguments): upstream's whole
# unit suite and the whole functional selection on the patched tree, and
# the same on pristine upstream under the same pins, so an upstream test
# failing on the patched tree can be told from upstream's own failure.
# Every series and env has its own venv (tox.ini: env_dir per series).
# Goes on past a failing env and exits non-zero at the end if any failed.
set -u
cd "$(dirname "$0")/.." || exit 1
if [ "$#" -gt 0 ]; then
    series=("$@")
else
    series=()
    for pin in patches/*/UPSTREAM; do
        series+=("$(basename "$(dirname "$pin")")")
    done
fi
tox_cmd=(tox)
command -v tox >/dev/null 2>&1 || tox_cmd=(python3 -m tox)
failed=()
for s in "${series[@]}"; do
    XLOUD_SERIES=$s python3 tools/xloud_pq.py summary --reset
    for env in unit functional pristine-unit pristine-functional; do
        start=$(date +%s)
        # the whole functional selection (the default list skips its
        # device and firmware tests: tox.ini [selection])
        if ! XLOUD_SERIES=$s XLOUD_FUNCTIONAL_SKIP= "${tox_cmd[@]}" -e "$env"; then
            failed+=("$s:$env")
        fi
        echo "matrix: $s $env $(( $(date +%s) - start )) s"
    done
done
python3 tools/xloud_pq.py summary --all
if [ "${#failed[@]}" -gt 0 ]; then
    echo "matrix: failed: ${failed[*]}" >&2
    exit 1
fi
