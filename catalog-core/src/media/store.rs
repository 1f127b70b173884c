//! Where uploaded images' files live: one interface ([`object_store`]) over the local filesystem
//! (the local run's default, served by the API under `/media/`) and any S3-compatible store
//! (production, behind a CDN). Keys follow page 22: `{org}/{products|variants}/{owner}/
//! {image_id}_{size}.{ext}`; URLs are the configured public base plus the key.
//!
//! A store that cannot be reached is `Error::Unavailable` (503): an upload then leaves nothing
//! behind, a deletion is retried by the worker.

use crate::config::{StorageBackend, StorageSettings};
use crate::error::{Error, Result};
use bytes::Bytes;
use futures_util::TryStreamExt;
use futures_util::future::join_all;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct MediaStore {
    store: Arc<dyn ObjectStore>,
    public_base_url: String,
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaStore").field("store", &self.store.to_string()).finish()
    }
}

fn unavailable(e: object_store::Error) -> Error {
    Error::Unavailable(format!("object storage: {e}"))
}

fn path(key: &str) -> Result<Path> {
    Path::parse(key).map_err(|e| Error::internal_from(&format!("object key {key:?}"), &e))
}

impl MediaStore {
    pub fn from_settings(settings: &StorageSettings) -> Result<Self> {
        let invalid = |field: &'static str| {
            move |e: object_store::Error| Error::InvalidArgument { field, message: e.to_string() }
        };
        let store: Arc<dyn ObjectStore> = match settings.backend {
            StorageBackend::Local => {
                std::fs::create_dir_all(&settings.local_path).map_err(|e| Error::InvalidArgument {
                    field: "STORAGE_LOCAL_PATH",
                    message: format!("{}: {e}", settings.local_path),
                })?;
                Arc::new(LocalFileSystem::new_with_prefix(&settings.local_path).map_err(invalid("STORAGE_LOCAL_PATH"))?)
            }
            StorageBackend::S3 => {
                // The standard AWS_* variables (a web identity, say) apply unless set here.
                // A store call is bounded, retries included: an upload answers 503 in seconds,
                // a removal is tried again later by the worker.
                let timeout = Duration::from_millis(settings.timeout_ms);
                let retry = RetryConfig { max_retries: 3, retry_timeout: timeout, ..RetryConfig::default() };
                let client = ClientOptions::new()
                    .with_timeout(timeout)
                    .with_connect_timeout(timeout.min(Duration::from_secs(3)));
                let mut builder = AmazonS3Builder::from_env()
                    .with_retry(retry)
                    .with_client_options(client)
                    .with_bucket_name(&settings.s3_bucket)
                    .with_region(&settings.s3_region)
                    .with_virtual_hosted_style_request(!settings.s3_path_style);
                let endpoint = settings.s3_endpoint.trim();
                if !endpoint.is_empty() {
                    builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
                }
                if !settings.s3_access_key_id.is_empty() {
                    builder = builder
                        .with_access_key_id(settings.s3_access_key_id.expose())
                        .with_secret_access_key(settings.s3_secret_access_key.expose());
                }
                Arc::new(builder.build().map_err(invalid("STORAGE_S3_ENDPOINT"))?)
            }
        };
        Ok(Self { store, public_base_url: settings.public_base_url.trim_end_matches('/').to_string() })
    }

    /// The URL an answer gives for `key`.
    pub fn url(&self, key: &str) -> String {
        format!("{}/{key}", self.public_base_url)
    }

    /// Writes every object, concurrently; if any fails, the whole is `Unavailable` (the caller
    /// removes what was written, see [`super::upload`]).
    pub async fn put_all(&self, objects: Vec<(String, Bytes)>) -> Result<()> {
        let mut puts = Vec::with_capacity(objects.len());
        for (key, bytes) in objects {
            let path = path(&key)?;
            puts.push(async move { self.store.put(&path, PutPayload::from(bytes)).await });
        }
        match join_all(puts).await.into_iter().find_map(|result| result.err()) {
            None => Ok(()),
            Some(e) => Err(unavailable(e)),
        }
    }

    /// Deletes the objects; one already gone counts as deleted, so a retry is harmless.
    pub async fn delete_all(&self, keys: &[String]) -> Result<()> {
        let mut deletes = Vec::with_capacity(keys.len());
        for key in keys {
            let path = path(key)?;
            deletes.push(async move { self.store.delete(&path).await });
        }
        for result in join_all(deletes).await {
            match result {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(())
    }

    /// The object's bytes (`None`: no such object, or a key that is not one).
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let Ok(path) = Path::parse(key) else { return Ok(None) };
        match self.store.get(&path).await {
            Ok(found) => Ok(Some(found.bytes().await.map_err(unavailable)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Every object's key, sorted (tests; a store this service owns is small enough).
    pub async fn keys(&self) -> Result<Vec<String>> {
        let objects: Vec<_> = self.store.list(None).try_collect().await.map_err(unavailable)?;
        let mut keys: Vec<String> = objects.into_iter().map(|object| object.location.to_string()).collect();
        keys.sort();
        Ok(keys)
    }

    /// Whether the object exists (tests and health checks).
    pub async fn exists(&self, key: &str) -> Result<bool> {
        match self.store.head(&path(key)?).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }
}
