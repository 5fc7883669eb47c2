use super::*;

/// Members as `path`, `path/` (directory), `path -> target` or `path => target` (hard link),
/// added in order; the first refusal, or the one `finish` reports.
fn check(floor: usize, members: &[&str], expected: Result<(), &str>) {
    let mut confinement = Confinement::new(floor);
    let mut result = Ok(());
    for member in members {
        let (path, kind) = if let Some((path, target)) = member.split_once(" -> ") {
            (path, Member::Symlink(target))
        } else if let Some((path, target)) = member.split_once(" => ") {
            (path, Member::HardLink(target))
        } else if member.ends_with('/') {
            (*member, Member::Dir)
        } else {
            (*member, Member::File)
        };
        let parts = match components(path) {
            Ok(parts) => parts,
            Err(reason) => {
                result = Err(format!("{path}: {reason}"));
                break;
            }
        };
        if let Err(refusal) = confinement.add(&parts, path, kind) {
            result = Err(format!("{path}: {refusal:?}"));
            break;
        }
    }
    if result.is_ok() {
        result = confinement
            .finish()
            .map_err(|l| format!("{}: finish {}", l.path, l.target));
    }
    assert_eq!(
        result.as_ref().map(|_| ()).map_err(String::as_str),
        expected,
        "{members:?}"
    );
}

#[test]
fn member_paths() {
    assert_eq!(components("a/./b//c/"), Ok(vec!["a", "b", "c"]));
    assert_eq!(components("./"), Ok(vec![]));
    assert_eq!(components(""), Err("is empty"));
    assert_eq!(components("../x"), Err("contains a '..' component"));
    assert_eq!(components("a/../../x"), Err("contains a '..' component"));
    assert_eq!(components("/etc/x"), Err("is absolute"));
    assert_eq!(components("C:/x"), Err("starts with a drive letter"));
    assert_eq!(components("a\\..\\x"), Err("contains a backslash"));
    assert_eq!(components("a\0b"), Err("contains a NUL byte"));
}

#[test]
fn links_inside_are_accepted() {
    check(
        0,
        &[
            "p/",
            "p/setup.py",
            "p/docs/link -> ../setup.py",
            "p/copy.py => p/setup.py",
            "p/up -> ..",
            "p/sub/deep/x",
            "p/d -> sub/deep",
            "p/e -> d/../deep/x",
            "p/f -> d/..",
        ],
        Ok(()),
    );
    // A link to a target that comes later, and a dangling one.
    check(
        1,
        &["p/a -> b/c", "p/b/c/x", "p/dangling -> nothing"],
        Ok(()),
    );
}

#[test]
fn traversal_and_absolute_targets_are_refused() {
    check(0, &["p/l -> ../../etc/passwd"], Err("p/l: LinkOutside"));
    check(0, &["p/l -> /etc/passwd"], Err("p/l: LinkOutside"));
    check(0, &["p/l -> C:/x"], Err("p/l: LinkOutside"));
    check(0, &["p/l -> "], Err("p/l: LinkOutside"));
    check(0, &["p/h => ../etc/passwd"], Err("p/h: LinkOutside"));
    check(0, &["p/h => /etc/passwd"], Err("p/h: LinkOutside"));
    // The floor: the root, or the top-level directory.
    check(0, &["p/l -> .."], Ok(()));
    check(1, &["p/l -> .."], Err("p/l: LinkOutside"));
    check(1, &["p/l -> x/../.."], Err("p/l: LinkOutside"));
}

#[test]
fn chained_links_are_resolved() {
    // The reported escape: each link alone stays inside.
    check(
        0,
        &["p/a -> ..", "p/a/b -> ..", "p/a/b/escaped.txt"],
        Err("p/a/b: ThroughLink(\"p/a\")"),
    );
    // `..` applies where the link leads, not to its lexical parent.
    check(
        0,
        &["p/sub/", "p/sub/up -> ../..", "p/l -> sub/up/../x"],
        Err("p/l: LinkOutside"),
    );
    check(
        1,
        &["p/sub/", "p/sub/up -> ..", "p/l -> sub/up/../../.."],
        Err("p/l: LinkOutside"),
    );
    // Through a chain of links to a directory.
    check(
        0,
        &["p/x/y/", "p/a -> x/y", "p/b -> a", "p/c -> b/../../.."],
        Ok(()),
    );
    check(
        0,
        &["p/x/y/", "p/a -> x/y", "p/b -> a", "p/c -> b/../../../.."],
        Err("p/c: LinkOutside"),
    );
    // Hard links resolve through symbolic links too.
    check(
        0,
        &["p/up -> ..", "p/h => p/up/../x"],
        Err("p/h: LinkOutside"),
    );
    // Case-insensitively.
    check(
        0,
        &["p/Up -> ..", "p/l -> up/../.."],
        Err("p/l: LinkOutside"),
    );
}

#[test]
fn members_through_links_are_refused() {
    check(
        0,
        &["p/a -> ..", "p/a/x"],
        Err("p/a/x: ThroughLink(\"p/a\")"),
    );
    check(
        0,
        &["p/a -> sub", "p/a/"],
        Err("p/a/: ThroughLink(\"p/a\")"),
    );
    check(
        0,
        &["p/a -> sub", "p/A/x"],
        Err("p/A/x: ThroughLink(\"p/a\")"),
    );
    check(0, &["p/a -> sub", "p/a"], Err("p/a: ThroughLink(\"p/a\")"));
    check(
        0,
        &["p/a -> b", "p/a -> c"],
        Err("p/a: ThroughLink(\"p/a\")"),
    );
    // A link over what is there already.
    check(0, &["p/a/x", "p/a -> .."], Err("p/a: OverExisting"));
    check(0, &["p/a", "p/a -> b"], Err("p/a: OverExisting"));
}

#[test]
fn later_links_are_checked_again() {
    // `p/l` looks inside when it arrives (`x` is nothing yet), but `x` turns out to be a link.
    check(1, &["p/l -> x/..", "p/x -> .."], Err("p/x: LinkOutside"));
    check(
        0,
        &["p/l -> x/../..", "p/x -> .."],
        Err("p/l: finish x/../.."),
    );
}

#[test]
fn loops_and_long_chains_are_refused() {
    check(0, &["p/a -> b", "p/b -> a"], Err("p/a: finish b"));
    check(0, &["p/a -> a/x"], Err("p/a: finish a/x"));
    let mut confinement = Confinement::new(0);
    let target = "x/".repeat(10_000);
    let mut refused = None;
    for i in 0..1_000 {
        let path = format!("p/l{i}");
        if let Err(refusal) = confinement.add(&["p", &path[2..]], &path, Member::Symlink(&target)) {
            refused = Some(refusal);
            break;
        }
    }
    assert_eq!(refused, Some(Refusal::TooComplex));
}
