//! Keyset (cursor) pagination. Pages walk the UUIDv7 primary key, so a deep page costs the same
//! as the first: an index range scan from the cursor, never an OFFSET.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    /// Exclusive bound: rows after it (forward) or before it (backward).
    pub cursor: Option<Uuid>,
    pub backward: bool,
}

impl PageRequest {
    pub fn first(limit: i64) -> Self {
        Self { limit, cursor: None, backward: false }
    }

    /// From the REST arguments `first`/`after` or `last`/`before`.
    pub fn from_args(
        first: Option<i64>,
        after: Option<&str>,
        last: Option<i64>,
        before: Option<&str>,
        allowed: std::ops::RangeInclusive<i64>,
        default_limit: i64,
    ) -> Result<Self> {
        let bad = |field: &'static str, message: &str| Error::InvalidArgument { field, message: message.into() };
        if (first.is_some() || after.is_some()) && (last.is_some() || before.is_some()) {
            return Err(bad("first", "use either first/after or last/before, not both"));
        }
        let backward = last.is_some() || before.is_some();
        let (limit, field) = if backward { (last, "last") } else { (first, "first") };
        let limit = limit.unwrap_or(default_limit);
        if !allowed.contains(&limit) {
            return Err(bad(field, &format!("must be between {} and {}", allowed.start(), allowed.end())));
        }
        let cursor = match if backward { before } else { after } {
            Some(raw) => Some(
                decode_cursor(raw).ok_or_else(|| bad(if backward { "before" } else { "after" }, "invalid cursor"))?,
            ),
            None => None,
        };
        Ok(Self { limit, cursor, backward })
    }

    /// Rows to fetch: one more than asked tells whether another page exists.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next: bool,
    pub has_previous: bool,
    /// Rows matching the filters over all pages, where the list counts them.
    pub total: Option<i64>,
}

impl<T> Page<T> {
    /// Shapes `fetch_limit()` rows fetched in walk order (descending when backward) into a page
    /// in ascending order.
    pub fn from_rows(mut rows: Vec<T>, req: &PageRequest) -> Self {
        let more = rows.len() as i64 > req.limit;
        rows.truncate(req.limit as usize);
        if req.backward {
            rows.reverse();
            Page { items: rows, has_next: req.cursor.is_some(), has_previous: more, total: None }
        } else {
            Page { items: rows, has_next: more, has_previous: req.cursor.is_some(), total: None }
        }
    }

    pub fn with_total(mut self, total: i64) -> Self {
        self.total = Some(total);
        self
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        let items = self.items.into_iter().map(f).collect();
        Page { items, has_next: self.has_next, has_previous: self.has_previous, total: self.total }
    }

    /// The same page position (and total) over other items: the page's rows turned into what
    /// the answer shows.
    pub fn with_items<U>(self, items: Vec<U>) -> Page<U> {
        Page { items, has_next: self.has_next, has_previous: self.has_previous, total: self.total }
    }
}

const CURSOR_VERSION: u8 = 1;

/// Opaque cursor: version, the row id and a checksum, hex-encoded. The checksum makes an edited
/// cursor a clear 400 rather than a silently different page.
pub fn encode_cursor(id: Uuid) -> String {
    let mut bytes = vec![CURSOR_VERSION];
    bytes.extend_from_slice(id.as_bytes());
    bytes.extend_from_slice(&checksum(&bytes));
    hex(&bytes)
}

pub fn decode_cursor(raw: &str) -> Option<Uuid> {
    let bytes = unhex(raw)?;
    if bytes.len() != 21 || bytes[0] != CURSOR_VERSION || checksum(&bytes[..17]) != bytes[17..] {
        return None;
    }
    Uuid::from_slice(&bytes[1..17]).ok()
}

fn checksum(bytes: &[u8]) -> [u8; 4] {
    let digest = Sha256::digest([b"catalog-cursor".as_slice(), bytes].concat());
    [digest[0], digest[1], digest[2], digest[3]]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(raw: &str) -> Option<Vec<u8>> {
    // `from_str_radix` alone would also take a sign ("+f"): only hex digits are a cursor.
    if raw.len() % 2 != 0 || raw.len() > 64 || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..raw.len()).step_by(2).map(|i| u8::from_str_radix(raw.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_tampering() {
        let id = Uuid::now_v7();
        let cursor = encode_cursor(id);
        assert_eq!(decode_cursor(&cursor), Some(id));
        let mut tampered = cursor.clone().into_bytes();
        tampered[10] = if tampered[10] == b'0' { b'1' } else { b'0' };
        assert_eq!(decode_cursor(&String::from_utf8(tampered).expect("ascii")), None);
        for junk in ["", "zz", "abc", "€€", &"0".repeat(42)] {
            assert_eq!(decode_cursor(junk), None, "{junk}");
        }
        // A second spelling of the same bytes ("+f" for "0f") is not a cursor either.
        let signed = format!("+{}", &cursor[1..]);
        assert!(cursor.starts_with('0'));
        assert_eq!(decode_cursor(&signed), None);
    }

    #[test]
    fn page_arguments_are_validated() {
        let req = PageRequest::from_args(None, None, None, None, 1..=100, 20).expect("defaults");
        assert_eq!(req, PageRequest::first(20));
        assert!(PageRequest::from_args(Some(101), None, None, None, 1..=100, 20).is_err());
        assert!(PageRequest::from_args(Some(0), None, None, None, 1..=100, 20).is_err());
        assert!(PageRequest::from_args(Some(5), None, Some(5), None, 1..=100, 20).is_err());
        assert!(PageRequest::from_args(None, Some("nope"), None, None, 1..=100, 20).is_err());
        let id = Uuid::now_v7();
        let back = PageRequest::from_args(None, None, Some(3), Some(&encode_cursor(id)), 1..=100, 20).expect("valid");
        assert_eq!(back, PageRequest { limit: 3, cursor: Some(id), backward: true });
    }

    #[test]
    fn pages_report_neighbours_in_both_directions() {
        let fwd = PageRequest::first(2);
        let page = Page::from_rows(vec![1, 2, 3], &fwd);
        assert_eq!((page.items, page.has_next, page.has_previous), (vec![1, 2], true, false));
        let back = PageRequest { limit: 2, cursor: Some(Uuid::nil()), backward: true };
        let page = Page::from_rows(vec![9, 8, 7], &back);
        assert_eq!((page.items, page.has_next, page.has_previous), (vec![8, 9], true, true));
    }
}
