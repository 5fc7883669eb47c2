//! What an upstream lists, turned into row changes: the one diff both proxies (PyPI pages, CRAN
//! indexes) apply. Pure: the callers read the rows and store the result.

use std::collections::{HashMap, HashSet};

use airlock_store::ArtifactRow;
use airlock_types::Timestamp;

/// Rows to insert and rows to update so that a source's rows match an upstream listing.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ListingDiff {
    pub inserts: Vec<ArtifactRow>,
    pub updates: Vec<ArtifactRow>,
}

impl ListingDiff {
    pub(crate) fn is_empty(&self) -> bool {
        self.inserts.is_empty() && self.updates.is_empty()
    }
}

/// Diffs `listed` (rows as the upstream describes its files now, built by
/// [`crate::rows::artifact_row`]; the first of a file name wins) against `existing` (the stored
/// rows of what was listed).
///
/// - A new file is inserted as listed.
/// - A known file is updated with the upstream's word on what may change (location, size once
///   known, `Requires-Python`, yank, metadata, provenance link, and its hash until airlock has
///   checked its bytes:
///   `verified` says whether it has), keeping its first sighting and its upload time once known;
///   a file that reappears is listed again.
/// - A known file the listing lacks is delisted at `now`, if `may_delist` says it is gone (a
///   CRAN proxy keeps its archived files when it could not read the archive).
pub(crate) fn diff_listing(
    existing: &[ArtifactRow],
    listed: impl IntoIterator<Item = ArtifactRow>,
    verified: impl Fn(&ArtifactRow) -> bool,
    may_delist: impl Fn(&ArtifactRow) -> bool,
    now: Timestamp,
) -> ListingDiff {
    let by_name: HashMap<&str, &ArtifactRow> =
        existing.iter().map(|r| (r.filename.as_str(), r)).collect();
    let mut seen = HashSet::new();
    let mut diff = ListingDiff::default();
    for new in listed {
        if !seen.insert(new.filename.clone()) {
            continue;
        }
        match by_name.get(new.filename.as_str()) {
            None => diff.inserts.push(new),
            Some(old) => {
                let merged = merge(old, new, verified(old));
                if merged != **old {
                    diff.updates.push(merged);
                }
            }
        }
    }
    for old in existing {
        if !seen.contains(&old.filename) && old.delisted_at.is_none() && may_delist(old) {
            let mut gone = old.clone();
            gone.delisted_at = Some(now);
            diff.updates.push(gone);
        }
    }
    diff
}

/// A known file as the upstream lists it now.
fn merge(old: &ArtifactRow, new: ArtifactRow, verified: bool) -> ArtifactRow {
    let mut merged = old.clone();
    if old.sha256.is_empty() || (!verified && !new.sha256.is_empty()) {
        // Not fetched yet: the upstream's latest word stands.
        merged.sha256 = new.sha256;
    } else if !new.sha256.is_empty() && new.sha256 != old.sha256 {
        // Same name, other bytes: keep what was verified and say so.
        tracing::warn!(source = %old.source, file = %old.filename, known = %old.sha256, declared = %new.sha256,
            "upstream changed the hash of a file already known; keeping the known one");
    }
    if merged.size < 0 {
        merged.size = new.size;
    }
    merged.requires_python = new.requires_python;
    merged.yanked_reason = new.yanked_reason;
    if merged.upload_time.is_none() {
        merged.upload_time = new.upload_time;
    }
    if merged.metadata_sha256.is_none() {
        merged.metadata_sha256 = new.metadata_sha256;
    }
    if !new.metadata.is_empty() {
        merged.metadata = new.metadata;
    }
    merged.upstream_url = new.upstream_url;
    merged.provenance_url = new.provenance_url;
    merged.delisted_at = None;
    merged
}

#[cfg(test)]
mod tests {
    use airlock_store::ArtifactMetadata;
    use airlock_types::ArtifactKind;

    use super::*;
    use crate::rows::{FileId, Origin, artifact_row};

