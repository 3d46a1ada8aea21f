//! The demo's logs, kept out of its live table: what the demo and its Aviator instances log
//! (warnings and errors) goes to a file, which the demo names at the end if anything was written.
//!
//! The process's subscriber writes to stderr, where the live table is too (or beside it, on the
//! same terminal), and it is installed before the demo starts. So the demo runs on a runtime of
//! its own whose every thread logs to the file instead, through a thread-local default
//! dispatcher. Threads the runtime does not own (the DNS server's UDP thread) still log to stderr;
//! they log only hickory's warnings about malformed packets, which the demo does not send.

use std::cell::RefCell;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tracing::Dispatch;
use tracing::dispatcher::DefaultGuard;
use tracing::level_filters::LevelFilter;

thread_local! {
    /// Keeps this thread's default dispatcher set for as long as the thread lives.
    static TO_FILE: RefCell<Option<DefaultGuard>> = const { RefCell::new(None) };
}

pub struct LogFile {
    path: PathBuf,
    dispatch: Dispatch,
}

impl LogFile {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let file = Arc::new(File::create(path)?);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(file)
            .with_ansi(false)
            .with_max_level(LevelFilter::WARN)
            .finish();
        Ok(Self {
            path: path.to_owned(),
            dispatch: Dispatch::new(subscriber),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A multi-threaded runtime whose threads (workers and blocking pool alike) log to this file.
    /// The calling thread must log to it too: see [`LogFile::on_this_thread`].
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        let dispatch = self.dispatch.clone();
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .on_thread_start(move || {
                let guard = tracing::dispatcher::set_default(&dispatch);
                TO_FILE.with(|slot| *slot.borrow_mut() = Some(guard));
            })
            .on_thread_stop(|| TO_FILE.with(|slot| drop(slot.borrow_mut().take())))
            .build()
    }

    /// Sends this thread's logs to the file until the guard is dropped.
    pub fn on_this_thread(&self) -> DefaultGuard {
        tracing::dispatcher::set_default(&self.dispatch)
    }

    /// Lines written so far.
    pub fn lines(&self) -> usize {
        std::fs::read_to_string(&self.path)
            .map(|text| text.lines().count())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_runtime_s_threads_log_to_the_file_and_below_warn_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = super::LogFile::create(&dir.path().join("demo.log")).expect("log file");
        let runtime = log.runtime().expect("runtime");
        runtime.block_on(async {
            tokio::spawn(async {
                tracing::warn!("from a worker");
                tracing::info!("too chatty for the file");
            })
            .await
            .expect("task");
            tokio::task::spawn_blocking(|| tracing::error!("from the blocking pool"))
                .await
                .expect("blocking task");
        });
        drop(runtime);
        let text = std::fs::read_to_string(log.path()).expect("read");
        assert!(text.contains("from a worker"), "{text}");
        assert!(text.contains("from the blocking pool"), "{text}");
        assert!(!text.contains("too chatty"), "{text}");
        assert_eq!(log.lines(), 2, "{text}");
    }
}
