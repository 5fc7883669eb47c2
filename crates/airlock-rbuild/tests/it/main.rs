//! Real R and real bubblewrap: small packages made on the fly are built in the sandbox.
//!
//! Without R or bwrap the tests fail when `CI` is set and are skipped with a notice otherwise.

mod builds;
mod isolation;
mod probe;
mod support;
