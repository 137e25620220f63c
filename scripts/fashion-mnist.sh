#!/usr/bin/env bash
# Make Fashion-MNIST available offline. Debian packages it (dataset-fashion-mnist, files in
# /usr/share/datasets/fashion-mnist); elsewhere gankit lets torchvision download it on first use.
set -euo pipefail
dir=/usr/share/datasets/fashion-mnist
if [ -f "$dir/train-images-idx3-ubyte.gz" ]; then
  echo "Fashion-MNIST: found in $dir"
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Fashion-MNIST: installing the Debian package dataset-fashion-mnist"
  $sudo apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
    || { $sudo apt-get update -qq && $sudo apt-get install -y -qq dataset-fashion-mnist; }
else
  echo "Fashion-MNIST: no apt-get here; torchvision will download it on first use (needs network)"
fi
