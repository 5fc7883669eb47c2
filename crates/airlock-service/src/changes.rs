//! What changed, and when, as the caches of rendered views need to know it: a view records the
//! [`Stamp`] it was built at and what it depends on ([`Deps`]), and is served only while none of
//! that has changed since. A write to one project leaves the pages of every other project alone.
//!
//! Writes land here from this process's commits at once, and from other processes (servers
//! sharing the database, the command line) through the database's record of changes, read
//! when the revision moves (see `Core::observe`).

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

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

#[derive(Debug)]
pub(crate) struct Changes {
    epoch: AtomicU64,
    /// Project -> the last revision that changed it (in any source).
    projects: RwLock<HashMap<String, i64>>,
    /// Source -> the last revision that changed any of its projects.
    sources: RwLock<HashMap<String, i64>>,
}

impl Default for Changes {
    fn default() -> Self {
        Changes {
            epoch: AtomicU64::new(1),
            projects: RwLock::default(),
            sources: RwLock::default(),
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
