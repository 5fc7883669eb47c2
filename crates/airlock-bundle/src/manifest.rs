//! The manifest: what a bundle holds and says, as JSON (`manifest.json`, the first entry).

use std::collections::{BTreeMap, HashSet};

use airlock_types::{ArtifactKind, Ecosystem, ScanSummary, Timestamp};
use serde::{Deserialize, Serialize};

use crate::limits::Limits;
use crate::{BundleError, is_sha256};

/// The format's name and major version. A reader refuses any other major version; fields it does
/// not know are ignored (later minor additions).
pub const FORMAT: &str = "airlock-bundle/1";
pub const MANIFEST_PATH: &str = "manifest.json";
pub const SIGNATURE_PATH: &str = "manifest.sig";
pub const ADVISORIES_PATH: &str = "advisories.jsonl";
const BLOBS_DIR: &str = "blobs/";

/// The path of a blob in a bundle.
pub fn blob_path(sha256: &str) -> String {
    format!("{BLOBS_DIR}{sha256}")
}

/// A bundle's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// `{lane}-{YYYYMMDDTHHMMSSZ}-{8 hex}`: the lane and instant, and the start of the sha256 of the
    /// manifest written with an empty id (two exports of one lane, instant and base are one id).
    pub id: String,
    /// The exporting lane.
    pub lane: String,
    /// The instant the bundle shows the lane at.
    pub at: Timestamp,
    /// The bundle this one builds on (`--since`): it holds only the files that one lacked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Previous>,
    /// The version of the managed configuration in force at `at` (`None`: the file's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_version: Option<i64>,
    /// The lane's configuration then (sources, policy), as its TOML table reads in JSON: for
    /// people; the importing side applies its own lanes' policies.
    #[serde(default)]
    pub lane_config: serde_json::Value,
    /// Every file of the bundle after the signature, in order.
    pub files: Vec<FileEntry>,
    /// Every artifact the lane served at `at`; their bytes are `blobs/<sha256>`, in this bundle
    /// or (incremental) in the one it builds on.
    pub artifacts: Vec<Artifact>,
    /// How many advisories `advisories.jsonl` holds (learned by `at`; since the previous bundle's
    /// instant for an incremental one).
    #[serde(default)]
    pub advisories: u64,
}

/// The bundle a bundle builds on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous {
    pub id: String,
    /// sha256 of its manifest's bytes.
    pub manifest_sha256: String,
    pub at: Timestamp,
}

/// A file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// An artifact as the lane served it, with what is needed to serve it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    pub ecosystem: Ecosystem,
    /// Normalised name (Python), as written (R).
    pub project: String,
    pub display_name: String,
    pub version: String,
    pub kind: ArtifactKind,
    pub filename: String,
    pub sha256: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_python: Option<String>,
    /// The PEP 658 metadata file's sha256 (a blob of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_sha256: Option<String>,
    /// What is kept of the file's own metadata (core metadata fields; R's PACKAGES fields), as
    /// the exporting store kept it.
    #[serde(default)]
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// `None`: not yanked; `Some("")`: yanked without a reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_time: Option<Timestamp>,
    /// The latest content scan of the file on the exporting side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<ScanSummary>,
}

