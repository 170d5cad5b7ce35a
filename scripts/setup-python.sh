#!/usr/bin/env bash
# Create the project's virtualenv in .venv (git-ignored) and install the
# package with its test and dev extras. Re-running only installs what changed.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"
if [[ ! -x .venv/bin/python ]]; then
  log "creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [[ ! -f $stamp ]]; then
  log "installing kata-deploy and its test dependencies into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check -e '.[test,dev]'
  rm -f .venv/.installed-* && touch "$stamp"
fi
