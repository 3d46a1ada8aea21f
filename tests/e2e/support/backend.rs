//! A real HTTP backend for probe tests: answers every request after a settable delay, on a
//! loopback address of the test's choosing, and can be killed (connections then are refused)
//! or black-holed (it keeps accepting, never answers).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct Backend {
    pub addr: SocketAddr,
    delay_ms: Arc<AtomicU64>,
    silent: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Backend {
    /// Listens on `ip` (a 127.0.0.0/8 address) and an ephemeral port.
    pub fn start(ip: &str) -> Self {
        let listener = TcpListener::bind((ip, 0)).expect("bind backend");
        let addr = listener.local_addr().unwrap();
        let delay_ms = Arc::new(AtomicU64::new(0));
        let silent = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (d, s, st) = (delay_ms.clone(), silent.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (d, s, st) = (d.clone(), s.clone(), st.clone());
                std::thread::spawn(move || serve(stream, &d, &s, &st));
            }
        });
        Self {
            addr,
            delay_ms,
            silent,
            stop,
            thread: Some(thread),
        }
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Keeps accepting connections but never answers a request.
    pub fn black_hole(&self) {
        self.silent.store(true, Ordering::SeqCst);
    }

    /// Closes the listener: new connections are refused from now on.
    pub fn kill(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
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

fn serve(mut stream: TcpStream, delay_ms: &AtomicU64, silent: &AtomicBool, stop: &AtomicBool) {
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
        if silent.load(Ordering::SeqCst) {
            // Hold the connection open, answering nothing, until the backend stops.
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(delay_ms.load(Ordering::SeqCst)));
        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        if stream.write_all(reply).is_err() {
            return;
        }
    }
}
