#!/usr/bin/env bash
# Makes legacy-run.tar.gz: a repository with one run recorded by the nborch of this commit, stopped
# by kill -9 while task 2 ran (so it loads as interrupted and can be resumed). Its paths are
# absolute, so the repository lives at a fixed place that tests/test_legacy_run.py recreates.
# Run from the repository root with the version whose records must stay readable:
#   bash tests/data/legacy/make_fixture.sh
set -euo pipefail
ROOT=/tmp/nborch-legacy-fixture
OUT="$(pwd)/tests/data/legacy/legacy-run.tar.gz"
NBORCH="$(pwd)/.venv/bin/nborch"
rm -rf "$ROOT" && mkdir -p "$ROOT/repo"
cd "$ROOT/repo"
git init -q -b main
git config user.email fixture@example.invalid && git config user.name fixture
printf 'build/\n*.log\n' > .gitignore
printf 'def add(a, b):\n    return a + b\n' > calc.py
mkdir tests && printf 'from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n' > tests/test_calc.py
cat > plan.md <<'PLAN'
# Calculator

## Tasks

### 1.1 Subtract
Add `sub(a, b)` to calc.py.
- Validation: `python -c "import calc; assert calc.sub(3, 1) == 2"`

### 1.2 Multiply
Add `mul(a, b)` to calc.py.
PLAN
git add -A && git commit -qm start
# The agent appends a function named after the task; it blocks while $ROOT/block exists.
cat > "$ROOT/agent.py" <<'AGENT'
import pathlib, sys, time
task = sys.argv[1]
while pathlib.Path("/tmp/nborch-legacy-fixture/block").exists() and task == "1.2":
    time.sleep(0.2)
body = {"1.1": "def sub(a, b):\n    return a - b\n", "1.2": "def mul(a, b):\n    return a * b\n"}[task]
with open("calc.py", "a") as f:
    f.write("\n\n" + body)
AGENT
touch "$ROOT/block"
"$NBORCH" execute plan.md --script "fx=python $ROOT/agent.py {task_id}" --agents fx \
    --root "$ROOT/worktrees" -t 5m --retries 1 -c 2 > "$ROOT/execute.out" 2>&1 &
PID=$!
for _ in $(seq 100); do
  sleep 0.3
  if grep -q 'def sub' "$ROOT"/worktrees/*/1-1*/calc.py 2>/dev/null; then break; fi
done
sleep 2
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
sleep 1
rm -f "$ROOT/block"
cd "$ROOT" && tar czf "$OUT" repo worktrees agent.py
echo "wrote $OUT"
