use std::future::Future;
use std::hash::{Hash, RandomState};
use std::sync::RwLock;

pub(crate) use hashbrown::Equivalent;
use hashbrown::HashMap;

use crate::changes::{Changes, Deps, Stamp};
use crate::error::ServiceError;
use crate::flight::Flights;

/// Rendered views, each kept with the [`Stamp`] it was built at and what it was built from
/// ([`Deps`]), and served only while that is current (see [`Changes::fresh`]). So a capability
/// owns its cache and needs nobody to clear it; callers take the stamp before they read what
/// they build from, so a view whose build overlapped a change is never kept past it. When
/// everything changes (a new epoch), the first insert of the new epoch starts the map afresh.
///
/// Lookups take the key borrowed ([`Lookup`]): a hit allocates nothing.
pub(crate) struct Cache<K, V> {
    inner: RwLock<Inner<K, V>>,
}

struct Inner<K, V> {
    epoch: u64,
    /// SipHash, randomly keyed, as `std`'s maps: keys come from request paths.
    map: HashMap<K, (Stamp, Deps, V), RandomState>,
}

/// A key as a request holds it, borrowed, that finds the kept key `K` (hashing alike, see
/// [`Equivalent`]) and is made into one only when a value is kept.
pub(crate) trait Lookup<K>: Hash + Equivalent<K> {
    fn to_key(&self) -> K;
}

impl<K: Hash + Eq + Clone> Lookup<K> for K {
    fn to_key(&self) -> K {
        self.clone()
    }
}

impl Lookup<String> for str {
    fn to_key(&self) -> String {
        self.to_string()
    }
}

impl<K, V> Default for Cache<K, V> {
    fn default() -> Self {
        Cache {
            inner: RwLock::new(Inner {
                epoch: 0,
                map: HashMap::default(),
            }),
        }
    }
}

/// Past this many entries the cache starts afresh rather than grow without bound.
const MAX_ENTRIES: usize = 100_000;

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    /// The value for `key`, if one is kept and still current.
    pub fn get<Q: Lookup<K> + ?Sized>(&self, changes: &Changes, key: &Q) -> Option<V> {
        let inner = self.inner.read().ok()?;
        let (stamp, deps, value) = inner.map.get(key)?;
        changes.fresh(*stamp, deps).then(|| value.clone())
    }

    /// The value kept for `key` and the stamp it was built at, current or not: a view to bring
    /// up to date rather than build anew.
    pub fn last<Q: Lookup<K> + ?Sized>(&self, key: &Q) -> Option<(Stamp, V)> {
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

/// Views kept in a [`Cache`] and brought up to date by one run at a time per key, however many
/// ask at the same time: the run may start from the value kept before ([`Views::last`]) and
/// read only what changed since.
pub(crate) struct Views<K, V: Clone> {
    cache: Cache<K, V>,
    flights: Flights<K, (Stamp, Deps, V)>,
}

impl<K, V: Clone> Default for Views<K, V> {
    fn default() -> Self {
        Views {
            cache: Cache::default(),
            flights: Flights::default(),
        }
    }
}

impl<K, V> Views<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The view for `key`, current as of `wanted` (the caller's [`Core::stamp`] taken when its
    /// request began): kept, if still current and `usable`, else what `refresh` makes (the
    /// stamp it took before reading, what it read, the view). A run that began before `wanted`
    /// may miss a write the caller must see: then one more run follows.
    ///
    /// [`Core::stamp`]: crate::core::Core::stamp
    pub async fn get<Q, F, Fut>(
        &self,
        changes: &Changes,
        wanted: Stamp,
        key: &Q,
        usable: impl Fn(&V) -> bool,
        refresh: F,
    ) -> Result<V, ServiceError>
    where
        Q: Lookup<K> + ?Sized,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(Stamp, Deps, V), ServiceError>> + Send + 'static,
    {
        let mut runs = 0;
        loop {
            if let Some(value) = self.cache.get(changes, key).filter(&usable) {
                return Ok(value);
            }
            let (stamp, deps, value) = self.flights.run(key.to_key(), &refresh).await?;
            self.cache.insert(stamp, deps, key.to_key(), value.clone());
            runs += 1;
            if (stamp.epoch, stamp.revision) >= (wanted.epoch, wanted.revision) || runs >= 3 {
                return Ok(value);
            }
        }
    }

    /// The value kept for `key` and its stamp, current or not.
    pub fn last<Q: Lookup<K> + ?Sized>(&self, key: &Q) -> Option<(Stamp, V)> {
        self.cache.last(key)
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

    #[test]
    fn a_value_is_found_by_a_borrowed_key() {
        let changes = Changes::default();
        let c: Cache<String, u8> = Cache::default();
        c.insert(stamp(&changes, 1), Deps::Everything, "a".to_string(), 1);
        assert_eq!(c.get(&changes, "a"), Some(1));
        assert_eq!(c.last("a"), Some((stamp(&changes, 1), 1)));
        assert_eq!(c.get(&changes, "b"), None);
    }
}
