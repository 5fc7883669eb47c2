use super::*;
use crate::{Kind, NoIncludes};

fn change(name: &str, line: Option<usize>, from: &str, to: &str, sha256: &[&str]) -> Change {
    Change {
        name: name.into(),
        line,
        from: from.into(),
        to: to.into(),
        sha256: sha256.iter().map(|s| s.to_string()).collect(),
        requirements: None,
    }
}

/// Rewrites `input` with `changes` and checks the text and the names refused; the result must
/// still read as a requirement file.
fn check(input: &str, changes: &[Change], expected: &str, refused: &[&str]) {
    let out = rewrite_requirements(input, changes);
    assert_eq!(out.text, expected);
    let names: Vec<&str> = out.refused.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, refused, "{:?}", out.refused);
    crate::parse(Kind::RequirementsTxt, "r.txt", &out.text, &NoIncludes).unwrap();
}

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

#[test]
fn a_pin_changes_and_nothing_else() {
    check(
        "# top\nDjango == 4.2.1 ; python_version > \"3\"  # web\nrequests==2.0\n",
        &[change("django", Some(2), "4.2.1", "4.2.16", &[])],
        "# top\nDjango == 4.2.16 ; python_version > \"3\"  # web\nrequests==2.0\n",
        &[],
    );
    check(
        "a[x]===1.0\r\nb==2\r\n",
        &[change("b", Some(2), "2", "2.1", &[])],
        "a[x]===1.0\r\nb==2.1\r\n",
        &[],
    );
}

#[test]
fn hashes_are_replaced_in_the_layout_of_the_line() {
    // pip-compile: one hash per continuation line, a `# via` comment block after.
    let input = format!(
        "urllib3==1.26.4 \\\n    --hash=sha256:{A} \\\n    --hash=sha256:{B}\n    # via requests\nidna==3.10\n"
    );
    check(
        &input,
        &[change("urllib3", Some(1), "1.26.4", "1.26.20", &[C, B])],
        &format!(
            "urllib3==1.26.20 \\\n    --hash=sha256:{B} \\\n    --hash=sha256:{C}\n    # via requests\nidna==3.10\n"
        ),
        &[],
    );
    // All on one line, with a comment.
    check(
        &format!("urllib3==1.26.4 --hash=sha256:{A}  # pinned\n"),
        &[change("urllib3", Some(1), "1.26.4", "1.26.20", &[C])],
        &format!("urllib3==1.26.20 --hash=sha256:{C}  # pinned\n"),
        &[],
    );
}

#[test]
fn what_cannot_be_rewritten_is_refused_and_left_alone() {
    let input = format!("urllib3==1.26.4 --hash=sha256:{A}\nrange>=1\nx==1\n");
    check(
        &input,
        &[
            // Hash-checking mode and no hashes of the new version.
            change("urllib3", Some(1), "1.26.4", "1.26.20", &[]),
            change("range", Some(2), "1", "2", &[]),
            // Not what the line pins.
            change("x", Some(3), "2", "3", &[]),
            change("gone", Some(9), "1", "2", &[]),
        ],
        &input,
        &["urllib3", "range", "x", "gone"],
    );
}

#[test]
fn version_spans_point_at_the_version() {
    let text = "# c\n  Django == 4.2.1 ; python_version > \"3\"\n";
    assert_eq!(
        requirement_version_span(text, 2, "django"),
        Some(Span {
            start_line: 2,
            start_column: 13,
            end_line: 2,
            end_column: 18
        })
    );
    assert_eq!(requirement_version_span(text, 1, "django"), None);
}

const RENV: &str = r#"{
  "R": {
    "Version": "4.4.1",
    "Repositories": [
      {
        "Name": "CRAN",
        "URL": "https://packagemanager.posit.co/cran/latest"
      }
    ]
  },
  "Packages": {
    "DBI": {
      "Package": "DBI",
      "Version": "1.2.3",
      "Source": "Repository",
      "Repository": "CRAN",
      "Requirements": [
        "R",
        "methods"
      ],
      "Hash": "065ae649b05f1ff66bb0c793107508f5"
    },
    "gadget": { "Package": "gadget", "Version": "0.1.0", "Source": "Repository", "Title": "A \"gadget\"" }
  }
}
"#;

