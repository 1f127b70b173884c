//! Graceful shutdown: the first SIGTERM (Kubernetes) or Ctrl-C starts draining.

use tokio::sync::watch;

/// Resolves when the process is asked to stop.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("interrupt received, shutting down"),
        () = term => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// A signal that many tasks can wait on: `trigger` once, every `wait` resolves.
#[derive(Clone)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self { tx: watch::channel(false).0 }
    }
}

impl Shutdown {
    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }

    /// Whether `trigger` was called: for blocking threads, which cannot `wait`.
    pub fn triggered(&self) -> bool {
        *self.tx.borrow()
    }

    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}
