-- Issue 17 (docs/api.md §2.8.1): one pending one-time code per line for verified registration.
-- Only a salted SHA-256 of the code is kept; attempts_left is spent by a conditional UPDATE.
CREATE TABLE auth_line_verifications (
    line_number   CHAR(11)    PRIMARY KEY,
    customer_id   VARCHAR(20) NOT NULL,
    code_hash     CHAR(64)    NOT NULL,
    salt          CHAR(32)    NOT NULL,
    attempts_left INT         NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX auth_line_verifications_expires_idx ON auth_line_verifications (expires_at);
