//! A simulated cluster: a real HTTP service on its own loopback address, with a network delay
//! injected in user space, a lognormal service time, a concurrency limit (so requests really
//! queue), and switches to slow it down or make it fail.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How a simulated cluster behaves.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: &'static str,
    pub ip: IpAddr,
    /// Round trip added to every request, ms (half before, half after the service).
    pub rtt_ms: f64,
    /// Mean service time, ms (lognormal, coefficient of variation about 1).
    pub service_ms: f64,
    /// Requests served at once; the rest wait their turn.
    pub slots: usize,
}

pub struct SimCluster {
    pub profile: Profile,
    pub addr: SocketAddr,
    slow_factor: Arc<AtomicU64>,
    failing: Arc<AtomicBool>,
}

/// A handle on a cluster's behaviour that the scenario can hold.
#[derive(Clone)]
pub struct Switches {
    slow_factor: Arc<AtomicU64>,
    failing: Arc<AtomicBool>,
}

impl Switches {
    /// Multiplies the service time (1 = normal).
    pub fn set_slow(&self, factor: f64) {
        self.slow_factor.store(factor.to_bits(), Ordering::SeqCst);
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

#[derive(Clone)]
struct Behaviour {
    profile: Profile,
    slots: Arc<Semaphore>,
    slow_factor: Arc<AtomicU64>,
    failing: Arc<AtomicBool>,
}

impl SimCluster {
    pub async fn start(profile: Profile, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let listener = TcpListener::bind((profile.ip, 0)).await?;
        let addr = listener.local_addr()?;
        let slow_factor = Arc::new(AtomicU64::new(1.0f64.to_bits()));
        let failing = Arc::new(AtomicBool::new(false));
        let behaviour = Behaviour {
            slots: Arc::new(Semaphore::new(profile.slots)),
            profile: profile.clone(),
            slow_factor: slow_factor.clone(),
            failing: failing.clone(),
        };
        let app = Router::new()
            .route("/work", get(work))
            .with_state(behaviour);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await;
        });
        Ok(Self {
            profile,
            addr,
            slow_factor,
            failing,
        })
    }

    pub fn switches(&self) -> Switches {
        Switches {
            slow_factor: self.slow_factor.clone(),
            failing: self.failing.clone(),
        }
    }
}

async fn work(State(b): State<Behaviour>) -> (StatusCode, &'static str) {
    let half_rtt = Duration::from_secs_f64(b.profile.rtt_ms / 2000.0);
    tokio::time::sleep(half_rtt).await;
    if b.failing.load(Ordering::SeqCst) {
        tokio::time::sleep(half_rtt).await;
        return (StatusCode::SERVICE_UNAVAILABLE, "down\n");
    }
    {
        let Ok(_slot) = b.slots.acquire().await else {
            return (StatusCode::SERVICE_UNAVAILABLE, "closed\n");
        };
        let factor = f64::from_bits(b.slow_factor.load(Ordering::SeqCst));
        let ms = lognormal(b.profile.service_ms * factor);
        tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
    }
    tokio::time::sleep(half_rtt).await;
    (StatusCode::OK, "ok\n")
}

/// A lognormal sample with the given mean and a coefficient of variation of about 1
/// (sigma² = ln 2), the shape of real service times.
fn lognormal(mean: f64) -> f64 {
    let sigma = std::f64::consts::LN_2.sqrt();
    let mu = mean.max(1e-3).ln() - sigma * sigma / 2.0;
    // Box-Muller.
    let (u1, u2) = (fastrand::f64().max(1e-12), fastrand::f64());
    let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    (mu + sigma * normal).exp()
}

#[cfg(test)]
mod tests {
    #[test]
    fn lognormal_has_the_requested_mean() {
        fastrand::seed(3);
        let n = 200_000;
        let mean = (0..n).map(|_| super::lognormal(10.0)).sum::<f64>() / n as f64;
        assert!((mean - 10.0).abs() < 0.2, "{mean}");
    }
}
