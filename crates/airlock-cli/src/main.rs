//! The `airlock` binary: everything is in the library (see `lib.rs`).

fn main() -> std::process::ExitCode {
    airlock_cli::main()
}
