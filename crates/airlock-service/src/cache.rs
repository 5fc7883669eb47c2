use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

use crate::changes::{Changes, Deps, Stamp};

/// Rendered views, each kept with the [`Stamp`] it was built at and what it was built from
/// ([`Deps`]), and served only while that is current (see [`Changes::fresh`]). So a capability
/// owns its cache and needs nobody to clear it; callers take the stamp before they read what
/// they build from, so a view whose build overlapped a change is never kept past it. When
/// everything changes (a new epoch), the first insert of the new epoch starts the map afresh.
pub(crate) struct Cache<K, V> {
    inner: RwLock<Inner<K, V>>,
}

struct Inner<K, V> {
    epoch: u64,
    map: HashMap<K, (Stamp, Deps, V)>,
}

impl<K, V> Default for Cache<K, V> {
    fn default() -> Self {
        Cache {
            inner: RwLock::new(Inner {
                epoch: 0,
                map: HashMap::new(),
            }),
        }
    }
}

/// Past this many entries the cache starts afresh rather than grow without bound.
const MAX_ENTRIES: usize = 100_000;

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    /// The value for `key`, if one is kept and still current.
    pub fn get(&self, changes: &Changes, key: &K) -> Option<V> {
        let inner = self.inner.read().ok()?;
        let (stamp, deps, value) = inner.map.get(key)?;
        changes.fresh(*stamp, deps).then(|| value.clone())
    }

    /// The value kept for `key` and the stamp it was built at, current or not: a view to bring
    /// up to date rather than build anew.
    pub fn last(&self, key: &K) -> Option<(Stamp, V)> {
        let inner = self.inner.read().ok()?;
        let (stamp, _, value) = inner.map.get(key)?;
        Some((*stamp, value.clone()))
    }

    /// Keeps `value`, built at `stamp` from `deps`; dropped if a later epoch has begun.
    pub fn insert(&self, stamp: Stamp, deps: Deps, key: K, value: V) {
        if let Ok(mut i) = self.inner.write() {
            if stamp.epoch < i.epoch {
                return;
            }
            if stamp.epoch > i.epoch || i.map.len() >= MAX_ENTRIES {
                i.map.clear();
                i.epoch = stamp.epoch;
            }
            // A value built from older reads never replaces one built from newer.
            if i.map
                .get(&key)
                .is_some_and(|(kept, _, _)| kept.revision > stamp.revision)
            {
                return;
            }
            i.map.insert(key, (stamp, deps, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cache;
    use crate::changes::{Changes, Deps, Stamp};
    use airlock_store::Scope;

    fn stamp(c: &Changes, revision: i64) -> Stamp {
        Stamp {
            epoch: c.epoch(),
            revision,
        }
    }

    #[test]
    fn a_value_is_served_until_what_it_was_built_from_changes() {
        let changes = Changes::default();
        let c: Cache<&str, u8> = Cache::default();
        c.insert(stamp(&changes, 1), Deps::Project("a".into()), "a", 1);
        c.insert(stamp(&changes, 1), Deps::Project("b".into()), "b", 2);
        let mut scope = Scope::default();
        scope.everything = false;
        scope.projects.insert(("src".into(), "a".into()));
        changes.apply(2, &scope);
        assert_eq!(c.get(&changes, &"a"), None);
        assert_eq!(c.get(&changes, &"b"), Some(2));
        changes.apply(3, &Scope::everything());
        assert_eq!(
            c.get(&changes, &"b"),
            None,
            "a new epoch makes every value stale"
        );
    }

    #[test]
    fn a_value_built_before_a_new_epoch_is_not_kept() {
        let changes = Changes::default();
        let c: Cache<u8, u8> = Cache::default();
        let old = stamp(&changes, 1);
        changes.begin_epoch();
        c.insert(stamp(&changes, 1), Deps::Everything, 1, 10);
        c.insert(old, Deps::Everything, 2, 20);
        assert_eq!(c.get(&changes, &2), None);
        assert_eq!(c.get(&changes, &1), Some(10));
    }
}
