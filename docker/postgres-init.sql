-- One database per service, as in production (docs/api.md §7). Local stack only.
CREATE DATABASE phonebill_auth;
CREATE DATABASE phonebill_bill;
CREATE DATABASE phonebill_product;
CREATE DATABASE phonebill_kos;
