//! Keeps the clusterset in step with its file: reload on change, on SIGHUP and on a slow poll
//! (for filesystems without change notification), and hand each valid version to the control
//! loop. An invalid edit is logged and counted, and the last good state keeps serving.
//!
//! A reload cannot hurt what is served:
//! - a file is taken only once it has settled: it reads the same twice, [`SETTLE`] apart, so a
//!   writer that pauses half-way is not served its prefix (an atomic rename settles at once);
//! - a file above the size limit is refused unread, and a file's errors past
//!   [`clusterset::MAX_ERRORS`] are only counted;
//! - a reload that would drop most services is taken (it is valid) but warned of and counted;
//! - attempts run on the blocking pool, and a newer change never waits for an older attempt;
//!   an older attempt that ends after a newer one has published is dropped.

use std::hash::Hasher;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aviator_broker::clusterset::{self, FileWatch};
use aviator_broker::state::ClusterSet;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::metrics;
use crate::snapshot;

/// How often the file is re-read even without a change event: a backstop, and cheap, since an
/// unchanged file is only compared, not parsed.
const POLL_INTERVAL: Duration = Duration::from_secs(10);

/// How long a changed file must read the same before it is taken.
pub const SETTLE: Duration = Duration::from_millis(250);

/// Attempts that may run at once: the newest, and one older that has not yet noticed it lost.
const MAX_ATTEMPTS: usize = 2;

/// A reload that keeps fewer than this share of the services served is a mass drop.
const MASS_DROP_KEEPS: f64 = 0.5;
/// Clustersets smaller than this are too small for a mass drop to mean anything.
const MASS_DROP_MIN_SERVICES: usize = 10;

pub struct Reloader {
    path: PathBuf,
    publish: watch::Sender<Arc<ClusterSet>>,
    limit: u64,
    /// The text last looked at, valid or not, so an unchanged file is neither rebuilt nor
    /// reported twice.
    /// (Its fingerprint: the text itself may be tens of MB.)
    last_seen: Mutex<Option<Fingerprint>>,
    /// The newest attempt started: an older one says no errors, and stops settling.
    newest: AtomicU64,
    /// The attempt whose version is served: an older one publishes nothing.
    published: Mutex<u64>,
}

impl Reloader {
    pub fn new(
        path: PathBuf,
        publish: watch::Sender<Arc<ClusterSet>>,
        loaded_text: String,
        limit: u64,
    ) -> Self {
        Self {
            path,
            publish,
            limit,
            last_seen: Mutex::new(Some(Fingerprint::of(&loaded_text))),
            newest: AtomicU64::new(0),
            published: Mutex::new(0),
        }
    }