impl Manifest {
    /// The manifest's bytes as written into a bundle (and signed).
    pub fn to_bytes(&self) -> Vec<u8> {
        // A struct of strings, numbers and JSON values: serialising cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Sets `id` from the lane, the instant and the content (see [`Manifest::id`]).
    pub fn assign_id(&mut self) {
        self.id = String::new();
        let digest = crate::sha256_hex(&self.to_bytes());
        self.id = format!(
            "{}-{}-{}",
            id_safe(&self.lane),
            compact_instant(self.at),
            &digest[..8]
        );
    }

    /// Reads and checks a manifest: the format, the id, every path (only `blobs/<its sha256>`
    /// and `advisories.jsonl`, each once), sizes and counts within `limits`, every artifact's
    /// fields, and that every artifact's bytes are in the bundle unless it builds on another.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Manifest, BundleError> {
        let bad = |why: String| Err(BundleError::BadManifest(why));
        if bytes.len() as u64 > limits.manifest_bytes {
            return Err(BundleError::TooLarge(format!(
                "the manifest has more than {} bytes",
                limits.manifest_bytes
            )));
        }
        // Only the format first, so that another major version says so rather than failing on
        // a field.
        #[derive(Deserialize)]
        struct Head {
            format: String,
        }
        let head: Head = serde_json::from_slice(bytes)
            .map_err(|e| BundleError::BadManifest(format!("not a manifest: {e}")))?;
        if head.format != FORMAT {
            return bad(format!(
                "format {:?} is not supported (this airlock reads {FORMAT})",
                head.format.chars().take(40).collect::<String>()
            ));
        }
        let m: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| BundleError::BadManifest(format!("not a manifest: {e}")))?;
        if !valid_id(&m.id) {
            return bad(format!("id {:?} is malformed", short(&m.id)));
        }
        if m.lane.is_empty() || m.lane.len() > 100 || m.lane.chars().any(char::is_control) {
            return bad(format!("lane {:?} is malformed", short(&m.lane)));
        }
        if let Some(p) = &m.previous {
            if !valid_id(&p.id) || !is_sha256(&p.manifest_sha256) {
                return bad("the previous bundle's id or hash is malformed".into());
            }
            if p.at > m.at {
                return bad("the previous bundle is later than this one".into());
            }
        }
        if m.files.len() as u64 > limits.max_files {
            return Err(BundleError::TooLarge(format!(
                "{} files, more than {}",
                m.files.len(),
                limits.max_files
            )));
        }
        if m.artifacts.len() as u64 > limits.max_artifacts {
            return Err(BundleError::TooLarge(format!(
                "{} artifacts, more than {}",
                m.artifacts.len(),
                limits.max_artifacts
            )));
        }
        let mut paths = HashSet::new();
        let mut blobs = HashSet::new();
        let mut total: u64 = 0;
        for f in &m.files {
            check_path(&f.path)?;
            if !is_sha256(&f.sha256) {
                return bad(format!("file {:?} has no sha256", f.path));
            }
            match f.path.strip_prefix(BLOBS_DIR) {
                Some(digest) if digest == f.sha256 => {
                    blobs.insert(f.sha256.as_str());
                }
                Some(_) => {
                    return bad(format!(
                        "file {:?} is not named by its sha256",
                        short(&f.path)
                    ));
                }
                None if f.path == ADVISORIES_PATH => {}
                None => return bad(format!("file {:?} is not a bundle file", short(&f.path))),
            }
            if !paths.insert(f.path.as_str()) {
                return bad(format!("file {:?} is listed twice", f.path));
            }
            if f.size > limits.max_file_size {
                return Err(BundleError::TooLarge(format!(
                    "file {:?} has {} bytes, more than {}",
                    f.path, f.size, limits.max_file_size
                )));
            }
            total = total.saturating_add(f.size);
        }
        if total > limits.max_total {
            return Err(BundleError::TooLarge(format!(
                "{total} bytes of files, more than {}",
                limits.max_total
            )));
        }
        let mut names = HashSet::new();
        for a in &m.artifacts {
            let what = format!("artifact {:?}", short(&a.filename));
            if !valid_filename(&a.filename) {
                return bad(format!("{what}: the file name is not a plain file name"));
            }
            for (field, value) in [
                ("project", &a.project),
                ("display_name", &a.display_name),
                ("version", &a.version),
            ] {
                if value.is_empty() || value.len() > 255 || value.chars().any(char::is_control) {
                    return bad(format!(
                        "{what}: {field} is empty, too long or has control characters"
                    ));
                }
            }
            if !is_sha256(&a.sha256) || a.metadata_sha256.as_deref().is_some_and(|s| !is_sha256(s))
            {
                return bad(format!("{what}: a sha256 is malformed"));
            }
            let expected_kind = match a.ecosystem {
                Ecosystem::Pypi => matches!(a.kind, ArtifactKind::BdistWheel | ArtifactKind::Sdist),
                Ecosystem::Cran => a.kind == ArtifactKind::RSource,
            };
            if !expected_kind {
                return bad(format!(
                    "{what}: kind {} is not one of {}",
                    a.kind, a.ecosystem
                ));
            }
            if !names.insert((a.ecosystem, a.filename.as_str())) {
                return bad(format!("{what} is listed twice"));
            }
            if m.previous.is_none() {
                for digest in std::iter::once(&a.sha256).chain(&a.metadata_sha256) {
                    if !blobs.contains(digest.as_str()) {
                        return bad(format!("{what}: its file {digest} is not in the bundle"));
                    }
                }
            }
            if a.metadata.len() > 64 {
                return bad(format!("{what}: too many metadata fields"));
            }
        }
        if m.advisories > 0 && !paths.contains(ADVISORIES_PATH) {
            return bad("advisories are counted but advisories.jsonl is not listed".into());
        }
        Ok(m)
    }
}

fn short(s: &str) -> String {
    s.chars().take(80).collect()
}

fn check_path(path: &str) -> Result<(), BundleError> {
    let refuse = |why: &str| {
        Err(BundleError::BadManifest(format!(
            "file path {:?} {why}",
            short(path)
        )))
    };
    if path.len() > 100 {
        return refuse("is longer than 100 bytes");
    }
    match airlock_archive::components(path) {
        Ok(parts) if !parts.is_empty() => Ok(()),
        Ok(_) => refuse("is empty"),
        Err(why) => refuse(why),
    }
}

/// A file name that is one path component of printable characters (it ends up in URLs and in
/// `File:` fields).
fn valid_filename(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.chars().any(|c| {
            c.is_control() || matches!(c, '/' | '\\' | ':' | '"' | '<' | '>' | '|' | '?' | '*')
        })
}

