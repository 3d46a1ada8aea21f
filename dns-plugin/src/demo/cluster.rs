//! A simulated cluster: a real HTTP service behind a delaying relay on its own loopback address
//! (the network), with a lognormal service time, a concurrency limit (so requests really
//! queue), and switches to slow it down or make it fail.
//!
//! Like a real service can, it says in every response how long it took (`Server-Timing`) and
//! how busy its slots are (ORCA's `endpoint-load-metrics`), which is how Aviator's probes learn
//! an exporter's own view of its load here: the demo's clusters run no Aviator of their own to
//! publish it through a broker.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::relay;

/// How a simulated cluster behaves.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: &'static str,
    pub ip: IpAddr,
    /// Round trip of the network in front of it, ms: the relay delays each direction by half,
    /// and a new connection's handshake by one more.
    pub rtt_ms: f64,
    /// Mean service time, ms (lognormal, coefficient of variation about 1).
    pub service_ms: f64,
    /// Requests served at once; the rest wait their turn.
    pub slots: usize,
}

pub struct SimCluster {
    pub profile: Profile,
    /// The relay's address: the cluster's address as clients (and Aviator's probes) see it.
    pub addr: SocketAddr,
    slow_factor: Arc<AtomicU64>,
    failing: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
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
    in_flight: Arc<AtomicUsize>,
    /// Busy fraction of the slots, smoothed over about a second (f64 bits).
    utilization: Arc<AtomicU64>,
}

/// How often the busy slots are counted, and the time constant of their average.
const UTILIZATION_SAMPLE: Duration = Duration::from_millis(20);
const UTILIZATION_SMOOTHING_S: f64 = 1.0;

/// Keeps `utilization` at the busy fraction of `slots`, averaged exponentially, until shutdown.
async fn track_utilization(
    slots: Arc<Semaphore>,
    total: usize,
    utilization: Arc<AtomicU64>,
    shutdown: CancellationToken,
) {
    let alpha = UTILIZATION_SAMPLE.as_secs_f64() / UTILIZATION_SMOOTHING_S;
    let mut average = 0.0;
    let mut tick = tokio::time::interval(UTILIZATION_SAMPLE);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let busy = total.saturating_sub(slots.available_permits()) as f64 / total.max(1) as f64;
        average += alpha * (busy - average);
        utilization.store(average.to_bits(), Ordering::Relaxed);
    }
}

/// Counts a request as in flight for as long as its handler lives (a client that gives up
/// drops the handler, and so the count, with its connection).
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl SimCluster {
    pub async fn start(profile: Profile, shutdown: CancellationToken) -> anyhow::Result<Self> {
        // The service itself, on another port of the same address; only the relay talks to it.
        let listener = TcpListener::bind((profile.ip, 0)).await?;
        let service = listener.local_addr()?;
        let rtt = Duration::from_secs_f64(profile.rtt_ms / 1000.0);
        let addr = relay::start(profile.ip, service, rtt, shutdown.clone()).await?;
        let slow_factor = Arc::new(AtomicU64::new(1.0f64.to_bits()));
        let failing = Arc::new(AtomicBool::new(false));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let slots = Arc::new(Semaphore::new(profile.slots));
        let utilization = Arc::new(AtomicU64::new(0.0f64.to_bits()));
        tokio::spawn(track_utilization(
            slots.clone(),
            profile.slots,
            utilization.clone(),
            shutdown.clone(),
        ));
        let behaviour = Behaviour {
            slots,
            profile: profile.clone(),
            slow_factor: slow_factor.clone(),
            failing: failing.clone(),
            in_flight: in_flight.clone(),
            utilization,
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
            in_flight,
        })
    }

    pub fn switches(&self) -> Switches {
        Switches {
            slow_factor: self.slow_factor.clone(),
            failing: self.failing.clone(),
        }
    }

    /// Requests being served or waiting for a slot.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
}

