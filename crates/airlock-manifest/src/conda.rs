//! conda's `environment.yml` / `environment.yaml`.
//!
//! Conda packages (the strings of `dependencies`) are not served by airlock: each lands in
//! [`Manifest::not_covered`]; a `python` spec also sets [`Manifest::requires`]. The `pip:`
//! list is what conda hands to pip as a requirements file written beside the YAML file, so its
//! items are read as requirement lines of that file (options, `-r`, `-e` included). `name`,
//! `channels`, `prefix` and `variables` are accepted and not recorded; other top-level keys
//! are ignored, as conda only warns about them.

use yaml_serde::Value;

use crate::limits::Budget;
use crate::requirements;
use crate::{Kind, Loader, Manifest, ManifestError, NotCovered};

/// What [`NotCovered::why`] says for a conda package.
const CONDA_WHY: &str = "conda package: airlock serves PyPI and CRAN, not conda channels";

pub(crate) fn parse(
    name: &str,
    text: &str,
    loader: &dyn Loader,
    budget: &mut Budget<'_>,
) -> Result<Manifest, ManifestError> {
    let syntax = |message: String| ManifestError::Syntax {
        file: name.to_owned(),
        kind: Kind::EnvironmentYml,
        message,
    };
    let root: Value = yaml_serde::from_str(text).map_err(|e| syntax(e.to_string()))?;
    let root = match root {
        Value::Mapping(root) => root,
        Value::Null => return Err(syntax("the file is empty".to_owned())),
        _ => return Err(syntax("the top level is not a mapping".to_owned())),
    };
    let mut manifest = Manifest {
        kind: Kind::EnvironmentYml,
        entries: Vec::new(),
        not_covered: Vec::new(),
        indexes: Vec::new(),
        requires: None,
    };
    let dependencies = match root.get("dependencies") {
        None | Some(Value::Null) => return Ok(manifest),
        Some(Value::Sequence(items)) => items,
        Some(_) => return Err(syntax("dependencies is not a list".to_owned())),
    };

    let mut pip_lines = PipLines::new(text);
    for item in dependencies {
        match item {
            Value::Null => {}
            Value::String(spec) => {
                let spec = spec.trim();
                if spec.is_empty() {
                    continue;
                }
                if let Some(python) = python_version(spec) {
                    manifest.requires = Some(format!("python {python}"));
                }
                manifest.not_covered.push(NotCovered {
                    spec: spec.to_owned(),
                    why: CONDA_WHY.to_owned(),
                });
            }
            Value::Mapping(section) => {
                for (key, value) in section {
                    match key.as_str() {
                        Some("pip") => {
                            let items = pip_items(value).map_err(syntax)?;
                            budget.entries(name, manifest.entries.len() + items.len())?;
                            let lines = pip_lines.locate(&items);
                            let lines: Vec<(usize, &str)> =
                                lines.iter().map(|(n, l)| (*n, l.as_str())).collect();
                            requirements::read_lines(name, &lines, loader, &mut manifest, budget)?;
                        }
                        _ => manifest.not_covered.push(NotCovered {
                            spec: match key {
                                Value::String(key) => format!("{key}:"),
                                other => format!("{}:", scalar_text(other)),
                            },
                            why:
                                "a dependency section other than pip:, which airlock does not read"
                                    .to_owned(),
                        }),
                    }
                }
            }
            other => {
                return Err(syntax(format!(
                    "dependencies: {} is neither a package spec nor a pip: list",
                    scalar_text(other)
                )));
            }
        }
    }
    Ok(manifest)
}

/// The strings of a `pip:` list.
fn pip_items(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Sequence(items) => items
            .iter()
            .filter(|item| !item.is_null())
            .map(|item| match item {
                Value::String(line) => Ok(line.clone()),
                other => Err(format!(
                    "pip: {} is not a requirement line",
                    scalar_text(other)
                )),
            })
            .collect(),
        _ => Err("pip: is not a list".to_owned()),
    }
}

