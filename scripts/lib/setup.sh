# shellcheck shell=bash
# Shared by scripts/start.sh and scripts/test.sh: install what is missing, skip what is there.
# Source it from the repository root with `set -euo pipefail` in effect.

# rustup's default location, for shells that do not have it on PATH yet
if [ -d "$HOME/.cargo/bin" ] && [[ ":$PATH:" != *":$HOME/.cargo/bin:"* ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
warn() { printf '\033[33mwarning: %s\033[0m\n' "$*" >&2; }
die() {
  printf '\033[31merror: %s\033[0m\n' "$*" >&2
  exit 1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

APT_UPDATED=0
# ensure_apt_packages PKG... : installs the Debian packages that `dpkg -s` says are missing.
ensure_apt_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get: install them by hand"
  log "installing Debian packages: ${missing[*]}"
  if [ "$APT_UPDATED" -eq 0 ]; then
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Build prerequisites of the Rust workspace (a C compiler for bundled SQLite, pkg-config).
ensure_build_deps() {
  ensure_apt_packages pkg-config build-essential curl ca-certificates
  # The compositor (crates/oriel-compositor) links GStreamer 1.22 and needs these elements at
  # run time: compositor, audiomixer, textoverlay (gstreamer1.0-x), vp8dec, x264enc, avenc_aac,
  # splitmuxsink, mpegtsmux, rtmp2sink. ffmpeg (ffprobe) checks its output in the tests.
  ensure_apt_packages libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev \
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
    gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x ffmpeg
}

# Rust through rustup, only when cargo is absent; rustfmt and clippy components when missing.
ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    if ! command -v rustup >/dev/null 2>&1; then
      log "installing Rust with rustup (cargo not found)"
      curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        sh -s -- -y --profile minimal --component rustfmt,clippy ||
        die "could not install Rust with rustup; install a Rust toolchain (1.85 or newer) by hand"
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      log "installing the stable Rust toolchain with rustup"
      rustup toolchain install stable --profile minimal --component rustfmt,clippy
    fi
  fi
  command -v cargo >/dev/null 2>&1 || die "cargo is still not on PATH"
}

ensure_rust_lint_tools() {
  local c
  for c in fmt clippy; do
    if ! cargo "$c" --version >/dev/null 2>&1; then
      command -v rustup >/dev/null 2>&1 || die "cargo $c is missing and rustup is not available to add it"
      log "adding the rustup component for cargo $c"
      if [ "$c" = fmt ]; then rustup component add rustfmt; else rustup component add clippy; fi
    fi
  done
}

# Node.js 20 or newer and npm, for the integration tests. A machine that already has them (from
# any source) is left alone; otherwise Debian's packages are installed.
ensure_node() {
  local major=0
  if command -v node >/dev/null 2>&1; then
    major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  fi
  if [ "$major" -lt 20 ] || ! command -v npm >/dev/null 2>&1; then
    if [ "$major" -ge 20 ]; then
      ensure_apt_packages npm
    else
      ensure_apt_packages nodejs npm
    fi
    major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  fi
  command -v npm >/dev/null 2>&1 || die "npm not found"
  [ "$major" -ge 20 ] || die "Node.js 20 or newer is needed for the tests; found $(node --version 2>/dev/null || echo none)"
}
