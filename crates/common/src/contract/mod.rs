//! Contracts between services: the few definitions two services must share because one reads
//! or clears what the other writes. Everything else a service owns stays in the service; what is
//! here is named by the service that owns it and the other that depends on it.

pub mod bill_cache;
