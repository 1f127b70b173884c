//! An uploaded image from file to row: rendered in a bounded pool off the async runtime, its
//! keys scheduled for removal ([`deletions`], a grace period ahead), its renditions written to
//! the store, then the row inserted by the caller's repository write (the owner's limits and
//! primary rules checked in its transaction, which also cancels the scheduled removal). A
//! refused file writes nothing; a store that fails, or a row that cannot be inserted (owner
//! gone, limit reached), has the upload's objects removed at once — or, if the store cannot
//! take that either, by the worker; a process that dies in between leaves them to the worker
//! when the grace ends.

use super::render::{self, MAX_SIDE, MIN_SIDE, Rejected, Rendered};
use super::{MediaStore, deletions};
use crate::db::PgPool;
use crate::error::{Error, Result};
use crate::ids::{ImageId, OrganizationId};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, mpsc};
use tokio::sync::oneshot;
use uuid::Uuid;

/// Renders and stores uploads; cheap to clone.
#[derive(Clone, Debug)]
pub struct Uploads {
    store: MediaStore,
    /// Where an upload's keys are scheduled before its files are written.
    pg: PgPool,
    renderers: RenderPool,
}

type RenderJob = Box<dyn FnOnce() + Send>;

/// A fixed set of threads that render, one image each at a time, in arrival order: uploads
/// cannot starve other requests of CPU, and — unlike the runtime's blocking pool, which grows
/// threads on demand — only these few threads ever hold a decoded image, so the allocator's
/// per-thread arenas (tens of MB each after a render) stay few and memory stays bounded.
#[derive(Clone, Debug)]
struct RenderPool {
    jobs: mpsc::Sender<RenderJob>,
}

impl RenderPool {
    fn new(threads: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<RenderJob>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("render-{n}")).spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job, not while rendering.
                    let next = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = next else { return }; // every sender gone: the pool is dropped
                    // A panicking render fails its upload (its answer channel drops), not the thread.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a render thread");
            }
        }
        Self { jobs }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (answer, answered) = oneshot::channel();
        let job: RenderJob = Box::new(move || {
            let _ = answer.send(work());
        });
        self.jobs.send(job).map_err(|_| Error::Internal("the render pool has stopped".into()))?;
        answered.await.map_err(|_| Error::Internal("a render failed unexpectedly".into()))
    }
}

/// What an upload is for: page 22's key segment and the owner's id.
#[derive(Debug, Clone, Copy)]
pub struct UploadOwner {
    /// `products` or `variants`.
    pub kind: &'static str,
    pub id: Uuid,
}

/// A stored upload, as the row takes it.
#[derive(Debug, Clone)]
pub struct StoredImage {
    pub id: ImageId,
    /// The original rendition's URL.
    pub url: String,
    /// Width, height, format and size of the uploaded file (page 22), each rendition's URL and
    /// size, and the storage keys a deletion removes.
    pub metadata: Value,
    pub keys: Vec<String>,
}

impl Uploads {
    pub fn new(store: MediaStore, pg: PgPool, workers: usize) -> Self {
        Self { store, pg, renderers: RenderPool::new(workers) }
    }

    pub fn store(&self) -> &MediaStore {
        &self.store
    }

    /// Checks and renders `file` (see [`render`]), waiting for a free render thread.
    pub async fn render(&self, file: Vec<u8>) -> Result<Rendered> {
        self.renderers.run(move || render::render(&file)).await?.map_err(refused)
    }