#[test]
fn renv_records_are_rewritten_in_renvs_layout() {
    let mut dbi = change("DBI", None, "1.2.3", "1.2.4", &[]);
    dbi.requirements = Some(vec!["R".into(), "methods".into(), "utils".into()]);
    let out = rewrite_renv(RENV, &[dbi, change("gadget", None, "0.1.0", "0.2-1", &[])]);
    assert!(out.refused.is_empty(), "{:?}", out.refused);
    let expected = RENV
        .replace(
            r#""Version": "1.2.3",
      "Source": "Repository",
      "Repository": "CRAN",
      "Requirements": [
        "R",
        "methods"
      ],
      "Hash": "065ae649b05f1ff66bb0c793107508f5"
    }"#,
            r#""Version": "1.2.4",
      "Source": "Repository",
      "Repository": "CRAN",
      "Requirements": [
        "R",
        "methods",
        "utils"
      ]
    }"#,
        )
        .replace(
            r#"{ "Package": "gadget", "Version": "0.1.0", "Source": "Repository", "Title": "A \"gadget\"" }"#,
            "{\n      \"Package\": \"gadget\",\n      \"Version\": \"0.2-1\",\n      \"Source\": \"Repository\"\n    }",
        );
    assert_eq!(out.text, expected);
    let m = crate::parse(Kind::RenvLock, "renv.lock", &out.text, &NoIncludes).unwrap();
    let versions: Vec<_> = m
        .entries
        .iter()
        .map(|e| e.version.clone().unwrap())
        .collect();
    assert_eq!(versions, ["1.2.4", "0.2-1"]);
    // Without new requirements, the stale ones go.
    let out = rewrite_renv(RENV, &[change("DBI", None, "1.2.3", "1.2.4", &[])]);
    assert!(!out.text.contains("methods"), "{}", out.text);
    // A record that is not at the version said, or absent: refused, file unchanged.
    let out = rewrite_renv(
        RENV,
        &[
            change("DBI", None, "9", "10", &[]),
            change("nope", None, "1", "2", &[]),
        ],
    );
    assert_eq!(out.text, RENV);
    assert_eq!(out.refused.len(), 2);
}

#[test]
fn renv_version_spans_cover_the_string() {
    assert_eq!(
        renv_version_span(RENV, "DBI"),
        Some(Span {
            start_line: 14,
            start_column: 18,
            end_line: 14,
            end_column: 25
        })
    );
    assert_eq!(renv_version_span(RENV, "nope"), None);
    assert_eq!(renv_version_span("not json", "DBI"), None);
}

#[test]
fn requirement_specifiers_of_requires_dist() {
    let s = |t: &str| crate::requirement_specifiers(t);
    assert_eq!(s("idna (<4,>=2.5)").as_deref(), Some("<4,>=2.5"));
    assert_eq!(
        s("urllib3<3,>=1.21.1; python_version >= \"3.8\"").as_deref(),
        Some("<3,>=1.21.1")
    );
    assert_eq!(s("six==1.16.0").as_deref(), Some("==1.16.0"));
    assert_eq!(s("charset-normalizer[x]").as_deref(), Some(""));
    assert_eq!(s("pkg @ https://example.com/pkg-1.0.tar.gz"), None);
}

#[test]
fn real_files_round_trip() {
    // Every pinned entry of the real requirement files moved to a new version, and back.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/manifests");
    for rel in [
        "requirements.txt/readthedocs__readthedocs.org/requirements/pip.txt",
        "requirements.txt/readthedocs__readthedocs.org/requirements/testing.txt",
    ] {
        let path = format!("{dir}/{rel}");
        let text = std::fs::read_to_string(&path).unwrap();
        let m = crate::parse(Kind::RequirementsTxt, &path, &text, &crate::FsLoader).unwrap();
        let changes: Vec<Change> = m
            .entries
            .iter()
            .filter(|e| e.version.is_some() && e.location.as_ref().unwrap().file == path)
            .map(|e| {
                let v = e.version.clone().unwrap();
                let mut c = change(
                    &e.name,
                    Some(e.location.as_ref().unwrap().line),
                    &v,
                    &format!("9!{v}"),
                    &[],
                );
                if !e.hashes.is_empty() {
                    c.sha256 = vec![A.into()];
                }
                c
            })
            .collect();
        assert!(changes.len() > 20, "{rel}");
        let out = rewrite_requirements(&text, &changes);
        assert!(out.refused.is_empty(), "{rel}: {:?}", out.refused);
        let again = crate::parse(Kind::RequirementsTxt, &path, &out.text, &NoIncludes).unwrap();
        let moved: Vec<_> = again
            .entries
            .iter()
            .filter(|e| e.version.as_deref().is_some_and(|v| v.starts_with("9!")))
            .collect();
        assert_eq!(moved.len(), changes.len(), "{rel}");
        assert_eq!(
            out.text.lines().filter(|l| l.contains('#')).count(),
            text.lines().filter(|l| l.contains('#')).count()
        );
    }
    for rel in [
        "renv.lock/08wparker__CLIF_sepsis__renv.lock",
        "renv.lock/pharmaverse__admiral__2023-09__renv.lock",
    ] {
        let path = format!("{dir}/{rel}");
        let text = std::fs::read_to_string(&path).unwrap();
        let m = crate::parse(Kind::RenvLock, &path, &text, &NoIncludes).unwrap();
        let changes: Vec<Change> = m
            .entries
            .iter()
            .filter(|e| e.from_registry())
            .map(|e| {
                let v = e.version.clone().unwrap();
                change(&e.name, None, &v, &format!("{v}.9"), &[])
            })
            .collect();
        let out = rewrite_renv(&text, &changes);
        assert!(out.refused.is_empty(), "{rel}: {:?}", out.refused);
        let again = crate::parse(Kind::RenvLock, &path, &out.text, &NoIncludes).unwrap();
        assert_eq!(again.entries.len(), m.entries.len());
        let moved = again
            .entries
            .iter()
            .filter(|e| e.version.as_deref().unwrap().ends_with(".9"));
        assert_eq!(moved.count(), changes.len());
        assert!(changes.len() > 50, "{rel}");
        for e in &m.entries {
            assert!(renv_version_span(&text, &e.name).is_some(), "{}", e.name);
        }
    }
}
