//! The broker the clusters share: each publishes a small profile of itself (location, transfer
//! prices, export capacity, its own report of each export's load) and reads everyone else's.
//! Prices must be shared because a request's response pays the *exporting* cluster's egress,
//! which only that cluster knows; load reports because only the exporter sees everyone's
//! traffic at its export.
//!
//! [`Broker`] is the seam: the file backend here is the standalone default, and the Kubernetes
//! backend slots in behind the same trait. [`PeerBook`] keeps the last good copy of every
//! profile with its age, so an unreachable broker degrades to stale prices, not to none.

mod book;
mod file;
pub mod kube;
mod profile;

pub use book::PeerBook;
pub use file::FileBroker;
pub use kube::KubeBroker;
pub use profile::{ClusterProfile, ExportCapacity, ExportReport, unix_now};

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

/// Why the broker could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a cluster profile: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("broker namespace {namespace}: {message}")]
    Api { namespace: String, message: String },
}

/// Where cluster profiles are shared.
pub trait Broker: Send + Sync + 'static {
    /// Publishes this cluster's profile, replacing its previous one atomically.
    fn publish(
        &self,
        profile: &ClusterProfile,
    ) -> impl Future<Output = Result<(), BrokerError>> + Send;
    /// Reads every other cluster's profile. Unreadable entries are reported, not fatal: the
    /// readable ones are returned alongside their errors.
    fn fetch(
        &self,
    ) -> impl Future<Output = Result<(Vec<ClusterProfile>, Vec<BrokerError>), BrokerError>> + Send;
    /// The shortest time between two publications the backend should see: what a write costs
    /// it. Nothing for a file.
    fn min_publish_interval(&self) -> Duration {
        Duration::ZERO
    }
}

/// The broker in use: chosen at start-up, one of the backends.
pub enum AnyBroker {
    File(FileBroker),
    Kube(Box<KubeBroker>),
}

impl Broker for AnyBroker {
    async fn publish(&self, profile: &ClusterProfile) -> Result<(), BrokerError> {
        match self {
            AnyBroker::File(b) => b.publish(profile).await,
            AnyBroker::Kube(b) => b.publish(profile).await,
        }
    }

    async fn fetch(&self) -> Result<(Vec<ClusterProfile>, Vec<BrokerError>), BrokerError> {
        match self {
            AnyBroker::File(b) => b.fetch().await,
            AnyBroker::Kube(b) => b.fetch().await,
        }
    }

    fn min_publish_interval(&self) -> Duration {
        match self {
            AnyBroker::File(b) => b.min_publish_interval(),
            AnyBroker::Kube(b) => b.min_publish_interval(),
        }
    }
}
