-- auth service schema (SPEC 7.1), PostgreSQL dialect. The sqlite folder keeps the same versions.
CREATE TABLE auth_users (
    user_id                  VARCHAR(20)  PRIMARY KEY,
    customer_id              VARCHAR(20)  NOT NULL,
    line_number              CHAR(11)     NOT NULL UNIQUE,
    user_name                VARCHAR(50)  NOT NULL,
    password_hash            TEXT         NOT NULL,
    account_status           VARCHAR(20)  NOT NULL DEFAULT 'ACTIVE'
                             CHECK (account_status IN ('ACTIVE', 'SUSPENDED', 'WITHDRAWN')),
    failed_login_count       INT          NOT NULL DEFAULT 0,
    locked_until             TIMESTAMPTZ  NULL,
    last_login_at            TIMESTAMPTZ  NULL,
    last_password_changed_at TIMESTAMPTZ  NULL,
    created_at               TIMESTAMPTZ  NOT NULL,
    updated_at               TIMESTAMPTZ  NOT NULL
);
CREATE INDEX auth_users_customer_idx ON auth_users (customer_id);

CREATE TABLE auth_permissions (
    permission_code VARCHAR(30) PRIMARY KEY,
    description     TEXT        NOT NULL
);
INSERT INTO auth_permissions (permission_code, description) VALUES
    ('BILL_INQUIRY', '요금 조회 서비스 권한'),
    ('PRODUCT_CHANGE', '상품 변경 서비스 권한'),
    ('ADMIN', '관리자 권한'),
    ('USER_MANAGEMENT', '사용자 관리 권한');

CREATE TABLE auth_user_permissions (
    user_id         VARCHAR(20) NOT NULL REFERENCES auth_users (user_id) ON DELETE CASCADE,
    permission_code VARCHAR(30) NOT NULL REFERENCES auth_permissions (permission_code),
    granted_by      VARCHAR(20) NULL,
    granted_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, permission_code)
);

CREATE TABLE auth_sessions (
    session_id        UUID        PRIMARY KEY,
    user_id           VARCHAR(20) NOT NULL REFERENCES auth_users (user_id) ON DELETE CASCADE,
    auto_login        BOOLEAN     NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    last_refreshed_at TIMESTAMPTZ NULL,
    revoked_at        TIMESTAMPTZ NULL,
    revoke_reason     VARCHAR(30) NULL
                      CHECK (revoke_reason IN ('LOGOUT', 'REUSE_DETECTED', 'PASSWORD_CHANGED', 'ADMIN'))
);
CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id);
CREATE INDEX auth_sessions_expires_idx ON auth_sessions (expires_at);

CREATE TABLE auth_refresh_tokens (
    token_hash  CHAR(64)    PRIMARY KEY,
    session_id  UUID        NOT NULL REFERENCES auth_sessions (session_id) ON DELETE CASCADE,
    issued_at   TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ NULL,
    replaced_by CHAR(64)    NULL
);
CREATE INDEX auth_refresh_tokens_session_idx ON auth_refresh_tokens (session_id);

CREATE TABLE auth_login_history (
    id           BIGSERIAL   PRIMARY KEY,
    user_id      VARCHAR(20) NOT NULL,
    result       VARCHAR(20) NOT NULL,
    client_ip    VARCHAR(45) NULL,
    user_agent   TEXT        NULL,
    attempted_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX auth_login_history_user_idx ON auth_login_history (user_id, attempted_at DESC);

CREATE TABLE auth_signing_keys (
    kid             VARCHAR(40) PRIMARY KEY,
    public_key      BYTEA       NOT NULL,
    private_key_enc BYTEA       NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    retired_at      TIMESTAMPTZ NULL
);
