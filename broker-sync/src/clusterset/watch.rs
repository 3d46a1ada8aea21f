//! Tells when a clusterset file may have changed, so it can be reloaded.
//!
//! The file's directory is watched rather than the file: editors save by renaming a new file
//! over the old one, and Kubernetes swaps ConfigMap volumes by renaming a symlink. Either way the
//! watch on the file itself would go stale. Callers re-read the file and compare contents, so a
//! spurious wake-up costs one read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Events that arrive this close together are one change (an editor's write-rename-chmod).
const SETTLE: Duration = Duration::from_millis(50);

/// A watch on the directory that holds a file. Dropping it stops the watch.
pub struct FileWatch {
    _watcher: RecommendedWatcher,
    events: mpsc::UnboundedReceiver<()>,
}

impl FileWatch {
    pub fn new(file: &Path) -> notify::Result<Self> {
        let dir: PathBuf = match file.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        let (tx, events) = mpsc::unbounded_channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                // Errors from the watcher still mean "look again"; the read will tell what is wrong.
                let relevant = event.map_or(true, |e| !e.kind.is_access());
                if relevant {
                    let _ = tx.send(());
                }
            })?;
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        Ok(Self {
            _watcher: watcher,
            events,
        })
    }

    /// Waits for the next change, folding a burst of events into one.
    /// Returns `false` if the watcher has stopped.
    pub async fn changed(&mut self) -> bool {
        if self.events.recv().await.is_none() {
            return false;
        }
        loop {
            match tokio::time::timeout(SETTLE, self.events.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return false,
                Err(_elapsed) => return true,
            }
        }
    }
}
