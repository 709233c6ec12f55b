-- product-change service: initial schema (postgres), SPEC 7.3. Both dialects keep the same versions
-- (checked by tests/api/migrations.rs).

CREATE TABLE product_change_history (
    request_id           VARCHAR(64)  PRIMARY KEY,
    user_id              VARCHAR(20)  NOT NULL,
    customer_id          VARCHAR(20)  NOT NULL,
    line_number          CHAR(11)     NOT NULL,
    current_product_code VARCHAR(30)  NOT NULL,
    current_product_name TEXT         NOT NULL,
    target_product_code  VARCHAR(30)  NOT NULL,
    target_product_name  TEXT         NOT NULL,
    process_status       VARCHAR(12)  NOT NULL CHECK (process_status IN ('PENDING','PROCESSING','COMPLETED','FAILED')),
    result_code          VARCHAR(20)  NULL,
    result_message       TEXT         NULL,
    failure_reason       TEXT         NULL,
    kos_order_number     VARCHAR(30)  NULL,
    effective_date       CHAR(8)      NULL,
    attempts             INT          NOT NULL DEFAULT 0,
    next_attempt_at      TIMESTAMPTZ  NULL,
    requested_at         TIMESTAMPTZ  NOT NULL,
    processed_at         TIMESTAMPTZ  NULL,
    updated_at           TIMESTAMPTZ  NOT NULL
);

-- One in-flight change per line: a concurrent second insert fails with a unique violation.
CREATE UNIQUE INDEX product_change_history_one_in_flight
    ON product_change_history (line_number)
    WHERE process_status IN ('PENDING','PROCESSING');
CREATE INDEX product_change_history_line_requested
    ON product_change_history (line_number, requested_at DESC);
CREATE INDEX product_change_history_user_requested
    ON product_change_history (user_id, requested_at DESC);
CREATE INDEX product_change_history_status_next
    ON product_change_history (process_status, next_attempt_at);

CREATE TABLE idempotency_keys (
    user_id       VARCHAR(20)  NOT NULL,
    idem_key      VARCHAR(64)  NOT NULL,
    request_hash  CHAR(64)     NOT NULL,
    request_id    VARCHAR(64)  NOT NULL,
    status_code   INT          NULL,
    response_body JSONB        NULL,
    created_at    TIMESTAMPTZ  NOT NULL,
    expires_at    TIMESTAMPTZ  NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- Every KOS call (inquiries, changes, reconciliation), written by the batched history writer.
CREATE TABLE kos_call_log (
    id          BIGSERIAL    PRIMARY KEY,
    event_id    UUID         NOT NULL UNIQUE,
    request_id  VARCHAR(64)  NOT NULL,
    endpoint    VARCHAR(40)  NOT NULL,
    result_code VARCHAR(10)  NULL,
    outcome     VARCHAR(16)  NOT NULL,
    duration_ms INT          NOT NULL,
    called_at   TIMESTAMPTZ  NOT NULL
);
CREATE INDEX kos_call_log_request ON kos_call_log (request_id);
CREATE INDEX kos_call_log_called ON kos_call_log (called_at);
