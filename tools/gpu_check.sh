#!/usr/bin/env bash
# This project's GPU figures in one command (the body: benchmarks/gpu_check/),
# on a CUDA machine that has its own PyTorch (>= 2.11, Python 3.12) and nothing
# else of ours.
#
#   tools/gpu_check.sh --fetch DIR              # beforehand, where PyPI is reachable:
#                                               # the missing wheels (~42 MB, no torch)
#   tools/gpu_check.sh --wheels DIR --out OUT   # on the GPU machine, offline: within
#                                               # 8 min, OUT/gpu_check.json and .md
#   tools/gpu_check.sh --dry-run --out OUT      # tiny sizes, any machine (the tests)
#
# --fetch DIR --full also fetches numpy, opencv-python-headless, scipy and
# pillow (~80 MB more), for a machine with a bare `pip install torch`.
# The wheels go into a temporary folder on PYTHONPATH (pip --target, --no-deps):
# the machine's own packages, torch first, are left as they are.
# Other flags go to the check: --device D, --budget S, --work DIR, --only SECTION...
# PYTHON (default python3) is the interpreter that has the machine's torch.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"

# The stack, pinned as requirements.txt pins it; always installed.
STACK=(mmengine==0.10.7 mmcv-lite==2.1.0 mmaction2==1.2.0 av==18.1.0)
# What the code path imports besides (pure Python, small); each installed only
# where the machine lacks it. The versions are those the tests run with.
# setuptools: Python 3.12 has no distutils, which mmengine's Runner imports.
SMALL=(addict==2.4.0 yapf==0.43.0 platformdirs==4.14.9 termcolor==3.3.0
    importlib_metadata==10.2.0 lazy-importer==0.1.0 zipp==4.1.2 einops==0.8.2
    rich==15.0.0 markdown-it-py==4.3.0 mdurl==0.1.2 pygments==2.21.0
    tqdm==4.70.1 pyyaml==6.0.4 packaging==26.4 setuptools==84.2.1)
# Compiled and large: GPU images ship them (--full fetches them anyway).
FULL=(numpy==2.4.6 opencv-python-headless==5.1.0.95 scipy==1.17.1
    pillow==13.0.0)
# What the check imports: the small ones imported here (a broken one shows
# now, not minutes in), the large ones only looked up.
LIGHT="yaml addict yapf termcolor rich einops importlib_metadata tqdm packaging"
HEAVY="torch numpy cv2 scipy PIL av mmengine mmcv mmaction"

die() { echo "error: gpu_check.sh: $*" >&2; exit 2; }

# The value of flag $1 (the next argument, $2).
value() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"; echo "$2"; }

fetch=""; wheels=""; out=""; full=0; dry=0; budget=""; pass=()
while [ $# -gt 0 ]; do
    case "$1" in
        --fetch) fetch="$(value "$@")"; shift 2 ;;
        --wheels) wheels="$(value "$@")"; shift 2 ;;
        --out) out="$(value "$@")"; shift 2 ;;
        --full) full=1; shift ;;
        --dry-run) dry=1; pass+=(--dry-run); shift ;;
        --budget) budget="$(value "$@")"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
        *) pass+=("$1"); shift ;;
    esac
done

if [ -n "$fetch" ]; then
    pkgs=("${STACK[@]}" "${SMALL[@]}")
    if [ "$full" = 1 ]; then pkgs+=("${FULL[@]}"); fi
    mkdir -p "$fetch"
    # CPython 3.12, manylinux x86_64; --no-deps: exactly this list, no torch.
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: \
        --python-version 3.12 --implementation cp --abi cp312 \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$fetch" "${pkgs[@]}"
    ls -1 "$fetch"
    du -sh "$fetch"
    echo "copy $fetch to the GPU machine, then: tools/gpu_check.sh --wheels DIR --out OUT"
    exit 0
fi

[ -n "$out" ] || die "--out OUT is required (or --fetch DIR)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

site=""
cleanup() { if [ -n "$site" ]; then rm -rf "$site"; fi; }
trap cleanup EXIT
if [ -n "$wheels" ]; then
    [ -d "$wheels" ] || die "--wheels $wheels: no such folder"
    ls "$wheels"/*.whl >/dev/null 2>&1 || die "--wheels $wheels: no .whl files"
    site="$(mktemp -d "${TMPDIR:-/tmp}/gpu_check_site.XXXXXX")"
    # The stack always; any other wheel only where the machine lacks it (its
    # own builds, compiled against its own numpy, stay in charge).
    mapfile -t todo < <("$PYTHON" - "$wheels" <<'EOF'
import glob, importlib.metadata as md, os, sys
stack = {'mmengine', 'mmcv-lite', 'mmaction2', 'av'}
for path in sorted(glob.glob(os.path.join(sys.argv[1], '*.whl'))):
    name = os.path.basename(path).split('-')[0].replace('_', '-').lower()
    if name == 'torch':
        continue
    try:
        md.version(name)
        if name not in stack:
            continue
    except md.PackageNotFoundError:
        pass
    print(path)
EOF
    )
    echo "installing ${#todo[@]} wheels into $site (--no-deps)"
    "$PYTHON" -m pip install -q --no-index --find-links "$wheels" --no-deps \
        --no-compile --target "$site" "${todo[@]}"
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"

# Every module the check imports, named when missing.
missing="$("$PYTHON" - $LIGHT -- $HEAVY <<'EOF'
import importlib, importlib.util, sys
light, heavy = ' '.join(sys.argv[1:]).split(' -- ')
bad = [m for m in heavy.split() if importlib.util.find_spec(m) is None]
for m in light.split():
    try:
        importlib.import_module(m)
    except Exception as e:
        bad.append(f'{m} ({type(e).__name__}: {e})')
print(', '.join(bad))
EOF
)"
[ -z "$missing" ] || die "missing or broken Python modules: $missing (fetch the wheels with: tools/gpu_check.sh --fetch DIR [--full]; then --wheels DIR)"

# The whole check within 8 minutes: what installing took, and 20 s for
# Python's start and the last report, come off the sections' budget.
if [ -z "$budget" ] && [ "$dry" = 0 ]; then
    budget=$((460 - SECONDS))
fi
if [ -n "$budget" ]; then pass+=(--budget "$budget"); fi

cd "$REPO"
set +e
PYTHONUNBUFFERED=1 "$PYTHON" -m benchmarks.gpu_check --out "$out" "${pass[@]}" \
    2>&1 | tee "$out/gpu_check.log"
status=${PIPESTATUS[0]}
set -e
echo "wrote $out/gpu_check.json, $out/gpu_check.md, $out/gpu_check.log"
exit "$status"
