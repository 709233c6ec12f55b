-- bill-inquiry schema (SPEC 7.2).
CREATE TABLE bill_inquiry_history (
    request_id     varchar(32)  PRIMARY KEY,
    user_id        varchar(20)  NOT NULL,
    customer_id    varchar(20)  NOT NULL,
    line_number    char(11)     NOT NULL,
    inquiry_month  char(6)      NOT NULL,
    status         varchar(12)  NOT NULL CHECK (status IN ('COMPLETED', 'PROCESSING', 'FAILED')),
    result_code    varchar(10),
    result_message text,
    result_summary varchar(200),
    bill_info      jsonb,
    from_cache     boolean      NOT NULL DEFAULT false,
    requested_at   timestamptz  NOT NULL,
    processed_at   timestamptz
);
CREATE INDEX bill_inquiry_history_line_idx ON bill_inquiry_history (line_number, requested_at DESC);
CREATE INDEX bill_inquiry_history_user_idx ON bill_inquiry_history (user_id, requested_at DESC);
CREATE INDEX bill_inquiry_history_status_idx ON bill_inquiry_history (status);
-- bill_info is kept 24 h for polling; this partial index finds rows still holding it.
CREATE INDEX bill_inquiry_history_bill_info_idx ON bill_inquiry_history (requested_at) WHERE bill_info IS NOT NULL;

CREATE TABLE kos_call_log (
    id          bigserial    PRIMARY KEY,
    -- the inquiry's requestId, or the HTTP request id for calls without one (menu)
    request_id  varchar(128) NOT NULL,
    endpoint    varchar(40)  NOT NULL,
    result_code varchar(10),
    outcome     varchar(16)  NOT NULL,
    duration_ms int          NOT NULL,
    called_at   timestamptz  NOT NULL,
    -- the writer retries whole batches; this key makes a retried row a no-op
    event_id    uuid         NOT NULL UNIQUE
);
CREATE INDEX kos_call_log_request_idx ON kos_call_log (request_id);
CREATE INDEX kos_call_log_called_idx ON kos_call_log (called_at);
