"""Env parity: the variables the chart sets for a binary against the ones the binary reads.

The binary's variables are taken from its source: every string literal passed to an
`Env` accessor (`.string("X")`, `.parse("X", ..)`, `.bool(..)`, `.seconds(..)`, ...) or to
`std::env::var` in the service's crate and in crates/common (shared by all four binaries),
plus LIBRARY_VARS, read by libraries. Two failures:

- the chart sets a variable the binary does not read (a typo, or a rename in the code),
  except the names in PENDING: variables whose reader lands with another issue; each entry
  says which, and is to be removed when that issue is merged;
- the binary needs a variable in production that the chart does not set (REQUIRED).
"""
import glob
import os
import re

CRATE = {
    "auth-service": "services/auth",
    "bill-inquiry-service": "services/bill-inquiry",
    "product-change-service": "services/product-change",
    "kos-mock-service": "services/kos-mock",
}

# Read by a library rather than by our config code.
LIBRARY_VARS = {
    "RUST_LOG",  # tracing-subscriber EnvFilter::from_default_env (crates/common/src/telemetry.rs)
}

# Set by the chart before the binary reads them: the reader comes with another issue.
PENDING: dict = {}

# What each binary needs in production (no safe default there).
COMMON_REQUIRED = {"DATABASE_URL", "CORS_ALLOWED_ORIGINS", "SHUTDOWN_DELAY_SECONDS", "LOG_FORMAT", "PORT"}
REQUIRED = {
    "auth-service": COMMON_REQUIRED | {"REDIS_URL", "JWT_KEYS_DIR", "JWT_ACTIVE_KID", "JWT_ISSUER", "JWT_AUDIENCE",
                                       "TRUST_X_FORWARDED_FOR", "KOS_BASE_URL", "KOS_API_KEY", "REGISTRATION_MODE"},
    "bill-inquiry-service": COMMON_REQUIRED | {"REDIS_URL", "JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE",
                                               "KOS_BASE_URL", "KOS_API_KEY", "KOS_SERVICE_NAME"},
    "product-change-service": COMMON_REQUIRED | {"REDIS_URL", "JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE",
                                                 "KOS_BASE_URL", "KOS_API_KEY", "KOS_SERVICE_NAME"},
    "kos-mock-service": COMMON_REQUIRED | {"REDIS_URL", "KOS_API_KEY", "JWKS_URL", "KOS_REQUIRE_AUTH",
                                           "KOS_ALLOWED_SERVICES"},
}

_READ = re.compile(
    r'(?:\.(?:string|parse|parse_opt|ranged|bool|seconds|millis|secret|list)|env::var(?:_os)?)'
    r'\(\s*"([A-Z][A-Z0-9_]+)"'
)


def reads(root, binary):
    """The variables `binary` reads, from its source."""
    names = set(LIBRARY_VARS)
    for d in (CRATE[binary], "crates/common"):
        for f in glob.glob(os.path.join(root, d, "src", "**", "*.rs"), recursive=True):
            names |= set(_READ.findall(open(f, encoding="utf-8").read()))
    return names


def check(root, binary, chart_env, required=True):
    """Problems (strings) of the env `chart_env` (a set of names) for `binary`."""
    if binary not in CRATE:
        return [f"{binary} is not one of the binaries {sorted(CRATE)}"]
    known = reads(root, binary)
    problems = [f"chart sets {v}, which {binary} does not read" for v in sorted(chart_env - known - set(PENDING))]
    if required:
        problems += [f"{binary} needs {v}, which the chart does not set" for v in sorted(REQUIRED[binary] - chart_env)]
    return problems
