-- bill-inquiry schema (SPEC 7.2), SQLite dialect (SPEC 7 type mapping).
CREATE TABLE bill_inquiry_history (
    request_id     TEXT    PRIMARY KEY CHECK (length(request_id) <= 32),
    user_id        TEXT    NOT NULL CHECK (length(user_id) <= 20),
    customer_id    TEXT    NOT NULL CHECK (length(customer_id) <= 20),
    line_number    TEXT    NOT NULL CHECK (length(line_number) = 11),
    inquiry_month  TEXT    NOT NULL CHECK (length(inquiry_month) = 6),
    status         TEXT    NOT NULL CHECK (status IN ('COMPLETED', 'PROCESSING', 'FAILED')),
    result_code    TEXT    CHECK (length(result_code) <= 10),
    result_message TEXT,
    result_summary TEXT    CHECK (length(result_summary) <= 200),
    bill_info      TEXT,
    from_cache     INTEGER NOT NULL DEFAULT 0,
    requested_at   TEXT    NOT NULL,
    processed_at   TEXT
);
CREATE INDEX bill_inquiry_history_line_idx ON bill_inquiry_history (line_number, requested_at DESC);
CREATE INDEX bill_inquiry_history_user_idx ON bill_inquiry_history (user_id, requested_at DESC);
CREATE INDEX bill_inquiry_history_status_idx ON bill_inquiry_history (status);
CREATE INDEX bill_inquiry_history_bill_info_idx ON bill_inquiry_history (requested_at) WHERE bill_info IS NOT NULL;

CREATE TABLE kos_call_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id  TEXT    NOT NULL CHECK (length(request_id) <= 128),
    endpoint    TEXT    NOT NULL CHECK (length(endpoint) <= 40),
    result_code TEXT    CHECK (length(result_code) <= 10),
    outcome     TEXT    NOT NULL CHECK (length(outcome) <= 16),
    duration_ms INTEGER NOT NULL,
    called_at   TEXT    NOT NULL,
    event_id    TEXT    NOT NULL UNIQUE
);
CREATE INDEX kos_call_log_request_idx ON kos_call_log (request_id);
CREATE INDEX kos_call_log_called_idx ON kos_call_log (called_at);
