//! An organization's standing as the Auth Service last told it (`auth.organization.*` events,
//! mirrored in `organization_states`): the one rule REST's refusals and gRPC's validations share.

use crate::db::PgConn;
use crate::error::{Error, Result};
use crate::ids::OrganizationId;
use crate::schema::organization_states;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Good,
    /// Until Auth lifts it, or until `suspension_end_date` passes.
    Suspended,
    /// For good: its products were soft-deleted.
    Deactivated,
}

impl Standing {
    /// `suspended_until` ends a suspension by itself; a deactivation never ends.
    pub fn of(
        suspended: bool,
        suspended_until: Option<DateTime<Utc>>,
        deactivated_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        if deactivated_at.is_some() {
            Standing::Deactivated
        } else if suspended && suspended_until.is_none_or(|until| until > now) {
            Standing::Suspended
        } else {
            Standing::Good
        }
    }

    /// The refusal a request of the organization gets: 403, with a code a front end can show.
    pub fn refusal(self) -> Option<Error> {
        match self {
            Standing::Good => None,
            Standing::Suspended => Some(Error::Forbidden {
                code: "ORGANIZATION_SUSPENDED",
                message: "the organization is suspended".into(),
            }),
            Standing::Deactivated => Some(Error::Forbidden {
                code: "ORGANIZATION_DEACTIVATED",
                message: "the organization is deactivated".into(),
            }),
        }
    }

    /// How the refusal is remembered in the cache (`auth:org:{id}`), and read back.
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Good => "good",
            Standing::Suspended => "suspended",
            Standing::Deactivated => "deactivated",
        }
    }

    pub fn parse(raw: &[u8]) -> Self {
        match raw {
            b"suspended" => Standing::Suspended,
            b"deactivated" => Standing::Deactivated,
            _ => Standing::Good,
        }
    }
}

/// `suspended`, `suspended_until`, `deactivated_at`.
type StateRow = (bool, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The organization's standing now (no row: good).
pub async fn standing(conn: &mut PgConn, org: OrganizationId) -> Result<Standing> {
    let row: Option<StateRow> = organization_states::table
        .find(org)
        .select((
            organization_states::suspended,
            organization_states::suspended_until,
            organization_states::deactivated_at,
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(row.map_or(Standing::Good, |(suspended, until, deactivated)| {
        Standing::of(suspended, until, deactivated, Utc::now())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn a_suspension_ends_by_itself_and_a_deactivation_never() {
        let now = Utc::now();
        assert_eq!(Standing::of(false, None, None, now), Standing::Good);
        assert_eq!(Standing::of(true, None, None, now), Standing::Suspended);
        assert_eq!(Standing::of(true, Some(now + Duration::hours(1)), None, now), Standing::Suspended);
        assert_eq!(Standing::of(true, Some(now - Duration::seconds(1)), None, now), Standing::Good);
        assert_eq!(Standing::of(false, None, Some(now), now), Standing::Deactivated);
        for standing in [Standing::Good, Standing::Suspended, Standing::Deactivated] {
            assert_eq!(Standing::parse(standing.as_str().as_bytes()), standing);
        }
    }
}
