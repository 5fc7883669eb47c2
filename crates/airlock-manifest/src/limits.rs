//! What reading one manifest may cost: bytes, included files, entries, nesting and time.
//!
//! A manifest may come from anyone who may call the server's check, so every reading is bounded
//! before the work is done, not after. Includes are counted every time they are read, not once
//! per distinct file: pip reads a file included twice twice, and a chain of files each including
//! the next twice reads 2^n files, which only a count of reads bounds. Nesting is measured by a
//! linear scan of the text before it reaches the TOML, JSON or YAML parser, so a deep document
//! costs one pass over its bytes and never the parser's recursion.

use std::fmt;
use std::time::Instant;

use crate::ManifestError;

/// The bounds of one reading (see [`crate::parse_with`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bytes read in all: the main file and each include, every time it is read.
    pub max_bytes: usize,
    /// `-r`/`-c` reads in all (a file included twice counts twice).
    pub max_includes: usize,
    /// Entries plus specs not covered in the manifest (lock files of large projects have a few
    /// thousand).
    pub max_entries: usize,
    /// How deep arrays, tables and mappings may nest in TOML, JSON and YAML files (real lock
    /// files nest five or six levels).
    pub max_depth: usize,
    /// When reading gives up; `None` for no time bound.
    pub deadline: Option<Instant>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: 16 * 1024 * 1024,
            max_includes: 100,
            max_entries: 20_000,
            max_depth: 64,
            deadline: None,
        }
    }
}

/// Which bound a manifest went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    Bytes,
    Includes,
    Entries,
    Depth,
    Time,
}

impl Limit {
    /// Whether the manifest is too big (bytes, includes, entries, time) rather than malformed
    /// (nesting no real file has).
    pub fn is_size(self) -> bool {
        !matches!(self, Limit::Depth)
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::Bytes => "bytes",
            Limit::Includes => "includes",
            Limit::Entries => "entries",
            Limit::Depth => "depth",
            Limit::Time => "time",
        })
    }
}

/// The message of [`ManifestError::Limit`].
pub(crate) fn describe(limit: Limit, max: u64) -> String {
    match limit {
        Limit::Bytes => format!("the manifest and its included files are larger than {max} bytes"),
        Limit::Includes => {
            format!("more than {max} included files read (every -r/-c counts each time it is read)")
        }
        Limit::Entries => format!("more than {max} entries"),
        Limit::Depth => format!("nests deeper than {max} levels"),
        Limit::Time => "reading took longer than the time allowed".to_owned(),
    }
}

/// What one reading has used so far of its [`Limits`].
pub(crate) struct Budget<'a> {
    pub(crate) limits: &'a Limits,
    bytes: usize,
    includes: usize,
}

