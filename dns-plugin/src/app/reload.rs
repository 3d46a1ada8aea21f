//! Keeps the clusterset in step with its file: reload on change, on SIGHUP and on a slow poll
//! (for filesystems without change notification), and hand each valid version to the control
//! loop. An invalid edit is logged and counted, and the last good state keeps serving.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aviator_broker::clusterset::{self, FileWatch};
use aviator_broker::state::ClusterSet;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::metrics;
use crate::snapshot;

/// How often the file is re-read even without a change event: a backstop, and cheap, since an
/// unchanged file is only compared, not parsed.
const POLL_INTERVAL: Duration = Duration::from_secs(10);

pub struct Reloader {
    path: PathBuf,
    publish: watch::Sender<Arc<ClusterSet>>,
    /// The text last looked at, valid or not, so an unchanged file is neither rebuilt nor
    /// reported twice.
    last_seen: Option<String>,
}

impl Reloader {
    pub fn new(
        path: PathBuf,
        publish: watch::Sender<Arc<ClusterSet>>,
        loaded_text: String,
    ) -> Self {
        Self {
            path,
            publish,
            last_seen: Some(loaded_text),
        }
    }

    /// Watches until `shutdown`, reloading whenever the file may have changed. Reading, parsing
    /// and building run on the blocking pool, so a large file never stalls the runtime.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut this = self;
        let mut watch = match FileWatch::new(&this.path) {
            Ok(watch) => Some(watch),
            Err(error) => {
                warn!(%error, file = %this.path.display(),
                      "cannot watch the clusterset file; polling every {POLL_INTERVAL:?}");
                None
            }
        };
        let mut hangup = signal(SignalKind::hangup()).ok();
        let mut poll = tokio::time::interval(POLL_INTERVAL);
        poll.tick().await;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = changed(&mut watch) => if !changed { watch = None },
                Some(()) = hangup_received(&mut hangup) => this.last_seen = None,
                _ = poll.tick() => {}
            }
            this = match tokio::task::spawn_blocking(move || {
                this.reload();
                this
            })
            .await
            {
                Ok(this) => this,
                Err(error) => {
                    error!(%error, "the reload task failed; hot reload is off");
                    return;
                }
            };
        }
    }

    fn reload(&mut self) {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) => {
                reject(&format!(
                    "{}: cannot read the file: {error}",
                    self.path.display()
                ));
                self.last_seen = None;
                return;
            }
        };
        if self.last_seen.as_deref() == Some(text.as_str()) {
            return;
        }
        self.last_seen = Some(text.clone());
        let set = match clusterset::parse(&text, &self.path) {
            Ok(set) => set,
            Err(error) => return reject(&error.to_string()),
        };
        // Render it once here, so a file that validates but cannot be served (a name longer
        // than DNS allows) is rejected like any other invalid edit.
        if let Err(error) = snapshot::build(&set, None, &snapshot::Nameserver::default()) {
            return reject(&format!("{}: {error}", self.path.display()));
        }
        record_served(&set);
        ::metrics::counter!(metrics::RELOADS, "result" => "ok").increment(1);
        ::metrics::gauge!(metrics::LAST_RELOAD_OK).set(1.0);
        info!(
            file = %self.path.display(),
            clusters = set.clusters.len(),
            services = set.services.len(),
            "clusterset reloaded"
        );
        self.publish.send_replace(Arc::new(set));
    }
}

/// Gauges describing the snapshot now serving.
pub fn record_served(set: &ClusterSet) {
    ::metrics::gauge!(metrics::SERVICES).set(set.services.len() as f64);
    ::metrics::gauge!(metrics::CLUSTERS).set(set.clusters.len() as f64);
}

fn reject(reason: &str) {
    ::metrics::counter!(metrics::RELOADS, "result" => "error").increment(1);
    ::metrics::gauge!(metrics::LAST_RELOAD_OK).set(0.0);
    error!("clusterset reload rejected; still serving the last good state\n{reason}");
}

async fn changed(watch: &mut Option<FileWatch>) -> bool {
    match watch {
        Some(watch) => watch.changed().await,
        None => std::future::pending().await,
    }
}

async fn hangup_received(hangup: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match hangup {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}
