//! Page cursors come back from clients: any text must decode to nothing or to exactly the id
//! whose cursor it is. The only other spellings accepted are the other letter case and the
//! legacy form, the same digits followed by an 8-digit checksum (cursors handed out before the
//! checksum was dropped); the checksum itself is checked by the unit tests.
#![no_main]

use catalog_core::pagination::{decode_cursor, encode_cursor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    if let Some(id) = decode_cursor(raw) {
        let cursor = encode_cursor(id);
        let (current, legacy_checksum) = raw.split_at(cursor.len().min(raw.len()));
        assert!(cursor.eq_ignore_ascii_case(current), "{raw:?} decoded to {id}");
        assert!(legacy_checksum.is_empty() || legacy_checksum.len() == 8, "{raw:?} decoded to {id}");
        assert_eq!(decode_cursor(current), Some(id), "{raw:?}: its id part alone names another row");
    }
});
