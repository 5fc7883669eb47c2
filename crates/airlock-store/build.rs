//! Lists the files of `migrations/` for `src/migrations.rs`, as sqlx's resolver reads them: what its
//! `migrate!` macro would do, without that proc-macro crate (which builds both database drivers and
//! SQLite's C source a second time, for the host).

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("read migrations/")
        .map(|entry| {
            let entry = entry.expect("read migrations/");
            entry
                .file_name()
                .into_string()
                .expect("UTF-8 file names in migrations/")
        })
        // sqlx's resolver skips any other name: `VERSION_DESCRIPTION.sql` only.
        .filter(|name| name.ends_with(".sql") && name.contains('_'))
        .collect();
    names.sort();
    let mut list = String::from("[\n");
    for name in names {
        let (version, rest) = name.split_once('_').expect("VERSION_DESCRIPTION.sql");
        let version: i64 = version.parse().unwrap_or_else(|_| {
            panic!("migrations/{name}: the version before `_` is not a number")
        });
        assert!(
            !rest.ends_with(".up.sql") && !rest.ends_with(".down.sql"),
            "migrations/{name}: reversible migrations are not supported"
        );
        let description = rest.trim_end_matches(".sql").replace('_', " ");
        let path = dir.join(&name);
        writeln!(
            list,
            "    ({version}, {description:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    list.push(']');
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("migrations.rs");
    std::fs::write(out, list).expect("write migrations.rs");
}
