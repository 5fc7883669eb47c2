//! `renv.lock` (JSON), of renv 0.x and 1.x.
//!
//! `R.Version` becomes [`Manifest::requires`] (`R 4.4.1`), `R.Repositories` the indexes
//! (`Name=URL`), each record of `Packages` a CRAN-ecosystem entry. The origin follows renv's
//! own reading of a record (`renv_record_source` and the `renv_retrieve_*` functions):
//! `Source` first (`Repository`, old `CRAN`, `Bioconductor`, `GitHub`, `GitLab`, `Bitbucket`,
//! `git`, `URL`, `Local`, or a file path), then `Repository` or `RemoteType` when there is no
//! `Source`. renv's `Hash` digests DESCRIPTION fields, not an archive, so it is kept under the
//! algorithm `renv`. Fields the parser does not use (`Requirements`, the DESCRIPTION fields of
//! renv 1.1, `Remote*` it does not need) may hold anything.

use std::fmt;

use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::{Ecosystem, Entry, Hash, Kind, Manifest, ManifestError, Origin};

pub(crate) fn parse(name: &str, text: &str) -> Result<Manifest, ManifestError> {
    let syntax = |message: String| ManifestError::Syntax {
        file: name.to_owned(),
        kind: Kind::RenvLock,
        message,
    };
    let root: Value = serde_json::from_str(text).map_err(|e| syntax(e.to_string()))?;
    let root = root
        .as_object()
        .ok_or_else(|| syntax("the top level is not an object".to_owned()))?;

    let mut manifest = Manifest {
        kind: Kind::RenvLock,
        entries: Vec::new(),
        not_covered: Vec::new(),
        indexes: Vec::new(),
        requires: None,
    };
    // Repository name -> URL.
    let mut repositories: Vec<(String, String)> = Vec::new();
    if let Some(r) = root.get("R") {
        let r = r
            .as_object()
            .ok_or_else(|| syntax("the R field is not an object".to_owned()))?;
        // Old renv versions could write an empty array here.
        if let Some(version) = r.get("Version").and_then(Value::as_str) {
            manifest.requires = Some(format!("R {version}"));
        }
        repositories = read_repositories(r.get("Repositories")).map_err(syntax)?;
    }
    for (repo_name, url) in &repositories {
        manifest.indexes.push(if repo_name.is_empty() {
            url.clone()
        } else {
            format!("{repo_name}={url}")
        });
    }
    let bioconductor = match root.get("Bioconductor") {
        Some(Value::Object(b)) => {
            text_field(b, "Version").map_err(|m| syntax(format!("the Bioconductor field: {m}")))?
        }
        Some(Value::Null) | None => None,
        Some(_) => return Err(syntax("the Bioconductor field is not an object".to_owned())),
    };

    let packages = match root.get("Packages") {
        Some(Value::Object(packages)) => Some(packages),
        Some(Value::Null) | None => None,
        Some(_) => return Err(syntax("the Packages field is not an object".to_owned())),
    };
    for key in package_order(text, packages) {
        let Some(record) = packages.and_then(|p| p.get(&key)) else {
            continue;
        };
        let key = key.as_str();
        let record = record
            .as_object()
            .ok_or_else(|| syntax(format!("package {key}: the record is not an object")))?;
        let entry = read_record(key, record, &repositories, bioconductor)
            .map_err(|m| syntax(format!("package {key}: {m}")))?;
        manifest.entries.push(entry);
    }
    Ok(manifest)
}

/// The keys of `Packages` in file order (a JSON map of serde_json may be sorted), each once.
fn package_order(text: &str, packages: Option<&Map<String, Value>>) -> Vec<String> {
    #[derive(Deserialize)]
    struct Lock {
        #[serde(rename = "Packages", default)]
        packages: Option<Keys>,
    }
    struct Keys(Vec<String>);
    impl<'de> Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct KeysVisitor;
            impl<'de> Visitor<'de> for KeysVisitor {
                type Value = Keys;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a map")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(key) = map.next_key::<String>()? {
                        map.next_value::<IgnoredAny>()?;
                        keys.push(key);
                    }
                    Ok(Keys(keys))
                }
            }
            deserializer.deserialize_map(KeysVisitor)
        }
    }
    let mut order = match serde_json::from_str::<Lock>(text) {
        Ok(Lock {
            packages: Some(Keys(keys)),
        }) => keys,
        // A duplicated `Packages` field, say: the map's own order.
        _ => packages
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default(),
    };
    let mut seen = std::collections::HashSet::new();
    order.retain(|k| seen.insert(k.clone()));
    order
}

