//! Keyset (cursor) pagination. Pages walk the UUIDv7 primary key, so a deep page costs the same
//! as the first: an index range scan from the cursor, never an OFFSET.
//!
//! The arguments follow the GraphQL Cursor Connections spec, as the answers' `edges`/`pageInfo`
//! already do: `after` and `before` bound the rows (both exclusive, both may be given), `first`
//! keeps the first rows of that window, and `last` then keeps the last rows of what is left. Every combination is a request; only a size out of range or a cursor that does not
//! decode is refused, naming the argument.
//!
//! A cursor is the hex of a version byte and the row's id, nothing more. Any well-formed cursor
//! is a valid keyset position, so there is nothing for a checksum to protect: a hand-edited
//! cursor only moves the page, and never reaches another tenant's rows, because every list is
//! scoped by organization before a cursor bounds it. Without a checksum the format is what an
//! OpenAPI `pattern` can state (`^01[0-9a-fA-F]{32}$`), so a client (or a fuzzer) building a
//! cursor from the published schema is never refused. Cursors handed out before carried a
//! 4-byte checksum after the id; they still decode (checksum checked), so pages a client holds
//! across a deploy keep working.

use crate::error::{Error, Result};
use diesel::dsl;
use diesel::expression::Expression;
use diesel::query_dsl::methods::{FilterDsl, OrderDsl};
use diesel::{ExpressionMethods, sql_types};
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows the walk takes (`first`, or `last` when walking backward, else the default).
    pub limit: i64,
    /// Exclusive bound: only rows after this one, in the list's order.
    pub after: Option<Uuid>,
    /// Exclusive bound: only rows before this one, in the list's order.
    pub before: Option<Uuid>,
    /// Walk from the end of the window (`last` or `before` without `first`).
    pub backward: bool,
    /// `last` given with `first`: of the rows walked forward keep only the last this many.
    pub then_last: Option<i64>,
}

impl PageRequest {
    /// The first `limit` rows.
    pub fn first(limit: i64) -> Self {
        Self { limit, after: None, before: None, backward: false, then_last: None }
    }

    /// The first `limit` rows after `cursor`.
    pub fn after(limit: i64, cursor: Uuid) -> Self {
        Self { after: Some(cursor), ..Self::first(limit) }
    }

    /// The last `limit` rows before `cursor`.
    pub fn before(limit: i64, cursor: Uuid) -> Self {
        Self { before: Some(cursor), backward: true, ..Self::first(limit) }
    }

    /// From the REST arguments, in any combination (see the module doc). Without `first`, a
    /// `last` or a `before` walks backward from the end of the window; otherwise the walk goes
    /// forward, `first` (or the default) rows, and `last` trims what it took.
    pub fn from_args(
        first: Option<i64>,
        after: Option<&str>,
        last: Option<i64>,
        before: Option<&str>,
        allowed: std::ops::RangeInclusive<i64>,
        default_limit: i64,
    ) -> Result<Self> {
        let bad = |field: &'static str, message: String| Error::InvalidArgument { field, message };
        let size = |value: Option<i64>, field| match value {
            Some(n) if !allowed.contains(&n) => {
                Err(bad(field, format!("must be between {} and {}", allowed.start(), allowed.end())))
            }
            _ => Ok(value),
        };
        let cursor = |raw: Option<&str>, field| match raw {
            Some(raw) => decode_cursor(raw).map(Some).ok_or_else(|| bad(field, "invalid cursor".into())),
            None => Ok(None),
        };
        let (first, last) = (size(first, "first")?, size(last, "last")?);
        let (after, before) = (cursor(after, "after")?, cursor(before, "before")?);
        let backward = first.is_none() && (last.is_some() || before.is_some());
        Ok(if backward {
            Self { limit: last.unwrap_or(default_limit), after, before, backward, then_last: None }
        } else {
            Self { limit: first.unwrap_or(default_limit), after, before, backward, then_last: last }
        })
    }

