//! Reading a target from a real R; refusing what is not one.

use std::path::Path;

use airlock_rbuild::{ProbeError, Target};

use crate::support::tools;

#[test]
fn the_real_r_is_probed() {
    let Some(tools) = tools() else { return };
    let target = &tools.target;
    assert!(target.platform.contains("linux"), "{target:?}");
    assert!(target.r.is_file() && target.rscript.is_file(), "{target:?}");
    assert!(target.r.ends_with("bin/R"), "{target:?}");
    assert_eq!(target.own_packages.get("base"), Some(&target.r_version));
    assert!(target.own_packages.contains_key("stats"));
    let minor = target.r_minor();
    assert_eq!(minor.split('.').count(), 2, "{minor}");
    assert!(target.r_version.starts_with(&format!("{minor}.")));
    assert_eq!(target.key(), format!("bookworm-R{minor}-{}", target.arch));

    // The same R, named by its path.
    let again = Target::probe("bookworm", Some(&target.rscript)).unwrap();
    assert_eq!(&again, target);
}

#[test]
fn a_missing_or_wrong_rscript_is_a_clear_error() {
    let missing =
        Target::probe("bookworm", Some(Path::new("/nonexistent/bin/Rscript"))).unwrap_err();
    assert!(matches!(missing, ProbeError::Missing(_)), "{missing:?}");
    assert_eq!(
        missing.to_string(),
        "/nonexistent/bin/Rscript does not exist"
    );

    let not_r = Target::probe("bookworm", Some(Path::new("/bin/true"))).unwrap_err();
    assert_eq!(
        not_r.to_string(),
        "/bin/true did not report os (is it Rscript?)"
    );

    let failing = Target::probe("bookworm", Some(Path::new("/bin/false"))).unwrap_err();
    assert!(
        failing
            .to_string()
            .starts_with("/bin/false failed (exit status: 1)"),
        "{failing}"
    );

    let distro = Target::probe("Bookworm/../x", None).unwrap_err();
    assert!(matches!(distro, ProbeError::InvalidDistro(_)), "{distro:?}");
}