impl<'a> Budget<'a> {
    pub(crate) fn new(limits: &'a Limits) -> Budget<'a> {
        Budget {
            limits,
            bytes: 0,
            includes: 0,
        }
    }

    fn over(file: &str, line: Option<usize>, limit: Limit, max: usize) -> ManifestError {
        ManifestError::Limit {
            file: file.to_owned(),
            line,
            limit,
            max: u64::try_from(max).unwrap_or(u64::MAX),
        }
    }

    /// `len` more bytes read (of `file`).
    pub(crate) fn read(&mut self, file: &str, len: usize) -> Result<(), ManifestError> {
        self.bytes = self.bytes.saturating_add(len);
        if self.bytes > self.limits.max_bytes {
            return Err(Self::over(file, None, Limit::Bytes, self.limits.max_bytes));
        }
        Ok(())
    }

    /// One more include, on line `line` of `file`.
    pub(crate) fn include(&mut self, file: &str, line: usize) -> Result<(), ManifestError> {
        self.includes += 1;
        if self.includes > self.limits.max_includes {
            return Err(Self::over(
                file,
                Some(line),
                Limit::Includes,
                self.limits.max_includes,
            ));
        }
        Ok(())
    }

    /// Whether `count` entries are allowed.
    pub(crate) fn entries(&self, file: &str, count: usize) -> Result<(), ManifestError> {
        if count > self.limits.max_entries {
            return Err(Self::over(
                file,
                None,
                Limit::Entries,
                self.limits.max_entries,
            ));
        }
        Ok(())
    }

    /// Whether the deadline has passed.
    pub(crate) fn in_time(&self, file: &str) -> Result<(), ManifestError> {
        match self.limits.deadline {
            Some(deadline) if Instant::now() >= deadline => {
                Err(Self::over(file, None, Limit::Time, 0))
            }
            _ => Ok(()),
        }
    }

    /// The depth error for `file` at `line`.
    pub(crate) fn too_deep(&self, file: &str, line: usize) -> ManifestError {
        Self::over(file, Some(line), Limit::Depth, self.limits.max_depth)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::{Kind, MapLoader, NoIncludes, parse, parse_with};

    /// The limit `text` (as `kind`, named `name`) goes over within `limits`.
    fn over(kind: Kind, name: &str, text: &str, limits: &Limits) -> (Limit, u64) {
        match parse_with(kind, name, text, &NoIncludes, limits) {
            Err(ManifestError::Limit { limit, max, .. }) => (limit, max),
            other => panic!("expected a limit error, got {other:?}"),
        }
    }

    /// `f0` includes `f1` twice, `f1` includes `f2` twice, … : 2^30 reads if followed.
    fn fan_out(levels: usize) -> BTreeMap<String, String> {
        let mut files: BTreeMap<String, String> = (0..levels)
            .map(|i| {
                let next = i + 1;
                (
                    format!("f{i}.txt"),
                    format!("-r f{next}.txt\n-r f{next}.txt\n"),
                )
            })
            .collect();
        files.insert(format!("f{levels}.txt"), "x==1\n".to_owned());
        files
    }

    #[test]
    fn includes_that_fan_out_stop_at_the_include_limit() {
        let files = fan_out(30);
        let loader = MapLoader { files: &files };
        let err = parse(Kind::RequirementsTxt, "f0.txt", &files["f0.txt"], &loader).unwrap_err();
        assert_eq!(err.limit(), Some(Limit::Includes));
        assert!(
            err.to_string().contains(
                "more than 100 included files read (every -r/-c counts each time it is read)"
            ),
            "{err}"
        );
        // A fan-out within the limit reads every file as often as pip would.
        let files = fan_out(4);
        let loader = MapLoader { files: &files };
        let m = parse(Kind::RequirementsTxt, "f0.txt", &files["f0.txt"], &loader).unwrap();
        assert_eq!(m.entries.len(), 16);
    }

    #[test]
    fn bytes_count_the_main_file_and_every_include_read() {
        let limits = Limits {
            max_bytes: 100,
            ..Limits::default()
        };
        let big = "a==1\n".repeat(21);
        assert_eq!(
            over(Kind::RequirementsTxt, "r.txt", &big, &limits),
            (Limit::Bytes, 100)
        );
        // 35 bytes, read three times: over 100 in all; twice is not.
        let files = BTreeMap::from([("base.txt".to_owned(), "a==1\n".repeat(7))]);
        let loader = MapLoader { files: &files };
        let main = "-r base.txt\n-r base.txt\n-r base.txt\n";
        let err = parse_with(Kind::RequirementsTxt, "r.txt", main, &loader, &limits).unwrap_err();
        assert_eq!(err.limit(), Some(Limit::Bytes), "{err}");
        assert_eq!(
            err.to_string(),
            "base.txt: the manifest and its included files are larger than 100 bytes"
        );
        let two = "-r base.txt\n-r base.txt\n";
        assert!(parse_with(Kind::RequirementsTxt, "r.txt", two, &loader, &limits).is_ok());
    }

    #[test]
    fn entries_are_bounded_in_every_kind() {
        let limits = Limits {
            max_entries: 3,
            ..Limits::default()
        };
        let requirements = "a==1\nb==1\nc==1\nd==1\n";
        assert_eq!(
            over(Kind::RequirementsTxt, "r.txt", requirements, &limits),
            (Limit::Entries, 3)
        );
        assert!(
            parse_with(
                Kind::RequirementsTxt,
                "r.txt",
                "a==1\nb==1\nc==1\n",
                &NoIncludes,
                &limits
            )
            .is_ok()
        );
        let uv: String = (0..4)
            .map(|i| format!("[[package]]\nname = \"p{i}\"\nversion = \"1.0\"\nsource = {{ registry = \"https://pypi.org/simple\" }}\n\n"))
            .collect();
        assert_eq!(
            over(
                Kind::UvLock,
                "uv.lock",
                &format!("version = 1\n\n{uv}"),
                &limits
            ),
            (Limit::Entries, 3)
        );
        let env = "dependencies:\n  - pip:\n    - a==1\n    - b==1\n    - c==1\n    - d==1\n";
        assert_eq!(
            over(Kind::EnvironmentYml, "environment.yml", env, &limits),
            (Limit::Entries, 3)
        );
    }

    #[test]
    fn deep_nesting_fails_fast_in_every_structured_kind() {
        let limits = Limits::default();
        let opens = ["[".repeat(100_000), "{".repeat(100_000)];
        for (kind, name) in [
            (Kind::UvLock, "uv.lock"),
            (Kind::Pylock, "pylock.toml"),
            (Kind::PoetryLock, "poetry.lock"),
            (Kind::PdmLock, "pdm.lock"),
        ] {
            for open in &opens {
                let text = format!("a = {open}");
                assert_eq!(
                    over(kind, name, &text, &limits),
                    (Limit::Depth, 64),
                    "{kind}"
                );
            }
            let dotted = format!("{} = 1\n", vec!["a"; 100_000].join("."));
            assert_eq!(
                over(kind, name, &dotted, &limits),
                (Limit::Depth, 64),
                "{kind}"
            );
        }
        for (kind, name) in [
            (Kind::PipfileLock, "Pipfile.lock"),
            (Kind::RenvLock, "renv.lock"),
            (Kind::EnvironmentYml, "environment.yml"),
        ] {
            for open in &opens {
                assert_eq!(
                    over(kind, name, open, &limits),
                    (Limit::Depth, 64),
                    "{kind}"
                );
            }
        }
        let compact = format!("dependencies:\n  - {}x\n", "- ".repeat(100_000));
        let err = parse(
            Kind::EnvironmentYml,
            "environment.yml",
            &compact,
            &NoIncludes,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment.yml:2: nests deeper than 64 levels"
        );
        assert!(!Limit::Depth.is_size());
    }

    #[test]
    fn a_passed_deadline_stops_reading() {
        let limits = Limits {
            deadline: Some(Instant::now() - Duration::from_millis(1)),
            ..Limits::default()
        };
        assert_eq!(
            over(Kind::RequirementsTxt, "r.txt", "a==1\n", &limits),
            (Limit::Time, 0)
        );
        assert_eq!(
            over(Kind::UvLock, "uv.lock", "version = 1\n", &limits),
            (Limit::Time, 0)
        );
    }

    #[test]
    fn repeated_index_and_find_links_options_are_kept_once() {
        let text: String = (0..20_000)
            .map(|i| format!("-i https://example.com/{}\n-f ./wheels\n", i % 3))
            .collect();
        let m = parse(Kind::RequirementsTxt, "r.txt", &text, &NoIncludes).unwrap();
        assert_eq!(m.indexes.len(), 3);
        assert_eq!(m.not_covered.len(), 1);
    }
}