    /// Rows to fetch: one more than the walk takes tells whether rows lie beyond it.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }

    /// The id range and walk order of this page over a list shown in ascending id order; see
    /// [`Keyset::reversed`] for a list shown newest first.
    pub fn keyset(&self) -> Keyset {
        Keyset { above: self.after, below: self.before, descending: self.backward }
    }
}

/// What a list query applies: exclusive id bounds and the order the rows are fetched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyset {
    /// Only ids greater than this.
    pub above: Option<Uuid>,
    /// Only ids less than this.
    pub below: Option<Uuid>,
    /// Fetch in descending id order.
    pub descending: bool,
}

impl Keyset {
    /// For a list shown in descending id order: `after` then means smaller ids, and walking
    /// forward fetches downward.
    pub fn reversed(self) -> Self {
        Keyset { above: self.below, below: self.above, descending: !self.descending }
    }

    /// Bounds and orders `query` (any select, boxed or not, already limited to
    /// [`PageRequest::fetch_limit`]) on its UUID key `id`.
    pub fn apply<Q, C>(self, mut query: Q, id: C) -> Q
    where
        C: Expression<SqlType = sql_types::Uuid> + Copy,
        Q: FilterDsl<dsl::Gt<C, Uuid>, Output = Q>
            + FilterDsl<dsl::Lt<C, Uuid>, Output = Q>
            + OrderDsl<dsl::Asc<C>, Output = Q>
            + OrderDsl<dsl::Desc<C>, Output = Q>,
    {
        if let Some(above) = self.above {
            query = FilterDsl::filter(query, id.gt(above));
        }
        if let Some(below) = self.below {
            query = FilterDsl::filter(query, id.lt(below));
        }
        if self.descending { OrderDsl::order(query, id.desc()) } else { OrderDsl::order(query, id.asc()) }
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
    /// Shapes `fetch_limit()` rows fetched in walk order (reversed when backward) into a page in
    /// the list's order, keeping the `last` of a `first`+`last` request. A given cursor on the
    /// side the walk did not reach implies a neighbour page there (the cursor's own row).
    pub fn from_rows(mut rows: Vec<T>, req: &PageRequest) -> Self {
        let beyond = rows.len() as i64 > req.limit;
        rows.truncate(req.limit as usize);
        if req.backward {
            rows.reverse();
            let has_previous = beyond || req.after.is_some();
            return Page { items: rows, has_next: req.before.is_some(), has_previous, total: None };
        }
        let trimmed = match req.then_last {
            Some(last) => rows.len().saturating_sub(usize::try_from(last).unwrap_or(0)),
            None => 0,
        };
        rows.drain(..trimmed);
        let (has_next, has_previous) = (beyond || req.before.is_some(), trimmed > 0 || req.after.is_some());
        Page { items: rows, has_next, has_previous, total: None }
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

/// The cursor of the row `id`: the hex (lowercase) of the version byte and the id's 16 bytes.
pub fn encode_cursor(id: Uuid) -> String {
    let mut bytes = vec![CURSOR_VERSION];
    bytes.extend_from_slice(id.as_bytes());
    hex(&bytes)
}

/// The id a cursor names, from the current form (34 hex digits, either case) or the legacy one
/// (the same followed by its 4-byte checksum, which must match).
pub fn decode_cursor(raw: &str) -> Option<Uuid> {
    let bytes = unhex(raw)?;
    let (keyed, legacy_checksum) = bytes.split_at_checked(17)?;
    if keyed[0] != CURSOR_VERSION || !(legacy_checksum.is_empty() || legacy_checksum == checksum(keyed)) {
        return None;
    }
    Uuid::from_slice(&keyed[1..]).ok()
}

/// The checksum legacy cursors carried after the id.
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

    const RANGE: std::ops::RangeInclusive<i64> = 1..=100;

    fn args(first: Option<i64>, after: Option<&str>, last: Option<i64>, before: Option<&str>) -> Result<PageRequest> {
        PageRequest::from_args(first, after, last, before, RANGE, 20)
    }

    fn field(result: Result<PageRequest>) -> &'static str {
        match result {
            Err(Error::InvalidArgument { field, .. }) => field,
            other => panic!("expected an invalid argument, got {other:?}"),
        }
    }

    /// What `from_rows` makes of `rows` (ascending ids 1..) for `req`, as the repositories fetch
    /// them: bounded, in walk order, `fetch_limit()` at most.
    fn page_of(rows: std::ops::RangeInclusive<u128>, req: PageRequest) -> (Vec<u128>, bool, bool) {
        let keys = req.keyset();
        let mut fetched: Vec<u128> = rows
            .filter(|&n| keys.above.is_none_or(|a| n > a.as_u128()) && keys.below.is_none_or(|b| n < b.as_u128()))
            .collect();
        if keys.descending {
            fetched.reverse();
        }
        fetched.truncate(req.fetch_limit() as usize);
        let page = Page::from_rows(fetched, &req);
        (page.items, page.has_next, page.has_previous)
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn cursors_round_trip_in_either_case() {
        let id = Uuid::now_v7();
        let cursor = encode_cursor(id);
        assert_eq!((cursor.len(), &cursor[..2]), (34, "01"));
        assert_eq!(cursor, cursor.to_lowercase());
        assert_eq!(decode_cursor(&cursor), Some(id));
        assert_eq!(decode_cursor(&cursor.to_uppercase()), Some(id));
        // Any 32 hex digits after the version are a position: an edited cursor is another row.
        let edited = format!("01{}", "f".repeat(32));
        assert_eq!(decode_cursor(&edited), Some(Uuid::max()));
    }

    #[test]
    fn legacy_checksummed_cursors_still_decode() {
        let id = Uuid::now_v7();
        let mut bytes = vec![CURSOR_VERSION];
        bytes.extend_from_slice(id.as_bytes());
        bytes.extend_from_slice(&checksum(&bytes));
        let legacy = hex(&bytes);
        assert_eq!(legacy.len(), 42);
        assert_eq!(decode_cursor(&legacy), Some(id));
        assert_eq!(decode_cursor(&legacy.to_uppercase()), Some(id));
        let mut tampered = legacy.into_bytes();
        tampered[40] = if tampered[40] == b'0' { b'1' } else { b'0' };
        assert_eq!(decode_cursor(&String::from_utf8(tampered).expect("ascii")), None, "a wrong checksum");
    }

    #[test]
    fn malformed_cursors_are_refused() {
        let cursor = encode_cursor(Uuid::now_v7());
        let wrong_version = format!("02{}", &cursor[2..]);
        let short = &cursor[..32];
        let long = format!("{cursor}00");
        let signed = format!("+{}", &cursor[1..]);
        for junk in ["", "zz", "abc", "€€", &"0".repeat(34), &wrong_version, short, &long, &signed, " 01"] {
            assert_eq!(decode_cursor(junk), None, "{junk}");
        }
    }

    #[test]
    fn page_arguments_are_validated_naming_the_argument() {
        assert_eq!(args(None, None, None, None).expect("defaults"), PageRequest::first(20));
        assert_eq!(field(args(Some(101), None, None, None)), "first");
        assert_eq!(field(args(Some(0), None, None, None)), "first");
        assert_eq!(field(args(Some(5), None, Some(0), None)), "last");
        assert_eq!(field(args(None, None, Some(101), None)), "last");
        assert_eq!(field(args(None, Some("nope"), None, None)), "after");
        assert_eq!(field(args(Some(5), Some(&encode_cursor(id(1))), Some(2), Some("01zz"))), "before");
        let limits = args(Some(1), None, Some(100), None).expect("both ends of the range");
        assert_eq!((limits.limit, limits.then_last), (1, Some(100)));
    }

    #[test]
    fn every_combination_is_a_request() {
        let (a, b) = (encode_cursor(id(3)), encode_cursor(id(8)));
        for first in [None, Some(2)] {
            for after in [None, Some(a.as_str())] {
                for last in [None, Some(3)] {
                    for before in [None, Some(b.as_str())] {
                        args(first, after, last, before).expect("a valid combination");
                    }
                }
            }
        }
        let back = args(None, None, Some(3), Some(&b)).expect("last/before");
        assert_eq!(back, PageRequest::before(3, id(8)));
        let both = args(Some(4), Some(&a), Some(2), Some(&b)).expect("everything");
        let expected =
            PageRequest { limit: 4, after: Some(id(3)), before: Some(id(8)), backward: false, then_last: Some(2) };
        assert_eq!(both, expected);
    }

    #[test]
    fn forward_and_backward_walks_report_their_neighbours() {
        // Rows 1..=10.
        assert_eq!(page_of(1..=10, PageRequest::first(3)), (vec![1, 2, 3], true, false));
        assert_eq!(page_of(1..=10, PageRequest::after(3, id(8))), (vec![9, 10], false, true));
        assert_eq!(page_of(1..=10, PageRequest::before(3, id(5))), (vec![2, 3, 4], true, true));
        assert_eq!(page_of(1..=10, PageRequest::before(5, id(4))), (vec![1, 2, 3], true, false));
        let last_only = PageRequest::from_args(None, None, Some(2), None, RANGE, 20).expect("last");
        assert_eq!(page_of(1..=10, last_only), (vec![9, 10], false, true));
        let before_only =
            PageRequest::from_args(None, None, None, Some(&encode_cursor(id(3))), RANGE, 20).expect("before");
        assert_eq!(page_of(1..=10, before_only), (vec![1, 2], true, false));
    }

    #[test]
    fn first_and_last_take_the_tail_of_the_head() {
        let req = |first, after: Option<u128>, last, before: Option<u128>| {
            let (after, before) = (after.map(|n| encode_cursor(id(n))), before.map(|n| encode_cursor(id(n))));
            args(first, after.as_deref(), last, before.as_deref()).expect("valid")
        };
        // first 5 = 1..=5, then its last 2.
        assert_eq!(page_of(1..=10, req(Some(5), None, Some(2), None)), (vec![4, 5], true, true));
        // `last` at least `first` keeps them all: nothing cut before them.
        assert_eq!(page_of(1..=10, req(Some(3), None, Some(5), None)), (vec![1, 2, 3], true, false));
        // Past the end: first 5 after 7 is 8..=10, its last 2 is 9..=10.
        assert_eq!(page_of(1..=10, req(Some(5), Some(7), Some(2), None)), (vec![9, 10], false, true));
        // Strictly between the cursors.
        assert_eq!(page_of(1..=10, req(None, Some(3), None, Some(8))), (vec![4, 5, 6, 7], true, true));
        assert_eq!(page_of(1..=10, req(Some(2), Some(3), None, Some(8))), (vec![4, 5], true, true));
        assert_eq!(page_of(1..=10, req(None, Some(3), Some(2), Some(8))), (vec![6, 7], true, true));
        assert_eq!(page_of(1..=10, req(Some(3), Some(3), Some(2), Some(8))), (vec![5, 6], true, true));
        assert_eq!(page_of(1..=10, req(Some(9), Some(3), Some(9), Some(8))), (vec![4, 5, 6, 7], true, true));
        // An empty window is a page too.
        assert_eq!(page_of(1..=10, req(Some(3), Some(5), Some(3), Some(6))), (vec![], true, true));
        assert_eq!(page_of(1..=10, req(Some(3), Some(8), None, Some(2))), (vec![], true, true));
    }

    #[test]
    fn a_list_shown_newest_first_swaps_the_bounds() {
        let keys = PageRequest::after(2, id(5)).keyset().reversed();
        assert_eq!(keys, Keyset { above: None, below: Some(id(5)), descending: true });
        let keys = PageRequest::before(2, id(5)).keyset().reversed();
        assert_eq!(keys, Keyset { above: Some(id(5)), below: None, descending: false });
    }
}
