#!/usr/bin/env bash
# Installs what keywarden's tests need on a fresh Debian machine, and checks
# what cannot be installed here. Safe to run again: it installs only what is
# missing. Used by `make test` and by CI (.ci/run).
set -euo pipefail

need_apt=()
faketime_lib() {
	ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1
}
[ -n "$(faketime_lib)" ] || need_apt+=(faketime)
# Debian's Chromium for the HTML report's browser test (chromedp drives it).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)

if [ ${#need_apt[@]} -gt 0 ]; then
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || { echo "test-deps: need root (or sudo) to install: ${need_apt[*]}" >&2; exit 1; }
		SUDO="sudo"
	fi
	echo "test-deps: installing ${need_apt[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	if ! $SUDO apt-get install -y --no-install-recommends "${need_apt[@]}" >/dev/null 2>&1; then
		$SUDO apt-get update -qq >/dev/null
		$SUDO apt-get install -y --no-install-recommends "${need_apt[@]}" >/dev/null
	fi
fi

# moto server comes with the machine (PyPI is not reachable to install it).
if ! python3 -c 'import moto.server' 2>/dev/null; then
	echo "test-deps: moto server is missing: install it with 'pip install \"moto[server]\"'" >&2
	[ -z "${CI:-}" ] || exit 1
fi

# Terraform and cfn-lint, for the deployment templates' tests (deploy/).
# Neither can be installed from here: Terraform is not a Debian package and
# `go install github.com/hashicorp/terraform@v1.11.4` fails (its go.mod
# replaces nested modules that the module proxy's zip leaves out); cfn-lint
# comes from PyPI only.
if ! command -v terraform >/dev/null; then
	echo "test-deps: terraform is missing: install Terraform 1.5 or later from HashiCorp's releases or apt repository (deploy/ tests run it offline, without providers)" >&2
	[ -z "${CI:-}" ] || exit 1
fi
if ! command -v cfn-lint >/dev/null; then
	echo "test-deps: cfn-lint is missing: install it with 'pip install cfn-lint' (deploy/ tests lint the CloudFormation templates with it)" >&2
	[ -z "${CI:-}" ] || exit 1
fi

go mod download
echo "test-deps: ok (faketime: $(faketime_lib), moto: $(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || echo missing), chromium: $(/usr/bin/chromium --version 2>/dev/null || echo missing), terraform: $(terraform version 2>/dev/null | head -1 || echo missing), cfn-lint: $(cfn-lint --version 2>/dev/null || echo missing))" >&2
