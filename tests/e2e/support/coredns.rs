//! Real CoreDNS (`tests/coredns` builds the release it pins) as a cluster's own DNS server on
//! loopback: its Corefile says where the clusterset zone goes, and rewriting the Corefile is
//! what the submariner-operator does to a cluster's CoreDNS (its `reload` plugin picks the
//! change up within seconds). Killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::control_plane::{coredns, free_port, stop};

pub struct CoreDns {
    pub port: u16,
    corefile: PathBuf,
    _dir: tempfile::TempDir,
    child: Option<Child>,
}

impl CoreDns {
    /// Listens on 127.0.0.1 at a free port; `zone_block` is what the `clusterset.local` server
    /// block holds (for example `forward . 127.0.0.1:5353`).
    pub fn start(zone_block: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let corefile = dir.path().join("Corefile");
        let port = free_port();
        let mut dns = Self {
            port,
            corefile,
            _dir: dir,
            child: None,
        };
        dns.write(zone_block);
        let log = std::fs::File::create(dns._dir.path().join("coredns.log")).unwrap();
        dns.child = Some(
            Command::new(coredns().join("bin/coredns"))
                .arg("-conf")
                .arg(&dns.corefile)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("spawn coredns"),
        );
        dns
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// Rewrites the zone's server block, as an operator reconciling the Corefile does.
    pub fn rewrite(&self, zone_block: &str) {
        self.write(zone_block);
    }

    fn write(&self, zone_block: &str) {
        let text = format!(
            "clusterset.local:{port} {{\n    bind 127.0.0.1\n    reload 2s 1s\n    {zone_block}\n}}\n",
            port = self.port
        );
        std::fs::write(&self.corefile, text).unwrap();
    }
}

impl Drop for CoreDns {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