/// A short text for a YAML value in messages.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

/// The version part of a conda spec for python: `python=3.8.5=h123_0` -> `3.8.5`,
/// `python>=3.9` -> `>=3.9`, `conda-forge::python 3.11.*` -> `3.11.*`; `None` for other
/// packages or a bare `python`.
fn python_version(spec: &str) -> Option<String> {
    let spec = spec.rsplit_once("::").map_or(spec, |(_, s)| s).trim();
    let end = spec
        .find(|c: char| c.is_whitespace() || matches!(c, '=' | '<' | '>' | '!' | '~' | '[' | ','))
        .unwrap_or(spec.len());
    if !spec[..end].eq_ignore_ascii_case("python") {
        return None;
    }
    let rest = spec[end..].trim_start();
    if rest.starts_with('[') {
        return None;
    }
    // `=` (fuzzy) and `==` (exact) are dropped, other operators kept; a build string follows
    // a second `=` or a space.
    let rest = rest
        .strip_prefix("==")
        .or_else(|| rest.strip_prefix('='))
        .unwrap_or(rest);
    let version = match rest.find(|c: char| c.is_whitespace()) {
        Some(space) => &rest[..space],
        None => rest,
    };
    let version = match version.char_indices().find(|&(i, c)| {
        c == '='
            && i > 0
            && !matches!(version.as_bytes()[i - 1], b'<' | b'>' | b'!' | b'=' | b'~')
            && version.as_bytes().get(i + 1) != Some(&b'=')
    }) {
        Some((i, _)) => &version[..i],
        None => version,
    };
    (!version.is_empty()).then(|| version.to_owned())
}

/// Finds the YAML lines of `pip:` items, for locations. YAML values carry no positions here,
/// so the text is searched: each item on the first line at or after the previous one that
/// contains it, else the line of the `pip:` key. The search for one item looks at most
/// [`LOOKAHEAD_BYTES`] ahead, so items written differently from their values (escapes,
/// folding) cost a bounded search each rather than the rest of the file.
const LOOKAHEAD_BYTES: usize = 16 * 1024;

struct PipLines<'a> {
    lines: Vec<&'a str>,
    /// 0-based index of the next line to look at.
    cursor: usize,
}

