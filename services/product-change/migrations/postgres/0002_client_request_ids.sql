-- Issue 17 (docs/security.md): a client-chosen requestId is this user's name for a change, not
-- the record's id (which the server generates). This table resolves it per user, so another
-- user's choice of the same id collides with nothing and reveals nothing.
CREATE TABLE product_change_client_ids (
    user_id           VARCHAR(20)  NOT NULL,
    client_request_id VARCHAR(64)  NOT NULL,
    request_id        VARCHAR(64)  NOT NULL,
    created_at        TIMESTAMPTZ  NOT NULL,
    PRIMARY KEY (user_id, client_request_id)
);
