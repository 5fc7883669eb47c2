//! Service and HTTP behaviour through the production router, in process (see [`support`]).

mod support;

mod auth;
mod caches;
mod encodings;
mod problems;
mod proxy;
mod requests;
mod routing;
mod sbom;
mod socket;
mod ui;
