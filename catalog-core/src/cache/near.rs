//! The near cache: a bounded, per-process copy of the encoded answers Redis served, for a few
//! seconds, so the hottest products and variants cost no round trip at all.
//!
//! Every invalidation (any process's, the relay's second delete included) publishes the keys it
//! dropped on one Redis channel in the same pipeline as the tombstones; each process holding a
//! near cache listens and forgets them. The process that invalidates forgets its own entries
//! before the write returns, so its readers never see an older version after that. Another
//! replica stops serving it once the message arrives (well under a millisecond here); if its
//! subscription breaks, it forgets everything and serves nothing from memory until it has
//! subscribed again. Should messages be lost on a connection that still looks alive, the TTL
//! bounds the staleness.

use quick_cache::Weighter;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What a message on the channel says to forget: the keys, one per line, or everything.
pub(super) const FORGET_ALL: &str = "*";

#[derive(Clone)]
struct Entry {
    bytes: Arc<[u8]>,
    stored_at: Instant,
}

/// Weighs an entry by its bytes (the key's included), so the bound is memory, not a count.
#[derive(Clone)]
struct ByBytes;

impl Weighter<String, Entry> for ByBytes {
    fn weight(&self, key: &String, entry: &Entry) -> u64 {
        (key.len() + entry.bytes.len()) as u64
    }
}

pub(super) struct NearCache {
    entries: quick_cache::sync::Cache<String, Entry, ByBytes>,
    ttl: Duration,
    /// Bumped by every invalidation this process hears of; a fill from a Redis read begun before
    /// a bump is dropped (it may hold what the invalidation removed).
    invalidations: AtomicU64,
    /// Subscribed to the channel: only then is anything served or stored.
    listening: AtomicBool,
}

/// Roughly how large an entry is, to size the cache's table (a product's protobuf: ~1.4 KB).
const TYPICAL_ENTRY_BYTES: u64 = 2048;

impl NearCache {
    pub(super) fn new(ttl: Duration, max_bytes: u64) -> Self {
        let estimated_items = (max_bytes / TYPICAL_ENTRY_BYTES).max(16) as usize;
        Self {
            entries: quick_cache::sync::Cache::with_weighter(estimated_items, max_bytes, ByBytes),
            ttl,
            invalidations: AtomicU64::new(0),
            listening: AtomicBool::new(false),
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<Vec<u8>> {
        if !self.listening.load(Ordering::SeqCst) {
            return None;
        }
        let entry = self.entries.get(key)?;
        (entry.stored_at.elapsed() < self.ttl).then(|| entry.bytes.to_vec())
    }

    /// Taken before the Redis read whose hits [`Self::store`] keeps; `None`: not listening.
    pub(super) fn epoch(&self) -> Option<u64> {
        self.listening.load(Ordering::SeqCst).then(|| self.invalidations.load(Ordering::SeqCst))
    }

    /// Keeps what a Redis read begun at `epoch` returned, unless an invalidation came since.
    pub(super) fn store(&self, epoch: u64, key: String, bytes: &[u8]) {
        if self.invalidations.load(Ordering::SeqCst) != epoch {
            return;
        }
        let key_again = key.clone();
        self.entries.insert(key, Entry { bytes: bytes.into(), stored_at: Instant::now() });
        // An invalidation between the check and the insert bumped the counter before removing
        // its keys: either it removed this entry, or this check sees the bump.
        if self.invalidations.load(Ordering::SeqCst) != epoch {
            self.entries.remove(&key_again);
        }
    }

    pub(super) fn forget<'a>(&self, keys: impl IntoIterator<Item = &'a str>) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
        for key in keys {
            self.entries.remove(key);
        }
    }

    pub(super) fn forget_all(&self) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
        self.entries.clear();
    }

    /// Applies one message of the channel.
    fn hear(&self, message: &str) {
        if message == FORGET_ALL {
            self.forget_all();
        } else {
            self.forget(message.lines());
        }
    }

    /// Listens on `channel` for as long as the process runs, resubscribing after a failure; the
    /// cache serves nothing while not subscribed.
    pub(super) async fn listen(self: Arc<Self>, client: redis::Client, channel: String) {
        use futures_util::StreamExt;
        loop {
            match client.get_async_pubsub().await {
                Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                    Ok(()) => {
                        // Whatever was kept before this subscription may have missed messages.
                        self.forget_all();
                        self.listening.store(true, Ordering::SeqCst);
                        let mut messages = pubsub.on_message();
                        while let Some(message) = messages.next().await {
                            match message.get_payload::<String>() {
                                Ok(text) => self.hear(&text),
                                Err(_) => self.forget_all(),
                            }
                        }
                        self.listening.store(false, Ordering::SeqCst);
                        self.forget_all();
                        tracing::warn!(channel, "near cache: subscription lost, serving from Redis until it is back");
                    }
                    Err(e) => tracing::warn!(channel, error = %e, "near cache: cannot subscribe"),
                },
                Err(e) => tracing::debug!(channel, error = %e, "near cache: Redis unreachable"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    #[cfg(test)]
    fn listening_for_test(self) -> Self {
        self.listening.store(true, Ordering::SeqCst);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(ttl_ms: u64) -> NearCache {
        NearCache::new(Duration::from_millis(ttl_ms), 1 << 20).listening_for_test()
    }

    #[test]
    fn serves_what_it_stored_until_the_ttl() {
        let near = near(50);
        let epoch = near.epoch().unwrap();
        near.store(epoch, "k".into(), b"v");
        assert_eq!(near.get("k").as_deref(), Some(&b"v"[..]));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(near.get("k"), None);
    }

    #[test]
    fn a_read_begun_before_an_invalidation_stores_nothing() {
        let near = near(10_000);
        let epoch = near.epoch().unwrap();
        near.hear("other\nkeys");
        near.store(epoch, "k".into(), b"old");
        assert_eq!(near.get("k"), None);
        let epoch = near.epoch().unwrap();
        near.store(epoch, "k".into(), b"new");
        assert_eq!(near.get("k").as_deref(), Some(&b"new"[..]));
        near.hear("k");
        assert_eq!(near.get("k"), None);
        near.store(near.epoch().unwrap(), "k".into(), b"new");
        near.hear(FORGET_ALL);
        assert_eq!(near.get("k"), None);
    }

    #[test]
    fn nothing_is_served_or_stored_while_not_subscribed() {
        let near = NearCache::new(Duration::from_secs(10), 1 << 20);
        assert_eq!(near.epoch(), None);
        near.entries.insert("k".into(), Entry { bytes: b"v"[..].into(), stored_at: Instant::now() });
        assert_eq!(near.get("k"), None);
    }

    #[test]
    fn holds_no_more_bytes_than_its_bound() {
        let near = NearCache::new(Duration::from_secs(10), 64 * 1024).listening_for_test();
        for i in 0..1_000 {
            near.store(near.epoch().unwrap(), format!("key-{i}"), &[7u8; 1024]);
        }
        assert!(near.entries.weight() <= 64 * 1024, "{} bytes held", near.entries.weight());
        assert!(near.entries.len() > 10);
    }
}
