//! Single flight: concurrent callers asking for the same key share one execution. The work runs in
//! its own task, so it completes (and its result is stored) even if every caller goes away.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use crate::ServiceError;

type Flight<V> = Shared<BoxFuture<'static, Result<V, ServiceError>>>;

pub(crate) struct Flights<K, V: Clone> {
    map: Mutex<HashMap<K, Flight<V>>>,
}

impl<K, V: Clone> Default for Flights<K, V> {
    fn default() -> Self {
        Flights {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone + Send + Sync + 'static> Flights<K, V> {
    /// Runs `work()` unless a run for `key` is under way, and returns its result either way.
    pub async fn run<F>(&self, key: K, work: impl FnOnce() -> F) -> Result<V, ServiceError>
    where
        F: Future<Output = Result<V, ServiceError>> + Send + 'static,
    {
        let flight = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            match map.get(&key) {
                Some(f) => f.clone(),
                None => {
                    let handle = tokio::spawn(work());
                    let f = async move {
                        handle.await.unwrap_or_else(|e| {
                            Err(ServiceError::internal("background task failed", e))
                        })
                    }
                    .boxed()
                    .shared();
                    map.insert(key.clone(), f.clone());
                    f
                }
            }
        };
        let result = flight.clone().await;
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(&key).is_some_and(|f| f.ptr_eq(&flight)) {
            map.remove(&key);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::Flights;

    #[tokio::test]
    async fn concurrent_callers_share_one_run() {
        let flights: Arc<Flights<&'static str, usize>> = Arc::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for _ in 0..20 {
            let (flights, runs) = (flights.clone(), runs.clone());
            handles.push(tokio::spawn(async move {
                flights
                    .run("k", || async move {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        Ok(runs.fetch_add(1, Ordering::SeqCst) + 1)
                    })
                    .await
            }));
        }
        for h in handles {
            assert_eq!(h.await.unwrap().unwrap(), 1);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // Once finished, the next call runs again.
        let again = flights.run("k", || async { Ok(7) }).await.unwrap();
        assert_eq!(again, 7);
    }
}
