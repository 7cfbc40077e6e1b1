#!/usr/bin/env bash
# Install the agent CLIs pinned in agents/versions.txt into .agents/ (ignored by git):
#   npm packages into the prefix .agents/npm, aider-chat into its own venv .agents/aider (its
#   pins clash with nborch's), and only the agents' entry points linked into .agents/bin, the
#   folder nborch searches before PATH (never the venv's python, so nothing else is shadowed).
# Usage: agents/install.sh [PYTHON]   — run by `make agents`, which skips it when the stamp of
# this pin set exists.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${1:-python3}
PINS=agents/versions.txt
DEST=.agents
stamp="$DEST/stamp-$(sha1sum "$PINS" | cut -c1-12)"
if [[ -e "$stamp" ]]; then
    echo "agents: already installed ($stamp)"
    exit 0
fi
npm_specs=() pip_specs=() programs=()
while read -r kind package version program; do
    [[ -z "$kind" || "$kind" == \#* ]] && continue
    case "$kind" in
        npm) npm_specs+=("$package@$version") ;;
        pip) pip_specs+=("$package==$version") ;;
        *) echo "agents: unknown kind '$kind' in $PINS" >&2; exit 2 ;;
    esac
    programs+=("$kind:$program")
done < "$PINS"
command -v npm >/dev/null || { echo "agents: npm is needed (install Node.js 20 or later)" >&2; exit 2; }
mkdir -p "$DEST/bin"
if ((${#npm_specs[@]})); then
    echo "agents: npm install ${npm_specs[*]}"
    npm install --global --prefix "$DEST/npm" --no-fund --no-audit --loglevel=error "${npm_specs[@]}"
fi
if ((${#pip_specs[@]})); then
    [[ -x "$DEST/aider/bin/python" ]] || "$PYTHON" -m venv "$DEST/aider"
    echo "agents: pip install ${pip_specs[*]}"
    "$DEST/aider/bin/python" -m pip install --quiet --disable-pip-version-check "${pip_specs[@]}"
fi
for entry in "${programs[@]}"; do
    kind=${entry%%:*} program=${entry#*:}
    target="../npm/bin/$program"
    [[ "$kind" == pip ]] && target="../aider/bin/$program"
    [[ -x "$DEST/bin/$target" ]] || { echo "agents: $program was not installed" >&2; exit 1; }
    ln -sfn "$target" "$DEST/bin/$program"
    printf 'agents: %-9s %s\n' "$program" "$("$DEST/bin/$program" --version 2>/dev/null | head -1)"
done
rm -f "$DEST"/stamp-*
touch "$stamp"
