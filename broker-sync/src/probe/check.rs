//! The two measurements a probe takes: TCP connect time (round trip) and an HTTP GET, with
//! what the service says of itself in the GET's response headers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::headers::{SelfReport, self_report};

/// One GET: its whole time, and what the response's headers said.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HttpSample {
    pub elapsed: Duration,
    pub server: SelfReport,
}

impl HttpSample {
    /// A GET whose response said nothing of the server.
    pub fn timed(elapsed: Duration) -> Self {
        Self {
            elapsed,
            server: SelfReport::default(),
        }
    }
}

/// Why a probe failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("HTTP request failed: {0}")]
    Http(String),
    #[error("HTTP status {0}")]
    Status(u16),
}

/// Time to complete a TCP handshake with `addr`: one network round trip.
pub async fn tcp_rtt(addr: SocketAddr, timeout: Duration) -> Result<Duration, ProbeError> {
    let start = Instant::now();
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => Err(ProbeError::Timeout(timeout)),
        Ok(Err(error)) => Err(ProbeError::Connect(error)),
        Ok(Ok(_stream)) => Ok(start.elapsed()),
    }
}

/// Time for a GET of `url` to return a success status (2xx or 3xx), and the server's own
/// report in its headers.
pub async fn http_get(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<HttpSample, ProbeError> {
    let start = Instant::now();
    let request = async {
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|e| ProbeError::Http(e.to_string()))?;
        let status = response.status();
        let server = self_report(response.headers());
        // Read the body so the connection can be reused and the time includes it.
        let _ = response
            .bytes()
            .await
            .map_err(|e| ProbeError::Http(e.to_string()))?;
        if status.is_success() || status.is_redirection() {
            Ok(server)
        } else {
            Err(ProbeError::Status(status.as_u16()))
        }
    };
    match tokio::time::timeout(timeout, request).await {
        Err(_) => Err(ProbeError::Timeout(timeout)),
        Ok(Err(error)) => Err(error),
        Ok(Ok(server)) => Ok(HttpSample {
            elapsed: start.elapsed(),
            server,
        }),
    }
}
