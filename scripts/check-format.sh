#!/usr/bin/env bash
# Fails when a C file differs from the committed .clang-format style.
#   bash scripts/check-format.sh         # check
#   bash scripts/check-format.sh --fix   # rewrite in place
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h')
[[ ${#files[@]} -eq 0 ]] && exit 0
if [[ "${1:-}" == "--fix" ]]; then
  clang-format -i "${files[@]}"
else
  clang-format --dry-run --Werror "${files[@]}"
fi
