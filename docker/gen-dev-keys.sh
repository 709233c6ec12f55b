#!/usr/bin/env bash
# Creates the local Ed25519 JWT signing key that docker/compose.yaml mounts into
# auth (JWT_KEYS_DIR=/etc/phonebill/jwt, JWT_ACTIVE_KID=local-1). The key never
# leaves this machine: docker/secrets/ is ignored by git and by the build context.
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)/secrets/jwt"
mkdir -p "$dir"
if [ ! -f "$dir/local-1.pem" ]; then
  openssl genpkey -algorithm ed25519 -out "$dir/local-1.pem"
  chmod 0644 "$dir/local-1.pem" # readable by uid 65532 inside the container
fi
echo "JWT key: $dir/local-1.pem"
