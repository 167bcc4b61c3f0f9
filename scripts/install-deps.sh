#!/usr/bin/env bash
# Installs every Debian package Sluice needs to build and test, and the npm
# packages of its JavaScript tests. Idempotent: it only calls apt or npm when
# something is missing, so `make` targets can run it every time.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build ccache clang libclang-rt-14-dev clang-format clang-tidy python3
  # libraries
  libboost1.81-dev libssl-dev zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev liburing-dev
  libfmt-dev libspdlog-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev librdkafka-dev
  nlohmann-json3-dev
  # the real Kafka clients the tests drive
  kcat python3-confluent-kafka python3-kafka
  # sarama (Go), built offline in GOPATH mode from Debian's source packages
  golang-go golang-github-shopify-sarama-dev
)
# Node.js may come from another repository (with npm bundled); only ask Debian
# for it when neither is present.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# kafkajs, pinned by tests/golden/package-lock.json, for the golden-frame
# capture and the integration tests.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -f "$repo/tests/golden/node_modules/kafkajs/package.json" ]; then
  echo "install-deps: installing kafkajs (npm ci in tests/golden)"
  (cd "$repo/tests/golden" && npm ci --no-audit --no-fund --loglevel=error)
fi
