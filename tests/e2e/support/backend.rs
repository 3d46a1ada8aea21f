//! A real HTTP backend for probe tests: answers every request after a settable delay, on a
//! loopback address of the test's choosing, and can be killed (connections then are refused)
//! black-holed (it keeps accepting, never answers) or made to fail (HTTP 503).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct Backend {
    pub addr: SocketAddr,
    switches: Arc<Switches>,
    thread: Option<JoinHandle<()>>,
}

impl Backend {
    /// Listens on `ip` (a 127.0.0.0/8 address) and an ephemeral port.
    pub fn start(ip: &str) -> Self {
        let listener = TcpListener::bind((ip, 0)).expect("bind backend");
        let addr = listener.local_addr().unwrap();
        let switches = Arc::new(Switches::default());
        let shared = switches.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Self {
            addr,
            switches,
            thread: Some(thread),
        }
    }

    pub fn set_delay(&self, delay: Duration) {
        self.switches
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Keeps accepting connections but never answers a request.
    pub fn black_hole(&self) {
        self.switches.silent.store(true, Ordering::SeqCst);
    }

    /// Answers every request with HTTP 503 while `failing`, as a service whose pods fail.
    pub fn set_failing(&self, failing: bool) {
        self.switches.failing.store(failing, Ordering::SeqCst);
    }

    /// Closes the listener: new connections are refused from now on.
    pub fn kill(&mut self) {
        self.switches.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and drops the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the test sets and the serving threads read.
#[derive(Default)]
struct Switches {
    delay_ms: AtomicU64,
    silent: AtomicBool,
    failing: AtomicBool,
    stop: AtomicBool,
}

fn serve(mut stream: TcpStream, switches: &Switches) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        // Serve requests on the connection until the client closes it (keep-alive).
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        request.clear();
        if switches.silent.load(Ordering::SeqCst) {
            // Hold the connection open, answering nothing, until the backend stops.
            while !switches.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(
            switches.delay_ms.load(Ordering::SeqCst),
        ));
        let reply: &[u8] = if switches.failing.load(Ordering::SeqCst) {
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nfail"
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        };
        if stream.write_all(reply).is_err() {
            return;
        }
    }
}
