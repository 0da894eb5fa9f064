#!/usr/bin/env bash
# bench/gpu.sh: the per-backend bench (bench/backends.py), then packed trials'
# throughput (bench/throughput.py), with JAX as the
# backend, on a machine that has JAX but no TensorFlow, Keras or keras-tuner
# and no network (this project's GPU machine: JAX, PyTorch, pandas, scipy,
# scikit-learn, matplotlib, grpcio and tensorboard are there).
#
#   bench/gpu.sh fetch   # here, with a network: the missing wheels into .whl/
#   bench/gpu.sh         # there: installs .whl/, runs the benches (about 3 + 3 minutes
#                        # on a GPU; 5 at most), writes its table
#
# With this workplace's device tool: here `echo /.whl/ >> .git/info/exclude`
# and `bench/gpu.sh fetch`, then run `bench/gpu.sh` there with carry [".whl"];
# the results come back as $OUT/results.md (copy it over bench/results.md).
#
# The table is a section of results.md: bench/results.md, or $OUT/results.md
# (a copy of bench/results.md with the section added) when OUT is set.
# Settings: PYTHON (default python3), WHEELS (default .whl), BACKENDS
# (default jax; jax,torch where torch is there too), PY_VERSION (fetch's
# target Python, default 3.12), SMOKE=1 (tiny settings), LIMIT (seconds,
# default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
# What the GPU machine lacks: Keras, Keras Tuner and their small dependencies
# (the others, numpy, rich, h5py, ml-dtypes, absl-py, requests, grpcio and
# protobuf, are there). The versions CI tests.
PACKAGES=(keras==3.15.1 keras-tuner==1.4.8 kt-legacy==1.0.5 namex==0.1.0 optree==0.20.0)

if [ "${1:-}" = fetch ]; then
    platforms=()
    for n in 2_28 2_27 2_24 2_17 2014 1; do
        case $n in 2014|1) platforms+=(--platform "manylinux${n}_x86_64") ;;
                   *) platforms+=(--platform "manylinux_${n}_x86_64") ;;
        esac
    done
    "$PYTHON" -m pip download --no-deps --only-binary=:all: --implementation cp \
        --python-version "${PY_VERSION:-3.12}" "${platforms[@]}" -d "$WHEELS" "${PACKAGES[@]}"
    ls -l "$WHEELS"
    exit 0
fi

site="$(mktemp -d)/site"
"$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$site" "$WHEELS"/*.whl
export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false TF_CPP_MIN_LOG_LEVEL=2
"$PYTHON" -c "import jax, keras, keras_tuner; print('jax', jax.__version__, jax.devices(),
'keras', keras.__version__, 'keras-tuner', keras_tuner.__version__)"

results=bench/results.md
if [ -n "${OUT:-}" ]; then
    results="$OUT/results.md"
    cp bench/results.md "$results"
fi
timeout "${LIMIT:-300}" "$PYTHON" -m bench.backends --backends "${BACKENDS:-jax}" \
    --out "$results" ${SMOKE:+--smoke}
# Then packed trials' training throughput, K = 1, 2, 4, 8, 16 (issue 13's
# measurement for an accelerator), into the same results file.
if [ -n "${SMOKE:-}" ]; then
    throughput=(--packs 1,2 --workloads default --epochs 1)
else
    throughput=(--packs 1,2,4,8,16)
fi
timeout "${LIMIT:-300}" "$PYTHON" -m bench.throughput "${throughput[@]}" --out "$results"
