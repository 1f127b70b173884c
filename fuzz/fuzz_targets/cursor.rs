//! Page cursors come back from clients: any text must decode to nothing or to exactly the id
//! whose cursor it is (no second spelling of a cursor is accepted).
#![no_main]

use catalog_core::pagination::{decode_cursor, encode_cursor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    if let Some(id) = decode_cursor(raw) {
        assert!(encode_cursor(id).eq_ignore_ascii_case(raw), "{raw:?} decoded to {id}");
    }
});
