//! Idempotency keys (REST `Idempotency-Key`): the first request with a key claims it, runs, and
//! records its response; a retry with the same key and the same request gets that response
//! again instead of running twice. Keys belong to an organization and last [`KEY_TTL_HOURS`].

use crate::db::PgConn;
use crate::error::Result;
use crate::ids::OrganizationId;
use diesel::sql_types::{Bytea, Integer, Jsonb, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};

/// How long a recorded response is replayed.
pub const KEY_TTL_HOURS: i64 = 24;
/// A claim whose response was never recorded (its process died mid-request) is given to the
/// next request after this long. Requests time out well before it.
pub const CLAIM_TIMEOUT_SECS: i64 = 120;

/// A response as recorded for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This request owns the key: run it, then [`record`] (or [`release`]) its response.
    Claimed,
    /// The key already answered this request: replay.
    Replay(StoredResponse),
    /// The first request with this key is still running.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

#[derive(diesel::QueryableByName)]
struct Existing {
    #[diesel(sql_type = Bytea)]
    fingerprint: Vec<u8>,
    #[diesel(sql_type = Nullable<Integer>)]
    status_code: Option<i32>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    response_headers: Option<serde_json::Value>,
    #[diesel(sql_type = Nullable<Bytea>)]
    response_body: Option<Vec<u8>>,
}

/// Claims `key` for the request `fingerprint` identifies, or says what the key is already for.
/// An expired key, or an abandoned claim, is taken over in the same statement.
pub async fn claim(conn: &mut PgConn, org: OrganizationId, key: &str, fingerprint: &[u8]) -> Result<Claim> {
    // One row written (inserted, or an expired claim taken over) means the key is ours.
    let claimed = diesel::sql_query(format!(
        "INSERT INTO idempotency_keys AS k (organization_id, key, fingerprint) VALUES ($1, $2, $3) \
         ON CONFLICT (organization_id, key) DO UPDATE \
            SET fingerprint = EXCLUDED.fingerprint, created_at = now(), status_code = NULL, \
                response_headers = NULL, response_body = NULL \
          WHERE k.created_at < now() - interval '{KEY_TTL_HOURS} hours' \
             OR (k.status_code IS NULL AND k.created_at < now() - interval '{CLAIM_TIMEOUT_SECS} seconds')"
    ))
    .bind::<SqlUuid, _>(org.as_uuid())
    .bind::<Text, _>(key)
    .bind::<Bytea, _>(fingerprint)
    .execute(conn)
    .await?;
    if claimed == 1 {
        return Ok(Claim::Claimed);
    }
    let existing: Option<Existing> = diesel::sql_query(
        "SELECT fingerprint, status_code::int AS status_code, response_headers, response_body \
           FROM idempotency_keys WHERE organization_id = $1 AND key = $2",
    )
    .bind::<SqlUuid, _>(org.as_uuid())
    .bind::<Text, _>(key)
    .load(conn)
    .await?
    .pop();
    let Some(existing) = existing else {
        // Released between the two statements: the key is free again.
        return Box::pin(claim(conn, org, key, fingerprint)).await;
    };
    Ok(if existing.fingerprint != fingerprint {
        Claim::Mismatch
    } else if let Some(status) = existing.status_code {
        let headers = existing
            .response_headers
            .and_then(|h| serde_json::from_value::<Vec<(String, String)>>(h).ok())
            .unwrap_or_default();
        Claim::Replay(StoredResponse {
            status: u16::try_from(status).unwrap_or(500),
            headers,
            body: existing.response_body.unwrap_or_default(),
        })
    } else {
        Claim::InProgress
    })
}

/// Records the response of the request that claimed `key`.
pub async fn record(
    conn: &mut PgConn,
    org: OrganizationId,
    key: &str,
    fingerprint: &[u8],
    response: &StoredResponse,
) -> Result<()> {
    diesel::sql_query(
        "UPDATE idempotency_keys SET status_code = $4, response_headers = $5, response_body = $6 \
          WHERE organization_id = $1 AND key = $2 AND fingerprint = $3 AND status_code IS NULL",
    )
    .bind::<SqlUuid, _>(org.as_uuid())
    .bind::<Text, _>(key)
    .bind::<Bytea, _>(fingerprint)
    .bind::<Integer, _>(i32::from(response.status))
    .bind::<Jsonb, _>(serde_json::to_value(&response.headers).unwrap_or_default())
    .bind::<Bytea, _>(&response.body)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives the key up without a response (the request failed on the server's side), so a retry
/// runs again.
pub async fn release(conn: &mut PgConn, org: OrganizationId, key: &str, fingerprint: &[u8]) -> Result<()> {
    diesel::sql_query(
        "DELETE FROM idempotency_keys \
          WHERE organization_id = $1 AND key = $2 AND fingerprint = $3 AND status_code IS NULL",
    )
    .bind::<SqlUuid, _>(org.as_uuid())
    .bind::<Text, _>(key)
    .bind::<Bytea, _>(fingerprint)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes expired keys, a bounded chunk at a time (the worker calls it with the outbox pruning).
pub async fn prune(conn: &mut PgConn) -> Result<()> {
    conn.batch_execute(&format!(
        "DELETE FROM idempotency_keys WHERE (organization_id, key) IN (SELECT organization_id, key \
           FROM idempotency_keys WHERE created_at < now() - interval '{KEY_TTL_HOURS} hours' LIMIT 10000)"
    ))
    .await?;
    Ok(())
}

/// What identifies a request for its key: who sent it, and its method, path, query and body.
pub fn fingerprint(user: impl std::fmt::Display, method: &str, path: &str, query: &str, body: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in [user.to_string().as_bytes(), method.as_bytes(), path.as_bytes(), query.as_bytes()] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.update(body);
    hash.finalize().to_vec()
}
