//! What changed, and when, as the caches of rendered views need to know it: a view records the
//! [`Stamp`] it was built at and what it depends on ([`Deps`]), and is served only while none of
//! that has changed since. A write to one project leaves the pages of every other project alone.
//!
//! Writes land here from this process's commits at once, and from other processes (servers
//! sharing the database, the command line) through the database's record of changes, read
//! when the revision moves (see `Core::observe`).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use airlock_store::Scope;

/// When a view was built: the epoch (which moves when everything changes) and the latest
/// revision known to be committed before what the view was built from was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub epoch: u64,
    pub revision: i64,
}

/// What a view is built from, besides what changes everything (configuration, advisories,
/// approvals, snapshots).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Deps {
    /// Only that: nothing else a write can change.
    Everything,
    /// The files and listing of one project (normalised name), in whichever source.
    Project(String),
    /// Every project of these sources (a lane's root list, its CRAN indexes).
    Sources(Vec<String>),
}

impl Deps {
    /// Every project of these sources.
    pub fn sources<'a>(
        sources: impl IntoIterator<Item = &'a airlock_config::SourceConfig>,
    ) -> Deps {
        Deps::Sources(sources.into_iter().map(|s| s.name.clone()).collect())
    }
}

/// A view built anew: the stamp it is of, what it depends on, and the view.
pub(crate) type Rebuilt<V> = Result<(Stamp, Deps, std::sync::Arc<V>), crate::error::ServiceError>;

#[derive(Debug)]
pub(crate) struct Changes {
    epoch: AtomicU64,
    /// Project -> the last revision that changed it (in any source).
    projects: RwLock<HashMap<String, i64>>,
    /// Source -> the last revision that changed any of its projects.
    sources: RwLock<HashMap<String, i64>>,
    /// The latest changes one by one, for views brought up to date in place.
    log: Mutex<Log>,
}

/// Changes of this epoch, oldest first: (revision, source, project). Bounded: past
/// [`LOG_ENTRIES`] the oldest are forgotten, and a view older than what was forgotten is
/// rebuilt whole.
#[derive(Debug, Default)]
struct Log {
    entries: VecDeque<(i64, String, String)>,
    /// The highest revision of an entry dropped from the log.
    forgotten: i64,
}

const LOG_ENTRIES: usize = 16_384;

impl Default for Changes {
    fn default() -> Self {
        Changes {
            epoch: AtomicU64::new(1),
            projects: RwLock::default(),
            sources: RwLock::default(),
            log: Mutex::default(),
        }
    }
}

