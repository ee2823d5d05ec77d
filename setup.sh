#!/usr/bin/env bash
# Set up counter-kiosk on Debian 12 / Raspberry Pi OS and run it.
#
#   ./setup.sh demo   system packages + .venv, then one counter in simulation
#   ./setup.sh test   system packages + .venv, then ruff, mypy, lint-imports and the tests
#   ./setup.sh deps   system packages + .venv only
#
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")"

mode="${1:-demo}"
shift || true

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# What the counter needs to run (demo): python3-venv for the venv; a CJK font so Chinese
# renders (hanazono: rare name characters); the GL/SDL libraries Kivy's wheel loads at
# run time (libgl1-mesa-dri: Mesa's drivers, also the software renderer under Xvfb);
# alsa-utils: aplay for the voice clips.
RUN_PACKAGES=(python3 python3-venv python3-dev fonts-wqy-microhei fonts-hanazono
              libgl1 libegl1 libgles2 libgl1-mesa-dri libmtdev1 libsdl2-2.0-0 alsa-utils
              sqlite3 git)
# What the tests need besides: mosquitto and openssl for the sync tests; xvfb/xauth for
# the UI tests; systemd (systemd-analyze works without systemd as PID 1), passwd and
# cloud-init for the deployment tests; postgresql: the HQ store's tests start a throwaway
# cluster (initdb/pg_ctl) besides SQLite; dosfstools, mtools and fdisk: the image's disk
# layout (tests/test_image.py); chromium: the HQ console's browser tests (Playwright).
TEST_PACKAGES=(mosquitto openssl xvfb xauth systemd passwd cloud-init postgresql
               dosfstools mtools fdisk chromium)

APT_PACKAGES=("${RUN_PACKAGES[@]}")
if [ "$mode" != "demo" ]; then APT_PACKAGES+=("${TEST_PACKAGES[@]}"); fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  if [[ " ${missing[*]} " == *" postgresql "* ]] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    # The tests start their own throwaway cluster; do not leave a system one running.
    $SUDO mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" |
      $SUDO tee /etc/postgresql-common/createcluster.d/00-counter-kiosk.conf >/dev/null
  fi
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
fi

PY=/usr/bin/python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(cat requirements.lock requirements-hq.lock requirements-dev.lock pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q -r requirements-dev.lock
  .venv/bin/python -m pip install -q --no-deps -e .
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# The official AsyncAPI 3.0 JSON Schema (npm package @asyncapi/specs) for the test that
# validates docs/asyncapi.yaml: fetched once into .cache/ with the npm client where there
# is one, and checked against the pinned sha512. Without npm the test says it skipped.
ASYNCAPI_SPECS=6.11.1
ASYNCAPI_SCHEMA=.cache/asyncapi-specs-$ASYNCAPI_SPECS/3.0.0.json
if [ ! -f "$ASYNCAPI_SCHEMA" ] && command -v npm >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  if (cd "$tmp" && npm pack --silent "@asyncapi/specs@$ASYNCAPI_SPECS" >/dev/null 2>&1); then
    .venv/bin/python - "$tmp/asyncapi-specs-$ASYNCAPI_SPECS.tgz" "$ASYNCAPI_SCHEMA" <<'PY' ||
import base64, hashlib, pathlib, sys, tarfile
tgz, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
want = "A3WBLqAKGoJ2+6FWFtpjBlCQ1oFCcs4GxF7zsIGvNqp/klGUHjlA3aAcZ9XMMpLGE8zPeYDz2x9FmO6DSuKraQ=="
if base64.b64encode(hashlib.sha512(tgz.read_bytes()).digest()).decode() != want:
    sys.exit(f"{tgz.name}: sha512 does not match the pinned integrity")
member = tarfile.open(tgz).extractfile("package/schemas/3.0.0.json")
dest.parent.mkdir(parents=True, exist_ok=True)
dest.write_bytes(member.read())
PY
      echo "setup: @asyncapi/specs $ASYNCAPI_SPECS failed its integrity check" >&2
  fi
  rm -rf "$tmp"
fi
[ -f "$ASYNCAPI_SCHEMA" ] || echo "setup: no AsyncAPI schema (needs npm); that one test will skip" >&2

# ECharts for the HQ console's report charts, served by the console itself (no CDN).
.venv/bin/python tools/vendor_echarts.py || echo "setup: ECharts failed its check; charts stay off" >&2

case "$mode" in
  deps) ;;
  demo)
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
      exec .venv/bin/kiosk run --config config.toml --simulate "$@"
    else
      echo "setup: no display here; running headless (drive it with .venv/bin/kiosk sim ...)"
      exec .venv/bin/kiosk run --config config.toml --simulate --headless "$@"
    fi
    ;;
  test)
    .venv/bin/ruff check .
    .venv/bin/mypy
    .venv/bin/lint-imports --no-cache  # the layer contracts in pyproject.toml
    exec .venv/bin/python -m pytest "$@"
    ;;
  *)
    echo "usage: ./setup.sh demo|test|deps" >&2
    exit 2
    ;;
esac
