//! End-to-end tests: the real `aviator` binary, spoken to over real UDP, TCP and HTTP sockets on
//! 127.0.0.1. One test binary; shared helpers in `support`, fixtures in `tests/data`.

mod admin;
mod answers;
mod cli;
mod demo;
mod hostile;
mod kubernetes;
mod kubernetes_docs;
mod kubernetes_lighthouse;
mod kubernetes_memory;
mod kubernetes_policies;
mod kubernetes_real;
mod kubernetes_replicas;
mod kubernetes_submariner;
mod live;
mod protocol;
mod reload;
mod reload_limits;
mod reports;
mod rfc;
mod selection;
mod simulate;
mod solve;
mod support;