/// `[{"Name": "CRAN", "URL": "…"}]`, or the `{"CRAN": "…"}` renv reads too.
fn read_repositories(value: Option<&Value>) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let item = item.as_object().ok_or_else(|| {
                    "the R.Repositories field: an item is not an object".to_owned()
                })?;
                let name = text_field(item, "Name")
                    .map_err(|m| format!("the R.Repositories field: {m}"))?;
                let url = text_field(item, "URL")
                    .map_err(|m| format!("the R.Repositories field: {m}"))?;
                if let Some(url) = url {
                    out.push((name.unwrap_or("").to_owned(), url.to_owned()));
                }
            }
        }
        Some(Value::Object(map)) => {
            for (name, url) in map {
                let url = url
                    .as_str()
                    .ok_or_else(|| format!("the R.Repositories field: {name} is not a string"))?;
                out.push((name.clone(), url.to_owned()));
            }
        }
        Some(_) => return Err("the R.Repositories field is not a list".to_owned()),
    }
    Ok(out)
}

/// A string field: `None` when absent or null, an error when of another type.
fn text_field<'a>(record: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, String> {
    match record.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{field} is not a string")),
    }
}

fn read_record(
    key: &str,
    record: &Map<String, Value>,
    repositories: &[(String, String)],
    bioconductor: Option<&str>,
) -> Result<Entry, String> {
    let field = |name: &str| text_field(record, name);
    let mut entry = Entry::new(Ecosystem::Cran, field("Package")?.unwrap_or(key));
    entry.version = field("Version")?.map(str::to_owned);
    if let Some(hash) = field("Hash")?.filter(|h| !h.is_empty()) {
        entry.hashes.push(Hash {
            algorithm: "renv".to_owned(),
            value: hash.to_ascii_lowercase(),
        });
    }

    let repository = field("Repository")?;
    let remote_type = field("RemoteType")?;
    let written_source = field("Source")?;
    let source = match (written_source, repository, remote_type) {
        (Some(source), _, _) => source,
        (None, Some(_), _) => "Repository",
        (None, None, Some(remote_type)) => remote_type,
        (None, None, None) => "unknown",
    };
    // A source that is a file path (an archive installed from disk).
    if source.contains(['/', '\\']) {
        entry.origin = Origin::Path {
            path: source.to_owned(),
        };
        return Ok(entry);
    }
    let mut source = source.to_ascii_lowercase();
    if matches!(source.as_str(), "git2r" | "xgit") {
        source = "git".to_owned();
    }
    // Old lockfiles wrote `Source: CRAN`; `RemoteType: standard` is a repository package.
    let old_cran = source == "cran";
    if old_cran || source == "standard" {
        source = "repository".to_owned();
    }
    if source == "repository"
        && repository.is_some_and(|r| {
            r.eq_ignore_ascii_case("bioc") || r.eq_ignore_ascii_case("bioconductor")
        })
    {
        source = "bioconductor".to_owned();
    }

    let reference = || -> Result<Option<String>, String> {
        Ok(field("RemoteSha")?
            .or(field("RemoteRef")?)
            .filter(|r| !r.is_empty())
            .map(str::to_owned))
    };
    let remote_url = || -> Result<&str, String> {
        field("RemoteUrl")?
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                format!(
                    "Source {} without RemoteUrl",
                    written_source.unwrap_or(&source)
                )
            })
    };

    entry.origin = match source.as_str() {
        "repository" => {
            let named = repository.or(old_cran.then_some("CRAN"));
            Origin::Registry {
                index: named.map(|name| {
                    repositories
                        .iter()
                        .find(|(n, _)| n == name)
                        .map_or(name, |(_, url)| url.as_str())
                        .to_owned()
                }),
            }
        }
        "bioconductor" => Origin::Registry {
            index: Some(match bioconductor {
                Some(version) => format!("Bioconductor {version}"),
                None => "Bioconductor".to_owned(),
            }),
        },
        "github" | "gitlab" | "bitbucket" => Origin::Vcs {
            url: match field("RemoteUrl")? {
                Some(url) if !url.is_empty() => url.to_owned(),
                _ => hosted_url(&source, record)?,
            },
            reference: reference()?,
        },
        "git" => Origin::Vcs {
            url: remote_url()?.to_owned(),
            reference: reference()?,
        },
        "url" => Origin::Url {
            url: remote_url()?.to_owned(),
        },
        "local" => Origin::Path {
            path: field("Path")?
                .or(field("RemoteUrl")?)
                .filter(|p| !p.is_empty())
                .ok_or_else(|| "Source Local without RemoteUrl or Path".to_owned())?
                .to_owned(),
        },
        // Archives in the project's cellar (`renv/cellar`, or RENV_PATHS_CELLAR).
        "cellar" => Origin::Path {
            path: "renv/cellar".to_owned(),
        },
        // Anything else (`unknown`, a source of a newer renv): renv then searches the
        // repositories, so does this.
        _ => Origin::Registry {
            index: repository.map(str::to_owned),
        },
    };
    Ok(entry)
}

