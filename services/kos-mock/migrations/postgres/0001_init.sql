-- KOS mock service: initial schema (postgres), SPEC 7.4. Demo rows are inserted by the service at
-- every start when missing (not here), so deleting them and restarting restores them.
CREATE TABLE kos_products (
    product_code    varchar(30) PRIMARY KEY,
    product_name    varchar(100) NOT NULL,
    monthly_fee     bigint NOT NULL,
    data_allowance  varchar(30) NOT NULL,
    voice_allowance varchar(30) NOT NULL,
    sms_allowance   varchar(30) NOT NULL,
    operator_code   varchar(10) NOT NULL,
    network_type    varchar(10) NOT NULL,
    status          varchar(20) NOT NULL,
    description     text NOT NULL
);

CREATE TABLE kos_customers (
    line_number          char(11) PRIMARY KEY,
    customer_id          varchar(20) NOT NULL,
    customer_name        varchar(50) NOT NULL,
    operator_code        varchar(10) NOT NULL,
    current_product_code varchar(30) NOT NULL,
    initial_product_code varchar(30) NOT NULL,
    line_status          varchar(20) NOT NULL,
    contract_date        date NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, line_number)
);

CREATE TABLE kos_change_requests (
    request_id   varchar(64) PRIMARY KEY,
    request_hash char(64) NOT NULL,
    response     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
