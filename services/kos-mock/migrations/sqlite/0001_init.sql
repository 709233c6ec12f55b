-- KOS mock service: initial schema (sqlite), SPEC 7.4 with the SPEC 7 type mapping. Demo rows are
-- inserted by the service at every start when missing (not here).
CREATE TABLE kos_products (
    product_code    TEXT PRIMARY KEY CHECK (length(product_code) <= 30),
    product_name    TEXT NOT NULL CHECK (length(product_name) <= 100),
    monthly_fee     INTEGER NOT NULL,
    data_allowance  TEXT NOT NULL CHECK (length(data_allowance) <= 30),
    voice_allowance TEXT NOT NULL CHECK (length(voice_allowance) <= 30),
    sms_allowance   TEXT NOT NULL CHECK (length(sms_allowance) <= 30),
    operator_code   TEXT NOT NULL CHECK (length(operator_code) <= 10),
    network_type    TEXT NOT NULL CHECK (length(network_type) <= 10),
    status          TEXT NOT NULL CHECK (length(status) <= 20),
    description     TEXT NOT NULL
);

CREATE TABLE kos_customers (
    line_number          TEXT PRIMARY KEY CHECK (length(line_number) = 11),
    customer_id          TEXT NOT NULL CHECK (length(customer_id) <= 20),
    customer_name        TEXT NOT NULL CHECK (length(customer_name) <= 50),
    operator_code        TEXT NOT NULL CHECK (length(operator_code) <= 10),
    current_product_code TEXT NOT NULL CHECK (length(current_product_code) <= 30),
    initial_product_code TEXT NOT NULL CHECK (length(initial_product_code) <= 30),
    line_status          TEXT NOT NULL CHECK (length(line_status) <= 20),
    contract_date        TEXT NOT NULL,
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (customer_id, line_number)
);

CREATE TABLE kos_change_requests (
    request_id   TEXT PRIMARY KEY CHECK (length(request_id) <= 64),
    request_hash TEXT NOT NULL CHECK (length(request_hash) = 64),
    response     TEXT NOT NULL,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