/// The id's form: letters, digits, '-', '_' and '.', at most 160 characters, ending in `-` and
/// 8 hex digits.
fn valid_id(id: &str) -> bool {
    id.len() <= 160
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && id.rsplit_once('-').is_some_and(|(head, tail)| {
            !head.is_empty()
                && tail.len() == 8
                && tail
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// A lane name as part of an id (and a snapshot name): other characters become '-'.
fn id_safe(lane: &str) -> String {
    lane.chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `YYYYMMDDTHHMMSSZ`.
fn compact_instant(t: Timestamp) -> String {
    t.to_rfc3339()
        .chars()
        .take(19)
        .filter(|c| !matches!(c, '-' | ':'))
        .collect::<String>()
        + "Z"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(name: &str, sha: &str) -> Artifact {
        Artifact {
            ecosystem: Ecosystem::Pypi,
            project: name.into(),
            display_name: name.into(),
            version: "1.0".into(),
            kind: ArtifactKind::BdistWheel,
            filename: format!("{name}-1.0-py3-none-any.whl"),
            sha256: sha.into(),
            size: 3,
            requires_python: None,
            metadata_sha256: None,
            metadata: BTreeMap::new(),
            yanked: None,
            upload_time: None,
            scan: None,
        }
    }

    pub(crate) fn sample() -> Manifest {
        let sha = "a".repeat(64);
        let mut m = Manifest {
            format: FORMAT.into(),
            id: String::new(),
            lane: "prod".into(),
            at: Timestamp::from_secs(1_800_000_000),
            previous: None,
            config_version: Some(3),
            lane_config: serde_json::Value::Null,
            files: vec![FileEntry {
                path: blob_path(&sha),
                sha256: sha.clone(),
                size: 3,
            }],
            artifacts: vec![artifact("six", &sha)],
            advisories: 0,
        };
        m.assign_id();
        m
    }

    fn refused(m: &Manifest, needle: &str) {
        let err = Manifest::parse(&m.to_bytes(), &Limits::default()).unwrap_err();
        assert!(err.to_string().contains(needle), "{err} lacks {needle:?}");
    }

    #[test]
    fn a_manifest_round_trips_and_its_id_is_its_content() {
        let m = sample();
        assert!(m.id.starts_with("prod-20270115T080000Z-"), "{}", m.id);
        let again = Manifest::parse(&m.to_bytes(), &Limits::default()).unwrap();
        assert_eq!(again, m);
        let mut other = m.clone();
        other.config_version = Some(4);
        other.assign_id();
        assert_ne!(other.id, m.id);
        let mut same = m.clone();
        same.assign_id();
        assert_eq!(same.id, m.id);
    }

    #[test]
    fn bad_manifests_are_refused_with_a_reason() {
        let m = sample();
        let mut x = m.clone();
        x.format = "airlock-bundle/2".into();
        refused(&x, "not supported");
        let mut x = m.clone();
        x.files[0].path = "../../etc/passwd".into();
        refused(&x, "etc/passwd");
        let mut x = m.clone();
        x.files[0].path = "/abs".into();
        refused(&x, "/abs");
        let mut x = m.clone();
        x.files[0].path = format!("blobs/{}", "b".repeat(64));
        refused(&x, "not named by its sha256");
        let mut x = m.clone();
        x.files.push(x.files[0].clone());
        refused(&x, "listed twice");
        let mut x = m.clone();
        x.artifacts[0].filename = "../x.whl".into();
        refused(&x, "plain file name");
        let mut x = m.clone();
        x.artifacts[0].sha256 = "c".repeat(64);
        refused(&x, "not in the bundle");
        let mut x = m.clone();
        x.artifacts[0].kind = ArtifactKind::RSource;
        refused(&x, "kind");
        let mut x = m.clone();
        x.id = "prod/../x".into();
        refused(&x, "id");
        let mut x = m.clone();
        x.files[0].size = u64::MAX;
        refused(&x, "more than");
        assert!(Manifest::parse(b"{", &Limits::default()).is_err());
        assert!(Manifest::parse(b"[]", &Limits::default()).is_err());
        let limits = Limits {
            manifest_bytes: 10,
            ..Limits::default()
        };
        assert!(matches!(
            Manifest::parse(&m.to_bytes(), &limits),
            Err(BundleError::TooLarge(_))
        ));
    }

    #[test]
    fn an_incremental_manifest_may_name_files_of_its_base() {
        let mut m = sample();
        m.files.clear();
        m.previous = Some(Previous {
            id: "prod-20270101T000000Z-0123abcd".into(),
            manifest_sha256: "d".repeat(64),
            at: Timestamp::from_secs(1_700_000_000),
        });
        m.assign_id();
        Manifest::parse(&m.to_bytes(), &Limits::default()).unwrap();
    }
}