impl Changes {
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Everything changed: every view built before is stale.
    pub fn begin_epoch(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut log) = self.log.lock() {
            let newest = log.entries.iter().map(|e| e.0).max().unwrap_or(0);
            log.forgotten = log.forgotten.max(newest);
            log.entries.clear();
        }
    }

    /// The projects of `sources` changed since a view was built at `stamp`: what to read again
    /// to bring it up to date. `None` when that is not known (everything changed since, or
    /// the log no longer reaches back that far): then rebuild it whole.
    pub fn changed_since(&self, stamp: Stamp, sources: &[String]) -> Option<BTreeSet<String>> {
        if stamp.epoch != self.epoch() {
            return None;
        }
        let log = self.log.lock().ok()?;
        if log.forgotten > stamp.revision {
            return None;
        }
        let changed = log
            .entries
            .iter()
            .filter(|(revision, source, _)| *revision > stamp.revision && sources.contains(source))
            .map(|(_, _, project)| project.clone())
            .collect();
        // An epoch that began while the log was read makes the answer unreliable.
        (stamp.epoch == self.epoch()).then_some(changed)
    }

    /// Records what the write of `revision` changed.
    pub fn apply(&self, revision: i64, scope: &Scope) {
        if scope.everything {
            self.begin_epoch();
            return;
        }
        if scope.projects.is_empty() {
            return;
        }
        // The log first: whoever sees the change in the maps below finds it in the log.
        match self.log.lock() {
            Ok(mut log) => {
                for (source, project) in &scope.projects {
                    log.entries
                        .push_back((revision, source.clone(), project.clone()));
                }
                while log.entries.len() > LOG_ENTRIES {
                    if let Some((dropped, _, _)) = log.entries.pop_front() {
                        log.forgotten = log.forgotten.max(dropped);
                    }
                }
            }
            Err(_) => {
                self.begin_epoch();
                return;
            }
        }
        if let (Ok(mut projects), Ok(mut sources)) = (self.projects.write(), self.sources.write()) {
            for (source, project) in &scope.projects {
                let p = projects.entry(project.clone()).or_insert(revision);
                *p = (*p).max(revision);
                let s = sources.entry(source.clone()).or_insert(revision);
                *s = (*s).max(revision);
            }
        } else {
            self.begin_epoch();
        }
    }

    /// Whether a view built at `stamp` from `deps` is still current.
    pub fn fresh(&self, stamp: Stamp, deps: &Deps) -> bool {
        if stamp.epoch != self.epoch() {
            return false;
        }
        let unchanged = |map: &RwLock<HashMap<String, i64>>, key: &str| {
            map.read()
                .map(|m| m.get(key).is_none_or(|r| *r <= stamp.revision))
                .unwrap_or(false)
        };
        match deps {
            Deps::Everything => true,
            Deps::Project(project) => unchanged(&self.projects, project),
            Deps::Sources(sources) => sources.iter().all(|s| unchanged(&self.sources, s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Changes, Deps, Stamp};
    use airlock_store::Scope;

    fn touching(pairs: &[(&str, &str)]) -> Scope {
        let mut scope = Scope::default();
        scope.everything = false;
        for (s, p) in pairs {
            scope.projects.insert((s.to_string(), p.to_string()));
        }
        scope
    }

    #[test]
    fn a_change_to_one_project_leaves_the_others_current() {
        let c = Changes::default();
        let built = Stamp {
            epoch: c.epoch(),
            revision: 10,
        };
        let a = Deps::Project("a".into());
        let b = Deps::Project("b".into());
        let root = Deps::Sources(vec!["internal".into()]);
        let other_root = Deps::Sources(vec!["mirror".into()]);
        c.apply(11, &touching(&[("internal", "a")]));
        assert!(!c.fresh(built, &a));
        assert!(c.fresh(built, &b));
        assert!(!c.fresh(built, &root), "the source's list may have changed");
        assert!(c.fresh(built, &other_root));
        assert!(c.fresh(built, &Deps::Everything));
        let rebuilt = Stamp {
            epoch: c.epoch(),
            revision: 11,
        };
        assert!(c.fresh(rebuilt, &a), "built after the change");
    }

    #[test]
    fn a_change_to_everything_makes_every_view_stale() {
        let c = Changes::default();
        let built = Stamp {
            epoch: c.epoch(),
            revision: 10,
        };
        c.apply(11, &Scope::everything());
        assert!(!c.fresh(built, &Deps::Everything));
        assert!(!c.fresh(built, &Deps::Project("b".into())));
    }

    #[test]
    fn the_projects_changed_since_a_view_was_built() {
        let c = Changes::default();
        c.apply(5, &touching(&[("internal", "old")]));
        let built = Stamp {
            epoch: c.epoch(),
            revision: 10,
        };
        c.apply(11, &touching(&[("internal", "a"), ("mirror", "m")]));
        c.apply(12, &touching(&[("internal", "b")]));
        let sources = vec!["internal".to_string()];
        let changed = c.changed_since(built, &sources).expect("known");
        assert_eq!(changed.into_iter().collect::<Vec<_>>(), ["a", "b"]);
        c.apply(13, &Scope::everything());
        assert_eq!(c.changed_since(built, &sources), None, "everything changed");
        let after = Stamp {
            epoch: c.epoch(),
            revision: 13,
        };
        assert_eq!(c.changed_since(after, &sources), Some(Default::default()));
    }

    #[test]
    fn a_view_older_than_the_log_is_not_updated_in_place() {
        let c = Changes::default();
        let built = Stamp {
            epoch: c.epoch(),
            revision: 0,
        };
        for n in 0..super::LOG_ENTRIES + 1 {
            c.apply(n as i64 + 1, &touching(&[("internal", &format!("p{n}"))]));
        }
        let sources = vec!["internal".to_string()];
        assert_eq!(c.changed_since(built, &sources), None);
        let recent = Stamp {
            epoch: c.epoch(),
            revision: super::LOG_ENTRIES as i64,
        };
        assert_eq!(c.changed_since(recent, &sources).map(|s| s.len()), Some(1));
    }

    #[test]
    fn an_older_change_seen_late_does_not_hide_a_newer_one() {
        let c = Changes::default();
        c.apply(20, &touching(&[("internal", "a")]));
        c.apply(15, &touching(&[("internal", "a")]));
        let built = Stamp {
            epoch: c.epoch(),
            revision: 18,
        };
        assert!(!c.fresh(built, &Deps::Project("a".into())));
    }
}