    /// Renders `file`, stores its renditions and runs `insert` with them; the objects are
    /// deleted again when storing or `insert` fails. `insert` must cancel the keys' scheduled
    /// removal in its transaction (the image repositories do).
    pub async fn upload<T>(
        &self,
        org: OrganizationId,
        owner: UploadOwner,
        file: Vec<u8>,
        insert: impl AsyncFnOnce(&StoredImage) -> Result<T>,
    ) -> Result<T> {
        let rendered = self.render(file).await?;
        let id = ImageId::generate();
        let key = |size: &str, extension: &str| format!("{org}/{}/{}/{id}_{size}.{extension}", owner.kind, owner.id);
        let mut objects = Vec::new();
        let mut renditions = serde_json::Map::new();
        for rendition in rendered.renditions {
            let key = key(rendition.size.name(), rendition.extension);
            renditions.insert(
                rendition.size.name().into(),
                json!({ "url": self.store.url(&key), "width": rendition.width, "height": rendition.height }),
            );
            objects.push((key, Bytes::from(rendition.bytes)));
        }
        let keys: Vec<String> = objects.iter().map(|(key, _)| key.clone()).collect();
        let metadata = json!({
            "width": rendered.width,
            "height": rendered.height,
            "format": rendered.format.name(),
            "size_bytes": rendered.file_bytes,
            "renditions": renditions,
            "storage_keys": keys,
        });
        let stored = StoredImage { id, url: self.store.url(&keys[0]), metadata, keys };
        let grace_ends = chrono::Utc::now() + deletions::UPLOAD_GRACE;
        deletions::schedule(&mut *self.pg.get().await?, org, &stored.keys, grace_ends).await?;
        let outcome = match self.store.put_all(objects).await {
            Ok(()) => insert(&stored).await,
            Err(e) => Err(e),
        };
        if outcome.is_err() {
            self.discard(org, &stored.keys).await;
        }
        outcome
    }

    /// Removes a failed upload's objects now, or leaves them due now for the worker.
    async fn discard(&self, org: OrganizationId, keys: &[String]) {
        let removed = match self.store.delete_all(keys).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "could not remove the objects of a failed upload; the worker will");
                false
            }
        };
        let unscheduled = async {
            let conn = &mut *self.pg.get().await?;
            match removed {
                true => deletions::cancel(conn, org, keys).await,
                false => deletions::schedule(conn, org, keys, chrono::Utc::now()).await,
            }
        };
        if let Err(e) = unscheduled.await {
            tracing::warn!(error = %e, "could not update a failed upload's scheduled removal; it stays due at the grace's end");
        }
    }
}

/// 413 `IMAGE_TOO_LARGE` for a file over [`render::MAX_FILE_BYTES`] (`read`: bytes received
/// when the limit was passed).
pub fn file_too_large(read: usize) -> Error {
    let max = render::MAX_FILE_BYTES;
    Error::FileTooLarge {
        code: "IMAGE_TOO_LARGE",
        message: "Image file exceeds maximum size limit".into(),
        details: json!({ "file_size_bytes": read, "max_size_bytes": max, "max_size_mb": max / (1024 * 1024) }),
    }
}

/// Page 22's code and details for a refused file.
fn refused(rejected: Rejected) -> Error {
    let message = rejected.to_string();
    match rejected {
        Rejected::Format { provided } => Error::InvalidFile {
            code: "INVALID_IMAGE_FORMAT",
            message,
            details: json!({ "provided_format": provided, "allowed_formats": render::Format::ALLOWED }),
        },
        Rejected::Unreadable { format, reason } => Error::InvalidFile {
            code: "INVALID_IMAGE_FORMAT",
            message,
            details: json!({ "provided_format": format, "allowed_formats": render::Format::ALLOWED, "reason": reason }),
        },
        Rejected::TooSmall { width, height } => Error::Unprocessable {
            code: "IMAGE_TOO_SMALL",
            message,
            details: json!({ "width": width, "height": height, "min_width": MIN_SIDE, "min_height": MIN_SIDE }),
        },
        Rejected::TooManyPixels { width, height } => Error::FileTooLarge {
            code: "IMAGE_TOO_LARGE",
            message,
            details: json!({ "width": width, "height": height, "max_width": MAX_SIDE, "max_height": MAX_SIDE }),
        },
    }
}
