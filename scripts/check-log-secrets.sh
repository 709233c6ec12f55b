#!/usr/bin/env bash
# Fails when a log file holds a secret in clear: a line number (010xxxxxxxx or 010-xxxx-xxxx;
# logs must show 010****xxxx), an access token (a three-part JWT `eyJ….eyJ….…`), a refresh token
# (`rt1.<20 hex>.<secret>`) or a demo password. Used on the server log of the API fuzz run.
#
#   bash scripts/check-log-secrets.sh FILE...
set -euo pipefail
(( $# )) || { echo "usage: $0 FILE..." >&2; exit 2; }
exec python3 - "$@" <<'EOF'
import re
import sys

PATTERNS = [
    ("line number", re.compile(r"(?<![0-9.])010[0-9]{8}(?![0-9])")),
    ("dashed line number", re.compile(r"(?<![0-9])010-[0-9]{4}-[0-9]{4}(?![0-9])")),
    ("JWT", re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}")),
    ("refresh token", re.compile(r"rt1\.[0-9a-f]{20}\.[A-Za-z0-9_-]{16,}")),
    ("demo password", re.compile(r"Phonebill[1-5]!|Admin1234!")),
]

hits = 0
lines = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, text in enumerate(f, 1):
            lines += 1
            for kind, rx in PATTERNS:
                m = rx.search(text)
                if m:
                    hits += 1
                    if hits <= 20:
                        start = max(0, m.start() - 80)
                        print(f"{path}:{n}: {kind}: …{text[start:m.end() + 40].strip()}…")
print(f"log scan: {lines} lines, {hits} secrets in clear")
sys.exit(1 if hits else 0)
EOF
