//! End-to-end tests: the real `airlock` binary driven by real pip, uv, twine, poetry, pdm, pipenv,
//! hatch, flit and R.
//!
//! Run through `scripts/test`, which prepares the Python tools, the real distributions and a PostgreSQL
//! cluster and exports their locations (`AIRLOCK_TEST_VENV`, `AIRLOCK_TEST_CLIENTS_BIN`,
//! `AIRLOCK_TEST_REAL_DISTS`, `AIRLOCK_TEST_POSTGRES_URL`). Each test starts its own server on port 0 with its own data directory.

mod support;

mod audit;
mod blob_store;
mod bundles;
mod check;
mod clients;
mod config_code;
mod cran;
mod first_run;
mod install;
mod lanes;
mod malicious;
mod policy;
mod postgres;
mod promote;
mod provenance;
mod proxy;
mod python_index;
mod r_binaries;
mod remote;
mod replicas;
mod requests;
mod roles;
mod sbom;
mod scan;
mod security_access;
mod security_archives;
mod security_manifest;
mod security_publish;
mod security_storage;
mod snapshots;
mod suggest;
mod tokens;
mod ui;
mod uploads;
mod webhooks;
mod yank;
