#!/usr/bin/env bash
# Debian's headless Chromium and its driver, for the web page's end-to-end test
# (tests/test_web.py skips it, with the reason, where they are missing).
set -uo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  echo "chromium: found $(command -v chromium)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: no apt-get here; the browser test will be skipped"
  exit 0
fi
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "chromium: installing the Debian packages chromium and chromium-driver"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
  || { $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium chromium-driver >/dev/null; } \
  || echo "chromium: could not install it; the browser test will be skipped"
exit 0