/// `https://github.com/user/repo` from RemoteHost (an API host), RemoteUsername and
/// RemoteRepo, or from RemotePkgRef (`user/repo`).
fn hosted_url(source: &str, record: &Map<String, Value>) -> Result<String, String> {
    let field = |name: &str| text_field(record, name).map(|v| v.filter(|s| !s.is_empty()));
    let (user, repo) = match (field("RemoteUsername")?, field("RemoteRepo")?) {
        (Some(user), Some(repo)) => (user.to_owned(), repo.to_owned()),
        _ => {
            let pkg_ref = field("RemotePkgRef")?
                .ok_or_else(|| format!("{source} record without RemoteUsername and RemoteRepo"))?;
            let pkg_ref = pkg_ref.split_once("::").map_or(pkg_ref, |(_, r)| r);
            let pkg_ref = pkg_ref.split(['@', '#']).next().unwrap_or(pkg_ref);
            let (user, repo) = pkg_ref
                .split_once('/')
                .ok_or_else(|| format!("{source} record without RemoteUsername and RemoteRepo"))?;
            let repo = repo.split('/').next().unwrap_or(repo);
            (user.to_owned(), repo.to_owned())
        }
    };
    let default_host = match source {
        "github" => "api.github.com",
        "gitlab" => "gitlab.com",
        _ => "api.bitbucket.org/2.0",
    };
    let host = field("RemoteHost")?.unwrap_or(default_host);
    let host = host
        .split_once("://")
        .map_or(host, |(_, rest)| rest)
        .trim_end_matches('/');
    // API hosts -> the hosts people clone from.
    let host = match host {
        "api.github.com" => "github.com",
        "api.bitbucket.org/2.0" | "api.bitbucket.org" => "bitbucket.org",
        other => other.strip_suffix("/api/v3").unwrap_or(other),
    };
    Ok(format!("https://{host}/{user}/{repo}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One entry on one line: `name version origin hash`.
    fn show(e: &Entry) -> String {
        assert_eq!(e.ecosystem, Ecosystem::Cran);
        let mut out = e.name.clone();
        if let Some(v) = &e.version {
            out += &format!(" {v}");
        }
        out += &match &e.origin {
            Origin::Registry { index: None } => " registry".to_owned(),
            Origin::Registry { index: Some(i) } => format!(" registry={i}"),
            Origin::Vcs {
                url,
                reference: None,
            } => format!(" vcs={url}"),
            Origin::Vcs {
                url,
                reference: Some(r),
            } => format!(" vcs={url}@{r}"),
            Origin::Url { url } => format!(" url={url}"),
            Origin::Path { path } => format!(" path={path}"),
        };
        for h in &e.hashes {
            out += &format!(" {}:{}", h.algorithm, h.value);
        }
        out
    }

    /// Parses `input` and compares requires, indexes and entries.
    fn check(input: &str, requires: Option<&str>, indexes: &[&str], expected: &[&str]) {
        let m = parse("renv.lock", input).unwrap();
        assert_eq!(m.kind, Kind::RenvLock);
        assert_eq!(m.requires.as_deref(), requires);
        assert_eq!(m.indexes, indexes);
        assert_eq!(m.entries.iter().map(show).collect::<Vec<_>>(), expected);
        assert!(m.not_covered.is_empty());
    }

    fn error(input: &str) -> String {
        match parse("renv.lock", input).unwrap_err() {
            ManifestError::Syntax {
                file,
                kind,
                message,
            } => {
                assert_eq!((file.as_str(), kind), ("renv.lock", Kind::RenvLock));
                message
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn new_format_with_requirements() {
        check(
            r#"{
  "R": {"Version": "4.4.1", "Repositories": [{"Name": "CRAN", "URL": "https://packagemanager.posit.co/cran/latest"}]},
  "Packages": {
    "DBI": {"Package": "DBI", "Version": "1.2.3", "Source": "Repository", "Repository": "CRAN",
            "Requirements": ["R", "methods"], "Hash": "065AE649b05f1ff66bb0c793107508f5"},
    "RcppTOML": {"Package": "RcppTOML", "Version": "0.2.2", "Source": "Repository", "Repository": "RSPM",
                 "Hash": "c232938949fcd8126034419cc529333a"}
  }
}"#,
            Some("R 4.4.1"),
            &["CRAN=https://packagemanager.posit.co/cran/latest"],
            &[
                "DBI 1.2.3 registry=https://packagemanager.posit.co/cran/latest renv:065ae649b05f1ff66bb0c793107508f5",
                "RcppTOML 0.2.2 registry=RSPM renv:c232938949fcd8126034419cc529333a",
            ],
        );
    }

    #[test]
    fn old_format() {
        // renv 0.x: a `renv` section, `Source: CRAN`, no Requirements, no Repository.
        check(
            r#"{
  "renv": {"Version": "0.9.3"},
  "R": {"Version": "3.6.1", "Repositories": [{"Name": "CRAN", "URL": "https://cran.rstudio.com"}]},
  "Packages": {
    "markdown": {"Package": "markdown", "Version": "1.0", "Source": "CRAN", "Hash": "4584a57f565dd7987d59dda3a02cfb41"},
    "mime": {"Package": "mime", "Version": "0.7", "Source": "Repository", "Repository": "CRAN"},
    "nosource": {"Package": "nosource", "Version": "1.0", "Repository": "CRAN"},
    "mystery": {"Package": "mystery", "Version": "2.0", "Source": "unknown"}
  }
}"#,
            Some("R 3.6.1"),
            &["CRAN=https://cran.rstudio.com"],
            &[
                "markdown 1.0 registry=https://cran.rstudio.com renv:4584a57f565dd7987d59dda3a02cfb41",
                "mime 0.7 registry=https://cran.rstudio.com",
                "nosource 1.0 registry=https://cran.rstudio.com",
                "mystery 2.0 registry",
            ],
        );
        // Old `Source: CRAN` with no CRAN repository listed; an R version written as `[]`;
        // repositories as a map.
        check(
            r#"{"R": {"Version": [], "Repositories": {"CRAN": "https://cloud.r-project.org"}},
                "Packages": {"x": {"Package": "x", "Version": "1", "Source": "CRAN"}}}"#,
            None,
            &["CRAN=https://cloud.r-project.org"],
            &["x 1 registry=https://cloud.r-project.org"],
        );
        // Unnamed repositories are listed by URL.
        check(
            r#"{"R": {"Repositories": [{"Name": "", "URL": "https://unnamed.example"}, {"URL": "https://no-name.example"}]}}"#,
            None,
            &["https://unnamed.example", "https://no-name.example"],
            &[],
        );
        check(
            r#"{"R": {"Version": "4.0.0", "Repositories": []}, "Packages": {"x": {"Package": "x", "Version": "1", "Source": "CRAN"}}}"#,
            Some("R 4.0.0"),
            &[],
            &["x 1 registry=CRAN"],
        );
    }

    #[test]
    fn renv_1_1_description_fields() {
        check(
            r#"{
  "R": {"Version": "4.5.0", "Repositories": [{"Name": "CRAN", "URL": "https://cloud.r-project.org"}]},
  "Packages": {
    "cli": {
      "Package": "cli", "Version": "3.6.5", "Source": "Repository",
      "Title": "Helpers for Developing Command Line Interfaces",
      "Authors@R": "c(person(\"Gábor\", \"Csárdi\", role = c(\"aut\", \"cre\")))",
      "Depends": ["R (>= 3.4)"], "Imports": ["utils"], "Suggests": ["callr", "covr"],
      "NeedsCompilation": "yes", "Config/testthat/edition": "3",
      "Repository": "CRAN"
    }
  }
}"#,
            Some("R 4.5.0"),
            &["CRAN=https://cloud.r-project.org"],
            &["cli 3.6.5 registry=https://cloud.r-project.org"],
        );
    }

    #[test]
    fn repository_given_as_a_url() {
        check(
            r#"{"R": {"Version": "4.3.0", "Repositories": [{"Name": "CRAN", "URL": "https://cran.example"}]},
                "Packages": {"y": {"Package": "y", "Version": "2", "Source": "Repository",
                                   "Repository": "https://r-lib.r-universe.dev"}}}"#,
            Some("R 4.3.0"),
            &["CRAN=https://cran.example"],
            &["y 2 registry=https://r-lib.r-universe.dev"],
        );
    }

    #[test]
    fn github_and_other_hosts() {
        check(
            r#"{"R": {"Version": "4.4.1", "Repositories": []}, "Packages": {
  "cards": {"Package": "cards", "Version": "0.2.2.9016", "Source": "GitHub", "RemoteType": "github",
            "RemoteHost": "api.github.com", "RemoteRepo": "cards", "RemoteUsername": "insightsengineering",
            "RemotePkgRef": "insightsengineering/cards", "RemoteRef": "main",
            "RemoteSha": "d7ea866823b0eefcff7bd3e5c447f042b0497a48", "Hash": "36c7ef514650fb6e64385d8634afb9d6"},
  "refonly": {"Package": "refonly", "Version": "1", "Source": "GitHub", "RemoteUsername": "u", "RemoteRepo": "r", "RemoteRef": "v1"},
  "pkgref": {"Package": "pkgref", "Version": "1", "RemoteType": "github", "RemotePkgRef": "github::org/repo@dev"},
  "ghe": {"Package": "ghe", "Version": "1", "Source": "GitHub", "RemoteHost": "https://ghe.corp/api/v3",
          "RemoteUsername": "team", "RemoteRepo": "tool", "RemoteSha": "abc"},
  "gl": {"Package": "gl", "Version": "1", "Source": "GitLab", "RemoteUsername": "grp", "RemoteRepo": "proj", "RemoteSha": "def"},
  "bb": {"Package": "bb", "Version": "1", "Source": "Bitbucket", "RemoteUsername": "team", "RemoteRepo": "repo", "RemoteRef": "master"},
  "gitpkg": {"Package": "gitpkg", "Version": "1", "Source": "git", "RemoteType": "git2r",
             "RemoteUrl": "https://git.example/repo.git", "RemoteSha": "123"}
}}"#,
            Some("R 4.4.1"),
            &[],
            &[
                "cards 0.2.2.9016 vcs=https://github.com/insightsengineering/cards@d7ea866823b0eefcff7bd3e5c447f042b0497a48 renv:36c7ef514650fb6e64385d8634afb9d6",
                "refonly 1 vcs=https://github.com/u/r@v1",
                "pkgref 1 vcs=https://github.com/org/repo",
                "ghe 1 vcs=https://ghe.corp/team/tool@abc",
                "gl 1 vcs=https://gitlab.com/grp/proj@def",
                "bb 1 vcs=https://bitbucket.org/team/repo@master",
                "gitpkg 1 vcs=https://git.example/repo.git@123",
            ],
        );
        assert_eq!(
            error(r#"{"Packages": {"z": {"Package": "z", "Source": "GitHub"}}}"#),
            "package z: github record without RemoteUsername and RemoteRepo"
        );
    }

    #[test]
    fn bioconductor() {
        check(
            r#"{"R": {"Version": "4.3.2", "Repositories": [{"Name": "CRAN", "URL": "https://cloud.r-project.org"}]},
                "Bioconductor": {"Version": "3.18"},
                "Packages": {
                  "BiocGenerics": {"Package": "BiocGenerics", "Version": "0.48.1", "Source": "Bioconductor",
                                   "git_url": "https://git.bioconductor.org/packages/BiocGenerics", "git_branch": "RELEASE_3_18",
                                   "git_last_commit": "e34278c", "Hash": "e34278c65d7dffcc08f737bf0944ca9a"},
                  "S4Vectors": {"Package": "S4Vectors", "Version": "0.40.2", "Source": "Repository", "Repository": "BioCsoft"},
                  "IRanges": {"Package": "IRanges", "Version": "2.36.0", "Source": "Repository", "Repository": "Bioconductor"}
                }}"#,
            Some("R 4.3.2"),
            &["CRAN=https://cloud.r-project.org"],
            &[
                "BiocGenerics 0.48.1 registry=Bioconductor 3.18 renv:e34278c65d7dffcc08f737bf0944ca9a",
                "S4Vectors 0.40.2 registry=BioCsoft",
                "IRanges 2.36.0 registry=Bioconductor 3.18",
            ],
        );
        check(
            r#"{"Packages": {"B": {"Package": "B", "Version": "1", "Source": "Bioconductor"}}}"#,
            None,
            &[],
            &["B 1 registry=Bioconductor"],
        );
    }

    #[test]
    fn url_local_and_path_sources() {
        check(
            r#"{"R": {"Version": "4.2.0", "Repositories": []}, "Packages": {
  "u": {"Package": "u", "Version": "1", "Source": "URL", "RemoteType": "url", "RemoteUrl": "https://x.example/u_1.tar.gz"},
  "l": {"Package": "l", "Version": "1", "Source": "Local", "RemoteType": "local", "RemoteUrl": "~/src/l"},
  "p": {"Package": "p", "Version": "1", "Source": "/mnt/r/pkg/p_1.tar.gz"},
  "c": {"Package": "c", "Version": "1", "Source": "Cellar"},
  "k": {"Version": "1", "Source": "Repository"}
}}"#,
            Some("R 4.2.0"),
            &[],
            &[
                "u 1 url=https://x.example/u_1.tar.gz",
                "l 1 path=~/src/l",
                "p 1 path=/mnt/r/pkg/p_1.tar.gz",
                "c 1 path=renv/cellar",
                "k 1 registry",
            ],
        );
        assert_eq!(
            error(r#"{"Packages": {"u": {"Source": "URL"}}}"#),
            "package u: Source URL without RemoteUrl"
        );
    }

    #[test]
    fn errors() {
        assert!(
            error("{\n  \"R\": {,\n}").contains("line 2"),
            "{}",
            error("{\n  \"R\": {,\n}")
        );
        assert_eq!(error("[]"), "the top level is not an object");
        assert_eq!(
            error(r#"{"Packages": []}"#),
            "the Packages field is not an object"
        );
        assert_eq!(
            error(r#"{"Packages": {"a": 1}}"#),
            "package a: the record is not an object"
        );
        assert_eq!(
            error(r#"{"Packages": {"a": {"Version": 1}}}"#),
            "package a: Version is not a string"
        );
        assert_eq!(
            error(r#"{"R": {"Repositories": 3}}"#),
            "the R.Repositories field is not a list"
        );
        // No packages at all is an empty manifest.
        check(r#"{"R": {"Version": "4.1.0"}}"#, Some("R 4.1.0"), &[], &[]);
    }
}
