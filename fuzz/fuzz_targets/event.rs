//! Events consumed from RabbitMQ are other teams' bytes: parsing never panics, and what it
//! accepts has a name, and data that is an object (or absent: null).
#![no_main]

use catalog_core::inbound::{MAX_EVENT_BYTES, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = parse(data, Some("fuzz-message-id")) {
        assert!(data.len() <= MAX_EVENT_BYTES);
        assert!(!event.name.is_empty());
        assert!(!event.event_id.is_empty(), "every accepted delivery has a deduplication key");
        assert!(event.data.is_object() || event.data.is_null(), "{:?}", event.data);
    }
});
