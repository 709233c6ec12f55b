-- auth service schema (SPEC 7.1), SQLite dialect: uuid and timestamptz are TEXT (RFC 3339 UTC,
-- fixed-width microseconds so text order is time order), boolean is INTEGER 0/1.
CREATE TABLE auth_users (
    user_id                  TEXT    PRIMARY KEY CHECK (length(user_id) <= 20),
    customer_id              TEXT    NOT NULL CHECK (length(customer_id) <= 20),
    line_number              TEXT    NOT NULL UNIQUE CHECK (length(line_number) = 11),
    user_name                TEXT    NOT NULL CHECK (length(user_name) <= 50),
    password_hash            TEXT    NOT NULL,
    account_status           TEXT    NOT NULL DEFAULT 'ACTIVE'
                             CHECK (account_status IN ('ACTIVE', 'SUSPENDED', 'WITHDRAWN')),
    failed_login_count       INTEGER NOT NULL DEFAULT 0,
    locked_until             TEXT    NULL,
    last_login_at            TEXT    NULL,
    last_password_changed_at TEXT    NULL,
    created_at               TEXT    NOT NULL,
    updated_at               TEXT    NOT NULL
);
CREATE INDEX auth_users_customer_idx ON auth_users (customer_id);

CREATE TABLE auth_permissions (
    permission_code TEXT PRIMARY KEY CHECK (length(permission_code) <= 30),
    description     TEXT NOT NULL
);
INSERT INTO auth_permissions (permission_code, description) VALUES
    ('BILL_INQUIRY', '요금 조회 서비스 권한'),
    ('PRODUCT_CHANGE', '상품 변경 서비스 권한'),
    ('ADMIN', '관리자 권한'),
    ('USER_MANAGEMENT', '사용자 관리 권한');

CREATE TABLE auth_user_permissions (
    user_id         TEXT NOT NULL REFERENCES auth_users (user_id) ON DELETE CASCADE,
    permission_code TEXT NOT NULL REFERENCES auth_permissions (permission_code),
    granted_by      TEXT NULL CHECK (granted_by IS NULL OR length(granted_by) <= 20),
    granted_at      TEXT NOT NULL,
    PRIMARY KEY (user_id, permission_code)
);

CREATE TABLE auth_sessions (
    session_id        TEXT    PRIMARY KEY,
    user_id           TEXT    NOT NULL REFERENCES auth_users (user_id) ON DELETE CASCADE,
    auto_login        INTEGER NOT NULL,
    created_at        TEXT    NOT NULL,
    expires_at        TEXT    NOT NULL,
    last_refreshed_at TEXT    NULL,
    revoked_at        TEXT    NULL,
    revoke_reason     TEXT    NULL
                      CHECK (revoke_reason IN ('LOGOUT', 'REUSE_DETECTED', 'PASSWORD_CHANGED', 'ADMIN'))
);
CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id);
CREATE INDEX auth_sessions_expires_idx ON auth_sessions (expires_at);

CREATE TABLE auth_refresh_tokens (
    token_hash  TEXT PRIMARY KEY CHECK (length(token_hash) = 64),
    session_id  TEXT NOT NULL REFERENCES auth_sessions (session_id) ON DELETE CASCADE,
    issued_at   TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT NULL,
    replaced_by TEXT NULL
);
CREATE INDEX auth_refresh_tokens_session_idx ON auth_refresh_tokens (session_id);

CREATE TABLE auth_login_history (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      TEXT    NOT NULL CHECK (length(user_id) <= 20),
    result       TEXT    NOT NULL CHECK (length(result) <= 20),
    client_ip    TEXT    NULL CHECK (client_ip IS NULL OR length(client_ip) <= 45),
    user_agent   TEXT    NULL,
    attempted_at TEXT    NOT NULL
);
CREATE INDEX auth_login_history_user_idx ON auth_login_history (user_id, attempted_at DESC);

CREATE TABLE auth_signing_keys (
    kid             TEXT PRIMARY KEY CHECK (length(kid) <= 40),
    public_key      BLOB NOT NULL,
    private_key_enc BLOB NULL,
    created_at      TEXT NOT NULL,
    retired_at      TEXT NULL
);