    /// Watches until `shutdown`, reloading whenever the file may have changed.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
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
        let mut attempts = JoinSet::new();
        // A change seen while MAX_ATTEMPTS ran: it starts when one ends.
        let mut pending = false;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = changed(&mut watch) => if !changed { watch = None },
                Some(()) = hangup_received(&mut hangup) => this.forget_last_seen(),
                _ = poll.tick() => {}
                Some(ended) = attempts.join_next() => {
                    if let Err(error) = ended {
                        error!(%error, "a reload attempt failed");
                    }
                    if !pending {
                        continue;
                    }
                }
            }
            if attempts.len() >= MAX_ATTEMPTS {
                pending = true;
                continue;
            }
            pending = false;
            let attempt = this.newest.fetch_add(1, Ordering::AcqRel) + 1;
            let this = this.clone();
            attempts.spawn_blocking(move || this.reload(attempt));
        }
    }

    fn last_seen(&self) -> MutexGuard<'_, Option<Fingerprint>> {
        self.last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn forget_last_seen(&self) {
        *self.last_seen() = None;
    }

    fn is_newest(&self, attempt: u64) -> bool {
        self.newest.load(Ordering::Acquire) == attempt
    }

    fn reload(&self, attempt: u64) {
        let Some(text) = self.settled(attempt) else {
            return;
        };
        {
            let seen = Some(Fingerprint::of(&text));
            let mut last_seen = self.last_seen();
            if *last_seen == seen {
                return;
            }
            *last_seen = seen;
        }
        let set = match clusterset::parse(&text, &self.path) {
            Ok(set) => set,
            Err(error) => return self.reject(attempt, &error.to_string()),
        };
        // Render it once here, so a file that validates but cannot be served (a name longer
        // than DNS allows) is rejected like any other invalid edit.
        if let Err(error) = snapshot::build(&set, None, &snapshot::Nameserver::default()) {
            return self.reject(attempt, &format!("{}: {error}", self.path.display()));
        }
        // An older attempt may finish after a newer one started (it is not stopped, only
        // outrun): it publishes unless a newer version already has, so a stream of edits
        // faster than a parse still gets served, and what is served never goes back.
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *published > attempt {
            return;
        }
        *published = attempt;
        let served = self.publish.borrow().services.len();
        if is_mass_drop(served, set.services.len()) {
            ::metrics::counter!(metrics::MASS_DROPS).increment(1);
            warn!(
                file = %self.path.display(),
                before = served,
                after = set.services.len(),
                "clusterset reload drops most services; serving it, since it is valid"
            );
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

    /// The file's text once two reads [`SETTLE`] apart agree; `None` if it cannot be read (said
    /// and counted) or a newer attempt has started.
    fn settled(&self, attempt: u64) -> Option<String> {
        // Nothing to wait for when the file is what was last seen: told without holding its
        // text, which every poll would otherwise allocate whole (4 MB at 10,000 services).
        if let (Some(now), Some(seen)) = (
            Fingerprint::of_file(&self.path, self.limit),
            *self.last_seen(),
        ) && now == seen
        {
            return None;
        }
        let mut text = match clusterset::read(&self.path, self.limit) {
            Ok(text) => text,
            Err(error) => {
                self.reject(attempt, &error.to_string());
                self.forget_last_seen();
                return None;
            }
        };
        // Nothing to wait for when the file is what was last seen.
        if *self.last_seen() == Some(Fingerprint::of(&text)) {
            return None;
        }
        loop {
            std::thread::sleep(SETTLE);
            if !self.is_newest(attempt) {
                return None;
            }
            match clusterset::read(&self.path, self.limit) {
                Ok(again) if again == text => return Some(text),
                Ok(again) => text = again,
                Err(error) => {
                    self.reject(attempt, &error.to_string());
                    self.forget_last_seen();
                    return None;
                }
            }
        }
    }

    fn reject(&self, attempt: u64, reason: &str) {
        if !self.is_newest(attempt) {
            return;
        }
        ::metrics::counter!(metrics::RELOADS, "result" => "error").increment(1);
        ::metrics::gauge!(metrics::LAST_RELOAD_OK).set(0.0);
        // One event, one line: the reasons are joined, so a log shipper keeps them together.
        let reason = reason.replace('\n', "; ");
        error!(
            file = %self.path.display(),
            "clusterset reload rejected; still serving the last good state: {reason}"
        );
    }
}

/// A file's text as its length and a 64-bit hash: two texts alike in both are taken as the
/// same (a chance of 2^-64 of missing an edit, which the next edit or SIGHUP takes anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: usize,
    hash: u64,
}

impl Fingerprint {
    fn of(text: &str) -> Self {
        let mut hasher = std::hash::DefaultHasher::new();
        hasher.write(text.as_bytes());
        Self {
            len: text.len(),
            hash: hasher.finish(),
        }
    }

    /// The fingerprint of the file's bytes, read a block at a time; `None` if it cannot be read
    /// or is larger than `limit` (the full read then says why).
    fn of_file(path: &Path, limit: u64) -> Option<Self> {
        let mut file = std::fs::File::open(path).ok()?.take(limit + 1);
        let mut hasher = std::hash::DefaultHasher::new();
        let mut block = [0; 64 << 10];
        let mut len = 0;
        loop {
            match file.read(&mut block) {
                Ok(0) => break,
                // SipHash is streaming: a text fed in blocks hashes as when fed whole.
                Ok(n) => {
                    hasher.write(&block[..n]);
                    len += n;
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        (len as u64 <= limit).then(|| Self {
            len,
            hash: hasher.finish(),
        })
    }
}

/// Whether going from `before` services to `after` drops most of them.
fn is_mass_drop(before: usize, after: usize) -> bool {
    before >= MASS_DROP_MIN_SERVICES && (after as f64) < MASS_DROP_KEEPS * before as f64
}

/// Gauges describing the snapshot now serving.
pub fn record_served(set: &ClusterSet) {
    ::metrics::gauge!(metrics::SERVICES).set(set.services.len() as f64);
    ::metrics::gauge!(metrics::CLUSTERS).set(set.clusters.len() as f64);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_read_in_blocks_has_the_fingerprint_of_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clusterset.yaml");
        // Several blocks, and a last one that is not full.
        let text: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, &text).unwrap();
        let limit = text.len() as u64;
        assert_eq!(
            Fingerprint::of_file(&path, limit),
            Some(Fingerprint::of(&text))
        );
        let edited = text.replacen("line 19999", "line 19998", 1);
        assert_ne!(Fingerprint::of(&edited), Fingerprint::of(&text));
        assert_eq!(
            Fingerprint::of_file(&path, limit - 1),
            None,
            "over the limit"
        );
        assert_eq!(
            Fingerprint::of_file(&dir.path().join("absent"), limit),
            None
        );
    }

    #[test]
    fn a_mass_drop_is_losing_most_of_ten_or_more_services() {
        assert!(is_mass_drop(20_000, 7));
        assert!(is_mass_drop(10, 4));
        assert!(!is_mass_drop(10, 5));
        assert!(!is_mass_drop(9, 0), "too few to tell");
        assert!(!is_mass_drop(100, 100));
    }
}