impl<'a> PipLines<'a> {
    fn new(text: &'a str) -> PipLines<'a> {
        PipLines {
            lines: text.lines().collect(),
            cursor: 0,
        }
    }

    /// `(line number, physical line)` for every line of every item (an item may span lines).
    fn locate(&mut self, items: &[String]) -> Vec<(usize, String)> {
        let key = self.lines[self.cursor.min(self.lines.len())..]
            .iter()
            .position(|l| {
                let l = l.trim_start().trim_start_matches('-').trim_start();
                l.starts_with("pip:") || l.starts_with("\"pip\":") || l.starts_with("'pip':")
            })
            .map(|p| self.cursor + p);
        let fallback = key.map_or(1, |k| k + 1);
        if let Some(k) = key {
            self.cursor = k + 1;
        }
        let mut out = Vec::new();
        for item in items {
            let first = item.lines().next().unwrap_or("").trim();
            let found = (!first.is_empty())
                .then(|| {
                    let mut scanned = 0usize;
                    self.lines.get(self.cursor..).and_then(|rest| {
                        rest.iter()
                            .take_while(|l| {
                                scanned += l.len() + 1;
                                scanned <= LOOKAHEAD_BYTES
                            })
                            .position(|l| l.contains(first))
                    })
                })
                .flatten()
                .map(|p| self.cursor + p);
            let number = match found {
                Some(i) => {
                    self.cursor = i + 1;
                    i + 1
                }
                None => fallback,
            };
            let physical = requirements::physical_lines(item);
            if physical.is_empty() {
                out.push((number, String::new()));
            }
            for (offset, line) in physical {
                out.push((number + offset - 1, line.to_owned()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{Entry, MapLoader, NoIncludes, Origin};

    /// This module's reading through the crate's entry point (limits included).
    fn parse(name: &str, text: &str, loader: &dyn Loader) -> Result<Manifest, ManifestError> {
        crate::parse(Kind::EnvironmentYml, name, text, loader)
    }

    fn show(e: &Entry) -> String {
        let mut out = e.name.clone();
        if let Some(v) = &e.version {
            out += &format!(" =={v}");
        }
        if let Some(s) = &e.specifier {
            out += &format!(" {s}");
        }
        match &e.origin {
            Origin::Registry { index: None } => {}
            other => out += &format!(" {other:?}"),
        }
        if e.editable {
            out += " editable";
        }
        if let Some(l) = &e.location {
            out += &format!(" ({}:{})", l.file, l.line);
        }
        out
    }

    /// Parses `input` as `env/environment.yml` with `files` beside it; compares requires, the
    /// specs not covered and the entries.
    fn check_files(
        input: &str,
        files: &[(&str, &str)],
        requires: Option<&str>,
        conda: &[&str],
        expected: &[&str],
    ) -> Manifest {
        let files: BTreeMap<String, String> = files
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let m = parse("env/environment.yml", input, &MapLoader { files: &files }).unwrap();
        assert_eq!(m.kind, Kind::EnvironmentYml);
        assert_eq!(m.requires.as_deref(), requires);
        let specs: Vec<&str> = m
            .not_covered
            .iter()
            .filter(|n| n.why == CONDA_WHY)
            .map(|n| n.spec.as_str())
            .collect();
        assert_eq!(specs, conda);
        assert_eq!(m.entries.iter().map(show).collect::<Vec<_>>(), expected);
        m
    }

    fn check(input: &str, requires: Option<&str>, conda: &[&str], expected: &[&str]) -> Manifest {
        check_files(input, &[], requires, conda, expected)
    }

    fn error(input: &str) -> ManifestError {
        parse("environment.yml", input, &NoIncludes).unwrap_err()
    }

    #[test]
    fn conda_specs_are_not_covered_and_python_sets_requires() {
        let m = check(
            "name: control\nchannels:\n  - pytorch\n  - defaults\nprefix: /opt/env\nvariables:\n  A: b\n\
             dependencies:\n  - python=3.8.5\n  - pip=20.3\n  - pytorch=1.12.1=py3.8_cuda11.3_0\n\
             \x20 - conda-forge::numpy>=1.26 # comment\n  # - commented\n  - lxml\n",
            Some("python 3.8.5"),
            &[
                "python=3.8.5",
                "pip=20.3",
                "pytorch=1.12.1=py3.8_cuda11.3_0",
                "conda-forge::numpy>=1.26",
                "lxml",
            ],
            &[],
        );
        assert!(m.indexes.is_empty());
        assert_eq!(m.not_covered[0].why, CONDA_WHY);
    }

    #[test]
    fn python_specs() {
        for (spec, version) in [
            ("python=3.8.5", Some("3.8.5")),
            ("python==3.11.4", Some("3.11.4")),
            ("python>=3.9", Some(">=3.9")),
            ("python>=3.9,<3.12", Some(">=3.9,<3.12")),
            ("python 3.10.*", Some("3.10.*")),
            ("python 3.9 *_cpython", Some("3.9")),
            ("python=3.10.12=h955ad1f_0", Some("3.10.12")),
            ("conda-forge::python=3.12", Some("3.12")),
            ("python", None),
            ("python[version='>=3.9']", None),
            ("pythonnet=3.0", None),
            ("ipython=8", None),
        ] {
            assert_eq!(python_version(spec).as_deref(), version, "{spec}");
        }
    }

    #[test]
    fn pip_section_is_read_as_requirement_lines() {
        let m = check(
            "name: x\ndependencies:\n  - python>=3.9\n  - pip\n  - pip:\n      - gradio==3.16.2\n\
             \x20     - test-tube>=0.7.5\n      - jax # not a comment in YAML terms\n\
             \x20     - --extra-index-url https://download.pytorch.org/whl/cu118\n\
             \x20     - \"git+https://github.com/org/repo.git@v1#egg=repo\"\n      - -e ./local\n",
            Some("python >=3.9"),
            &["python>=3.9", "pip"],
            &[
                "gradio ==3.16.2 (env/environment.yml:6)",
                "test-tube >=0.7.5 (env/environment.yml:7)",
                "jax (env/environment.yml:8)",
                "repo Vcs { url: \"git+https://github.com/org/repo.git\", reference: Some(\"v1\") } (env/environment.yml:10)",
                "./local Path { path: \"./local\" } editable (env/environment.yml:11)",
            ],
        );
        assert_eq!(m.indexes, ["https://download.pytorch.org/whl/cu118"]);
    }

    #[test]
    fn pip_includes_are_relative_to_the_yml_file() {
        check_files(
            "dependencies:\n  - pip:\n    - -r requirements.txt\n    - -c ../constraints.txt\n    - extra==1\n",
            &[
                ("env/requirements.txt", "numpy==1.26.0\n"),
                ("constraints.txt", "urllib3<2\n"),
            ],
            None,
            &[],
            &[
                "numpy ==1.26.0 (env/requirements.txt:1)",
                "urllib3 <2 (constraints.txt:1)",
                "extra ==1 (env/environment.yml:5)",
            ],
        );
        match error("dependencies:\n  - pip:\n    - -r missing.txt\n") {
            ManifestError::Include {
                file, line, target, ..
            } => {
                assert_eq!(
                    (file.as_str(), line, target.as_str()),
                    ("environment.yml", 3, "missing.txt")
                );
            }
            other => panic!("{other:?}"),
        }
        match error("dependencies:\n  - pip:\n    - ok==1\n    - --bogus\n") {
            ManifestError::Line { line, message, .. } => {
                assert_eq!((line, message.as_str()), (4, "unknown option --bogus"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn odd_shapes() {
        // No dependencies; an empty pip list; a flow-style list; a block scalar item with a
        // continuation inside it; two pip sections.
        check("name: empty\n", None, &[], &[]);
        check("dependencies:\n  - pip:\n", None, &[], &[]);
        check(
            "dependencies: [numpy, {pip: [requests==2.0]}]\n",
            None,
            &["numpy"],
            &["requests ==2.0 (env/environment.yml:1)"],
        );
        check(
            "dependencies:\n  - pip:\n    - |\n      six==1.16 \\\n        --hash=sha256:00\n  - pip:\n    - idna\n",
            None,
            &[],
            &[
                "six ==1.16 (env/environment.yml:4)",
                "idna (env/environment.yml:7)",
            ],
        );
        let m = check("dependencies:\n  - r: [ggplot2]\n", None, &[], &[]);
        assert_eq!(m.not_covered[0].spec, "r:");
    }

    #[test]
    fn errors() {
        let message = |e: ManifestError| match e {
            ManifestError::Syntax {
                file,
                kind,
                message,
            } => {
                assert_eq!(
                    (file.as_str(), kind),
                    ("environment.yml", Kind::EnvironmentYml)
                );
                message
            }
            other => panic!("{other:?}"),
        };
        let bad = message(error("name: x\ndependencies:\n  - a\n - b\n"));
        assert!(bad.contains("line 4"), "{bad}");
        assert_eq!(message(error("")), "the file is empty");
        assert_eq!(message(error("- a\n")), "the top level is not a mapping");
        assert_eq!(
            message(error("dependencies: numpy\n")),
            "dependencies is not a list"
        );
        assert_eq!(
            message(error("dependencies:\n  - 3\n")),
            "dependencies: 3 is neither a package spec nor a pip: list"
        );
        assert_eq!(
            message(error("dependencies:\n  - pip: 3\n")),
            "pip: is not a list"
        );
        assert_eq!(
            message(error("dependencies:\n  - pip: [1]\n")),
            "pip: 1 is not a requirement line"
        );
    }
}