    const THEN: Timestamp = Timestamp::from_secs(1_700_000_000);
    const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);

    /// `demo` file `name` as an upstream lists it at `at`.
    fn listed(name: &str, at: Timestamp) -> ArtifactRow {
        artifact_row(
            FileId {
                source: "pypi",
                filename: name.to_string(),
                project: "demo".into(),
                display_name: "demo".into(),
                version: "1.0".into(),
                kind: ArtifactKind::Sdist,
            },
            Origin::Listed {
                url: format!("https://up.example/{name}"),
            },
            ArtifactMetadata::default(),
            at,
        )
    }

    fn diff(existing: &[ArtifactRow], now: &[ArtifactRow]) -> ListingDiff {
        diff_listing(existing, now.to_vec(), |_| false, |_| true, NOW)
    }

    #[test]
    fn new_files_are_inserted_first_of_a_name_winning() {
        let a = listed("a.tar.gz", NOW);
        let mut a_again = listed("a.tar.gz", NOW);
        a_again.size = 99;
        let d = diff(&[], &[a.clone(), a_again, listed("b.tar.gz", NOW)]);
        assert_eq!(d.inserts.len(), 2);
        assert_eq!(d.inserts[0], a);
        assert!(d.updates.is_empty());
    }

    #[test]
    fn an_unchanged_listing_changes_nothing() {
        let old = listed("a.tar.gz", THEN);
        // Listed again later: its first sighting is the stored one.
        let d = diff(&[old], &[listed("a.tar.gz", NOW)]);
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn changed_files_are_updated_keeping_their_first_sighting() {
        let old = listed("a.tar.gz", THEN);
        let mut now = listed("a.tar.gz", NOW);
        now.size = 1234;
        now.requires_python = Some(">=3.9".into());
        now.upstream_url = Some("https://mirror.example/a.tar.gz".into());
        now.metadata_sha256 = Some("mm".into());
        let d = diff(std::slice::from_ref(&old), &[now]);
        assert!(d.inserts.is_empty());
        let [updated] = &d.updates[..] else {
            panic!("{d:?}")
        };
        assert_eq!(updated.first_seen, THEN);
        assert_eq!(updated.size, 1234);
        assert_eq!(updated.requires_python.as_deref(), Some(">=3.9"));
        assert_eq!(
            updated.upstream_url.as_deref(),
            Some("https://mirror.example/a.tar.gz")
        );
        assert_eq!(updated.metadata_sha256.as_deref(), Some("mm"));
    }

    #[test]
    fn a_known_size_is_not_replaced() {
        let mut old = listed("a.tar.gz", THEN);
        old.size = 10;
        let mut now = listed("a.tar.gz", NOW);
        now.size = 11;
        assert!(diff(&[old], &[now]).is_empty());
    }

    #[test]
    fn vanished_files_are_delisted_once() {
        let kept = listed("a.tar.gz", THEN);
        let gone = listed("b.tar.gz", THEN);
        let d = diff(&[kept.clone(), gone.clone()], &[listed("a.tar.gz", NOW)]);
        let [delisted] = &d.updates[..] else {
            panic!("{d:?}")
        };
        assert_eq!(delisted.filename, "b.tar.gz");
        assert_eq!(delisted.delisted_at, Some(NOW));
        // Already delisted: nothing more to do.
        let d = diff(&[kept, delisted.clone()], &[listed("a.tar.gz", NOW)]);
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn files_the_caller_keeps_are_not_delisted() {
        let archived = listed("a_0.9.tar.gz", THEN);
        let d = diff_listing(&[archived], Vec::new(), |_| false, |_| false, NOW);
        assert!(d.is_empty());
    }

    #[test]
    fn a_file_that_reappears_is_listed_again() {
        let mut old = listed("a.tar.gz", THEN);
        old.delisted_at = Some(THEN);
        let d = diff(&[old], &[listed("a.tar.gz", NOW)]);
        let [back] = &d.updates[..] else {
            panic!("{d:?}")
        };
        assert_eq!(back.delisted_at, None);
        assert_eq!(back.first_seen, THEN);
    }

    #[test]
    fn yanks_follow_the_upstream() {
        let old = listed("a.tar.gz", THEN);
        let mut yanked = listed("a.tar.gz", NOW);
        yanked.yanked_reason = Some("broken".into());
        let d = diff(std::slice::from_ref(&old), &[yanked.clone()]);
        assert_eq!(d.updates[0].yanked_reason.as_deref(), Some("broken"));
        // And un-yanked again.
        let d = diff(&[d.updates[0].clone()], &[listed("a.tar.gz", NOW)]);
        assert_eq!(d.updates[0].yanked_reason, None);
    }

    #[test]
    fn an_upload_time_once_known_is_kept() {
        let mut old = listed("a.tar.gz", THEN);
        old.upload_time = Some(THEN);
        let mut now = listed("a.tar.gz", NOW);
        now.upload_time = Some(NOW);
        assert!(diff(&[old], std::slice::from_ref(&now)).is_empty());
        // Unknown before: the upstream's time is taken.
        let d = diff(&[listed("a.tar.gz", THEN)], &[now]);
        assert_eq!(d.updates[0].upload_time, Some(NOW));
    }

    #[test]
    fn a_verified_hash_is_kept_and_an_unverified_one_follows_the_upstream() {
        let mut old = listed("a.tar.gz", THEN);
        old.sha256 = "aa".into();
        let mut now = listed("a.tar.gz", NOW);
        now.sha256 = "bb".into();
        let verified = diff_listing(
            std::slice::from_ref(&old),
            vec![now.clone()],
            |_| true,
            |_| true,
            NOW,
        );
        assert!(verified.is_empty(), "{verified:?}");
        let unverified = diff(&[old], &[now]);
        assert_eq!(unverified.updates[0].sha256, "bb");
    }

    #[test]
    fn metadata_is_replaced_only_by_metadata() {
        let mut old = listed("a_1.0.tar.gz", THEN);
        old.metadata.md5 = Some("00".into());
        // A listing without metadata (an archived file) leaves what is known.
        assert!(diff(std::slice::from_ref(&old), &[listed("a_1.0.tar.gz", NOW)]).is_empty());
        let mut now = listed("a_1.0.tar.gz", NOW);
        now.metadata.md5 = Some("11".into());
        let d = diff(&[old], &[now]);
        assert_eq!(d.updates[0].metadata.md5.as_deref(), Some("11"));
    }
}