/// The service: no network delay here (the relay adds it), only queueing and service time, and
/// the server's own account of both in the response headers.
async fn work(State(b): State<Behaviour>) -> impl IntoResponse {
    let arrived = Instant::now();
    let _in_flight = InFlight::new(&b.in_flight);
    let status = serve(&b).await;
    let utilization = f64::from_bits(b.utilization.load(Ordering::Relaxed));
    let headers = [
        (
            "server-timing",
            format!("app;dur={:.3}", arrived.elapsed().as_secs_f64() * 1e3),
        ),
        (
            "endpoint-load-metrics",
            // Both, as the slots are this service's CPU: a reader following gRPC's rule takes
            // an application figure of 0 for "not set" and falls back to the CPU's.
            format!(
                "TEXT application_utilization={utilization:.4}, cpu_utilization={utilization:.4}"
            ),
        ),
    ];
    let body = if status.is_success() {
        "ok\n"
    } else {
        "down\n"
    };
    (status, headers, body)
}

async fn serve(b: &Behaviour) -> StatusCode {
    if b.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let Ok(_slot) = b.slots.acquire().await else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    let factor = f64::from_bits(b.slow_factor.load(Ordering::SeqCst));
    let ms = lognormal(b.profile.service_ms * factor);
    tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
    StatusCode::OK
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
    use std::time::Duration;

    use aviator_broker::probe::http_get;
    use tokio_util::sync::CancellationToken;

    use super::{Profile, SimCluster};

    #[tokio::test]
    async fn a_request_pays_the_round_trip_and_a_new_connection_its_handshake_too() {
        let rtt = Duration::from_millis(100);
        // Under the timer's resolution, so what is measured is the network, not the service.
        let service = Duration::from_micros(100);
        let profile = Profile {
            name: "west",
            ip: "127.0.0.1".parse().expect("ip"),
            rtt_ms: rtt.as_secs_f64() * 1e3,
            service_ms: service.as_secs_f64() * 1e3,
            slots: 1,
        };
        let shutdown = CancellationToken::new();
        let cluster = SimCluster::start(profile, shutdown.clone())
            .await
            .expect("cluster");
        let client = aviator_broker::probe::http_client(Duration::from_secs(5)).expect("client");
        let url = format!("http://{}/work", cluster.addr);
        let timeout = Duration::from_secs(5);
        // The relay may aim up to half a millisecond early in each direction.
        let early = Duration::from_millis(1);
        let first = http_get(&client, &url, timeout)
            .await
            .expect("first GET")
            .elapsed;
        assert!(
            first >= 2 * rtt - early,
            "a new connection's GET took {first:?}"
        );
        let again = http_get(&client, &url, timeout).await.expect("second GET");
        // The server's own time is in the response, and the rest is the network's.
        let server_ms = again.server.server_ms.expect("Server-Timing");
        assert!(server_ms < 50.0, "the server says it took {server_ms} ms");
        assert!(
            again
                .server
                .utilization
                .is_some_and(|u| (0.0..=1.0).contains(&u))
        );
        let again = again.elapsed;
        assert!(again >= rtt - early, "a GET took {again:?}");
        assert!(
            again < 2 * rtt - early,
            "a reused connection's GET took {again:?}"
        );
        // A failing cluster answers at once, and the answer still crosses the network.
        cluster.switches().set_failing(true);
        let started = tokio::time::Instant::now();
        let failed = http_get(&client, &url, timeout).await;
        assert!(failed.is_err(), "{failed:?}");
        assert!(started.elapsed() >= rtt - early, "{:?}", started.elapsed());
        assert_eq!(cluster.in_flight(), 0);
        shutdown.cancel();
    }

    #[test]
    fn lognormal_has_the_requested_mean() {
        fastrand::seed(3);
        let n = 200_000;
        let mean = (0..n).map(|_| super::lognormal(10.0)).sum::<f64>() / n as f64;
        assert!((mean - 10.0).abs() < 0.2, "{mean}");
    }
}
