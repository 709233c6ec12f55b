-- product-change service: initial schema (sqlite), SPEC 7.3 with the 7 type mapping. Both dialects
-- keep the same versions (checked by tests/api/migrations.rs).

CREATE TABLE product_change_history (
    request_id           TEXT    PRIMARY KEY CHECK (length(request_id) <= 64),
    user_id              TEXT    NOT NULL CHECK (length(user_id) <= 20),
    customer_id          TEXT    NOT NULL CHECK (length(customer_id) <= 20),
    line_number          TEXT    NOT NULL CHECK (length(line_number) = 11),
    current_product_code TEXT    NOT NULL CHECK (length(current_product_code) <= 30),
    current_product_name TEXT    NOT NULL,
    target_product_code  TEXT    NOT NULL CHECK (length(target_product_code) <= 30),
    target_product_name  TEXT    NOT NULL,
    process_status       TEXT    NOT NULL CHECK (process_status IN ('PENDING','PROCESSING','COMPLETED','FAILED')),
    result_code          TEXT    NULL CHECK (result_code IS NULL OR length(result_code) <= 20),
    result_message       TEXT    NULL,
    failure_reason       TEXT    NULL,
    kos_order_number     TEXT    NULL CHECK (kos_order_number IS NULL OR length(kos_order_number) <= 30),
    effective_date       TEXT    NULL CHECK (effective_date IS NULL OR length(effective_date) = 8),
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      TEXT    NULL,
    requested_at         TEXT    NOT NULL,
    processed_at         TEXT    NULL,
    updated_at           TEXT    NOT NULL
);

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
    user_id       TEXT    NOT NULL CHECK (length(user_id) <= 20),
    idem_key      TEXT    NOT NULL CHECK (length(idem_key) <= 64),
    request_hash  TEXT    NOT NULL CHECK (length(request_hash) = 64),
    request_id    TEXT    NOT NULL,
    status_code   INTEGER NULL,
    response_body TEXT    NULL,
    created_at    TEXT    NOT NULL,
    expires_at    TEXT    NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

CREATE TABLE kos_call_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    TEXT    NOT NULL UNIQUE,
    request_id  TEXT    NOT NULL,
    endpoint    TEXT    NOT NULL CHECK (length(endpoint) <= 40),
    result_code TEXT    NULL,
    outcome     TEXT    NOT NULL,
    duration_ms INTEGER NOT NULL,
    called_at   TEXT    NOT NULL
);
CREATE INDEX kos_call_log_request ON kos_call_log (request_id);
CREATE INDEX kos_call_log_called ON kos_call_log (called_at);
