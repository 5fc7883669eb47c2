use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

/// Rendered views, valid until the next revision; cleared as a whole when it moves. A view built
/// while the cache was cleared is not kept: `insert` names the generation its build started in.
pub(crate) struct Cache<K, V> {
    inner: RwLock<Inner<K, V>>,
}

struct Inner<K, V> {
    generation: u64,
    map: HashMap<K, V>,
}

impl<K, V> Default for Cache<K, V> {
    fn default() -> Self {
        Cache {
            inner: RwLock::new(Inner {
                generation: 0,
                map: HashMap::new(),
            }),
        }
    }
}

/// Past this many entries the cache starts afresh rather than grow without bound.
const MAX_ENTRIES: usize = 100_000;

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    /// The value, or the generation to pass to `insert` once it is built.
    pub fn get(&self, key: &K) -> Result<V, u64> {
        match self.inner.read() {
            Ok(i) => i.map.get(key).cloned().ok_or(i.generation),
            Err(_) => Err(u64::MAX),
        }
    }

    pub fn insert(&self, generation: u64, key: K, value: V) {
        if let Ok(mut i) = self.inner.write() {
            if i.generation != generation {
                return;
            }
            if i.map.len() >= MAX_ENTRIES {
                i.map.clear();
            }
            i.map.insert(key, value);
        }
    }

    pub fn generation(&self) -> u64 {
        self.inner.read().map(|i| i.generation).unwrap_or(u64::MAX)
    }

    pub fn clear(&self) {
        if let Ok(mut i) = self.inner.write() {
            i.generation += 1;
            i.map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cache;

    #[test]
    fn a_value_built_before_a_clear_is_not_kept() {
        let c: Cache<u8, u8> = Cache::default();
        let generation = c.get(&1).unwrap_err();
        c.clear();
        c.insert(generation, 1, 1);
        assert!(c.get(&1).is_err());
        let generation = c.get(&1).unwrap_err();
        c.insert(generation, 1, 2);
        assert_eq!(c.get(&1), Ok(2));
    }
}
