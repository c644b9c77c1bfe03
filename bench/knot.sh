#!/bin/sh
# svcdns against Knot DNS: runs bench/knot.py with the project's venv when there is one.
here=$(cd "$(dirname "$0")" && pwd)
python="$here/../.venv/bin/python"
[ -x "$python" ] || python=python3
exec "$python" "$here/knot.py" "$@"
