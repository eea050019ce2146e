//! `serve` for a test: a `mcc-emu serve` process started on a free loopback
//! port, found by the `listening on ADDR` line it prints, stopped with
//! SIGINT; or a `ControlService` served in the test's own process.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};

use super::repo;

/// A running `mcc-emu serve`.
pub struct Served {
    child: Option<Child>,
    // Kept open: a closed pipe would make a later print fail.
    _stdout: BufReader<ChildStdout>,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
    /// The folder its outputs go to (`--out`).
    pub out: PathBuf,
}

impl Served {
    /// Starts `mcc-emu serve ARGS --listen 127.0.0.1:0 --out TEMP` from the
    /// repository folder and waits until it listens.
    pub fn start(args: &[&str]) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let stderr = dir.path().join("stderr.txt");
        let out = dir.path().join("out");
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcc-emu"))
            .current_dir(repo(""))
            .arg("serve")
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--out"])
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("mcc-emu serve starts");
        let stdout = child.stdout.take().unwrap();
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "serve printed {line:?}; stderr: {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        };
        Served {
            addr: addr.to_owned(),
            child: Some(child),
            _stdout: stdout,
            stderr,
            _dir: dir,
            out,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// The live view's page address (`http://ADDR/`) once serve has printed
    /// it (at most a minute).
    pub fn live_view_url(&self) -> String {
        super::wait_for_text(&self.stderr, "live view line", super::live_view_url)
    }

    /// The metrics address (`--metrics-listen`) once serve has printed it
    /// (at most a minute).
    pub fn metrics_address(&self) -> std::net::SocketAddr {
        super::wait_for_text(&self.stderr, "metrics address", |text| {
            super::metrics::metrics_address(text, "mcc-emu serve: metrics on ")
        })
    }

    /// Stops the served run, loads the repository's scenario `file` over
    /// gRPC (`LoadScenario`) and starts it.
    pub fn swap_scenario(&self, file: &str) {
        use mcc_proto::v1::{LoadScenarioRequest, StartRequest, StopRequest};
        let text = std::fs::read_to_string(repo(file)).unwrap();
        let name = file.rsplit('/').next().unwrap_or(file).to_owned();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let mut client = mcc_mobile_client::fleet::connect(&self.url(), None)
                .await
                .unwrap();
            client.stop(StopRequest {}).await.unwrap();
            client
                .load_scenario(LoadScenarioRequest {
                    scenario_toml: text,
                    name,
                })
                .await
                .unwrap();
            client.start(StartRequest::default()).await.unwrap();
        });
    }

    /// What it wrote on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends SIGINT (Ctrl-C) and waits for the exit (at most 60 s).
    pub fn interrupt(&mut self) -> ExitStatus {
        let child = self.child.take().expect("still running");
        super::interrupt(child, || self.stderr())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Registers device `phone` at a fixed position in Limerick's city centre
/// (inside the small-real and default scenarios' coverage).
pub fn phone_in_limerick() -> mcc_proto::v1::RegisterDeviceRequest {
    use mcc_proto::v1::{GeoPoint, register_device_request::Movement};
    mcc_proto::v1::RegisterDeviceRequest {
        device_id: "phone".into(),
        movement: Some(Movement::Position(GeoPoint {
            latitude_deg: 52.6630,
            longitude_deg: -8.6300,
        })),
    }
}

/// `service` served in this process on a free loopback port: a client of
/// it, and the sender that stops the serving (send or drop it).
pub async fn serve_in_process(
    service: &mcc_emu::serve::ControlService,
) -> (
    mcc_mobile_client::fleet::Client,
    tokio::sync::oneshot::Sender<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(mcc_emu::serve::serve(
        service.clone(),
        listener,
        None,
        async move {
            let _ = stopped.await;
        },
    ));
    let client = mcc_mobile_client::fleet::connect(&url, None).await.unwrap();
    (client, stop)
}
