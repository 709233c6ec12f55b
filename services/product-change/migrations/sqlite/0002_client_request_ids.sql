-- Issue 17 (docs/security.md): a client-chosen requestId is this user's name for a change, not
-- the record's id (which the server generates). This table resolves it per user, so another
-- user's choice of the same id collides with nothing and reveals nothing.
CREATE TABLE product_change_client_ids (
    user_id           TEXT NOT NULL CHECK (length(user_id) <= 20),
    client_request_id TEXT NOT NULL CHECK (length(client_request_id) <= 64),
    request_id        TEXT NOT NULL CHECK (length(request_id) <= 64),
    created_at        TEXT NOT NULL,
    PRIMARY KEY (user_id, client_request_id)
);
