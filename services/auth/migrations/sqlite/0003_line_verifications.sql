-- Issue 17 (docs/api.md §2.8.1): one pending one-time code per line for verified registration.
-- Only a salted SHA-256 of the code is kept; attempts_left is spent by a conditional UPDATE.
CREATE TABLE auth_line_verifications (
    line_number   TEXT    PRIMARY KEY CHECK (length(line_number) = 11),
    customer_id   TEXT    NOT NULL CHECK (length(customer_id) <= 20),
    code_hash     TEXT    NOT NULL CHECK (length(code_hash) = 64),
    salt          TEXT    NOT NULL CHECK (length(salt) = 32),
    attempts_left INTEGER NOT NULL,
    created_at    TEXT    NOT NULL,
    expires_at    TEXT    NOT NULL
);
CREATE INDEX auth_line_verifications_expires_idx ON auth_line_verifications (expires_at);
