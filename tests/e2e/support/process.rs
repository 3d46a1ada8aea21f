//! Starts the real `aviator` binary on ephemeral ports and stops it when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a test waits for the binary to report its addresses, or for a condition to hold.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_aviator")
}

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name)
}

pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/clusterset.yaml")
}

/// A running `aviator serve`, killed on drop.
pub struct Aviator {
    child: Child,
    pub dns: SocketAddr,
    pub admin: SocketAddr,
    pub config: PathBuf,
    stderr: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl Aviator {
    /// Copies `config` into a fresh directory and serves it.
    pub fn start(config: &Path) -> Self {
        let text = std::fs::read_to_string(config).expect("read fixture");
        Self::start_with(&text)
    }

    /// Serves the given clusterset text from a file in a fresh directory.
    pub fn start_with(text: &str) -> Self {
        Self::start_with_args(text, &[])
    }

    /// Like [`Aviator::start_with`], with extra `serve` flags.
    pub fn start_with_args(text: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("clusterset.yaml");
        std::fs::write(&config, text).expect("write config");
        let mut args: Vec<String> = vec!["--config".into(), config.display().to_string()];
        args.extend(extra.iter().map(|a| a.to_string()));
        Self::spawn(dir, config, &args, &[])
    }

    /// `aviator serve --kubernetes` against the API server a kubeconfig names, with `env`.
    pub fn start_kubernetes(kubeconfig: &Path, extra: &[&str], env: &[(&str, String)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args: Vec<String> = vec!["--kubernetes".into()];
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut env = env.to_vec();
        env.push(("KUBECONFIG", kubeconfig.display().to_string()));
        Self::spawn(dir, PathBuf::new(), &args, &env)
    }

    fn spawn(
        dir: tempfile::TempDir,
        config: PathBuf,
        args: &[String],
        env: &[(&str, String)],
    ) -> Self {
        let mut child = Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
            .args(["--log-level", "info"])
            .args(args)
            // The test's own environment must not leak in; what the test sets, does.
            .env_remove("SUBMARINER_CLUSTERID")
            .env_remove("BROKER_K8S_APISERVER")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn aviator");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (line_tx, line_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = line_tx.send(line);
            }
        });
        let (err_tx, err_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let mut guard = Self {
            child,
            dns: "0.0.0.0:0".parse().unwrap(),
            admin: "0.0.0.0:0".parse().unwrap(),
            config,
            stderr: err_rx,
            _dir: dir,
        };
        let line = line_rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("aviator did not start: {}", guard.stderr_text()));
        // "aviator: serving <zones> on <dns> (udp+tcp); admin on http://<admin>"
        let dns = line.split(" on ").nth(1).and_then(|s| s.split(' ').next());
        let admin = line.rsplit("http://").next();
        guard.dns = dns.and_then(|s| s.parse().ok()).expect(&line);
        guard.admin = admin.and_then(|s| s.parse().ok()).expect(&line);
        guard
    }

    /// Everything the process wrote to stderr so far.
    /// The process's resident set, KiB (from `/proc`).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    }

    /// User and system CPU the process has used, clock ticks (1/100 s), from `/proc`.
    pub fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        let after = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.try_iter().collect::<Vec<_>>().join("\n")
    }

    /// Reads stderr until a line containing `needle` (returned, with the lines before it).
    /// Stdout and stderr are read by separate threads, so a line written before the
    /// start-up line on stdout may still be on its way.
    pub fn stderr_until(&self, needle: &str) -> String {
        let mut seen = Vec::new();
        loop {
            let line = self.stderr.recv_timeout(PATIENCE).unwrap_or_else(|_| {
                panic!("no line with {needle:?} on stderr: {}", seen.join("\n"))
            });
            let found = line.contains(needle);
            seen.push(line);
            if found {
                return seen.join("\n");
            }
        }
    }

    /// Replaces the served file the way editors do: write a new file, rename it over the old.
    pub fn rewrite_config(&self, text: &str) {
        let staging = self.config.with_extension("tmp");
        std::fs::write(&staging, text).expect("write staging");
        std::fs::rename(&staging, &self.config).expect("rename");
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "aviator ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Aviator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `condition` until it holds or [`PATIENCE`] runs out.
pub fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Writes `text` to a file named `file_name` in a fresh directory and runs
/// `aviator <command> <flag> <that file> <extra...>`; returns (success, stdout, stderr).
pub fn run_on_file(
    command: &str,
    flag: &str,
    file_name: &str,
    text: &str,
    extra: &[&str],
) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(file_name);
    std::fs::write(&file, text).expect("write input");
    let out = Command::new(binary())
        .arg(command)
        .arg(flag)
        .arg(&file)
        .args(extra)
        .output()
        .expect("run aviator");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
