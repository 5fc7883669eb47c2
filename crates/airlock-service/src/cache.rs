use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

/// Rendered views, valid for one epoch of the repository (the core's count of changes): a
/// view is served only while the epoch it was built in is current, and the first insert of a
/// later epoch starts the map afresh. So a capability owns its cache and needs nobody to clear
/// it; a view whose build started before a change is never kept past it (callers read the epoch
/// before they read what they build from).
pub(crate) struct Cache<K, V> {
    inner: RwLock<Inner<K, V>>,
}

struct Inner<K, V> {
    epoch: u64,
    map: HashMap<K, V>,
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
    /// The value built in `epoch`, if any.
    pub fn get(&self, epoch: u64, key: &K) -> Option<V> {
        let inner = self.inner.read().ok()?;
        if inner.epoch != epoch {
            return None;
        }
        inner.map.get(key).cloned()
    }

    /// Keeps `value`, built from what was current in `epoch`; dropped if a later epoch has begun.
    pub fn insert(&self, epoch: u64, key: K, value: V) {
        if let Ok(mut i) = self.inner.write() {
            if epoch < i.epoch {
                return;
            }
            if epoch > i.epoch || i.map.len() >= MAX_ENTRIES {
                i.map.clear();
                i.epoch = epoch;
            }
            i.map.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cache;

    #[test]
    fn a_value_is_served_only_in_the_epoch_it_was_built_in() {
        let c: Cache<u8, u8> = Cache::default();
        c.insert(1, 1, 10);
        assert_eq!(c.get(1, &1), Some(10));
        assert_eq!(c.get(2, &1), None, "a later epoch does not see it");
        c.insert(2, 2, 20);
        assert_eq!(c.get(2, &1), None, "a later epoch starts afresh");
        assert_eq!(c.get(2, &2), Some(20));
    }

    #[test]
    fn a_value_built_before_a_change_is_not_kept() {
        let c: Cache<u8, u8> = Cache::default();
        c.insert(3, 1, 30);
        c.insert(2, 2, 20);
        assert_eq!(c.get(2, &2), None);
        assert_eq!(c.get(3, &2), None);
        assert_eq!(c.get(3, &1), Some(30));
    }
}
