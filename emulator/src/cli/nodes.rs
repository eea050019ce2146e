//! `--spawn`, `--cloudlet-bin` and `--node-list`: where the real clock's
//! cloudlet nodes run, for `mcc-emu run --clock real` and `mcc-emu serve`.

use std::path::PathBuf;

use anyhow::Context;
use mcc_cloudlet::node_list;

use crate::realclock::NodeLaunch;
use crate::scenario::Scenario;

/// How the cloudlet nodes of a real-clock edge run.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NodeArgs {
    /// Real clock only: how the cloudlet nodes run (default: in-process).
    #[arg(long, value_enum)]
    pub spawn: Option<Spawn>,
    /// With `--spawn processes`: the `cloudlet` executable (default: the one
    /// next to mcc-emu).
    #[arg(long)]
    pub cloudlet_bin: Option<PathBuf>,
    /// With `--spawn remote`: the node list file (`NAME http://HOST:PORT`
    /// a line, every cloudlet of the topology; docs/cluster.md), instead of
    /// the scenario's `[cloudlets.addresses]`.
    #[arg(long, value_name = "FILE")]
    pub node_list: Option<PathBuf>,
}

/// Where the cloudlet nodes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Spawn {
    /// Tasks of the mcc-emu process, each node on its own loopback listener.
    InProcess,
    /// One `cloudlet` OS process per cloudlet (killed when the edge stops).
    Processes,
    /// Nodes already running at the scenario's `[cloudlets.addresses]`.
    Remote,
}

impl NodeArgs {
    /// Refuses the options on a run without real nodes.
    pub fn refuse_without_real_clock(&self) -> anyhow::Result<()> {
        if self.spawn.is_some() {
            anyhow::bail!("--spawn applies to --clock real only");
        }
        if self.cloudlet_bin.is_some() {
            anyhow::bail!("--cloudlet-bin applies to --clock real --spawn processes only");
        }
        if self.node_list.is_some() {
            anyhow::bail!("--node-list applies to --clock real --spawn remote only");
        }
        Ok(())
    }

    /// With `--node-list`: the node of each cloudlet of `scenario` from
    /// the file, replacing `[cloudlets.addresses]`. Every line must name a
    /// cloudlet of the topology, and every cloudlet have a line.
    pub fn apply_node_list(&self, scenario: &mut Scenario) -> anyhow::Result<()> {
        let Some(path) = &self.node_list else {
            return Ok(());
        };
        if self.spawn != Some(Spawn::Remote) {
            anyhow::bail!("--node-list applies to --spawn remote only");
        }
        let shown = path.display();
        let cloudlets = &scenario.world.cloudlets;
        let mut addresses = vec![None; cloudlets.len()];
        for entry in node_list::read(path)? {
            let index = cloudlets
                .iter()
                .position(|c| c.name == entry.name)
                .ok_or_else(|| {
                    let names: Vec<&str> = cloudlets.iter().take(8).map(|c| c.name.as_str()).collect();
                    anyhow::anyhow!(
                        "node list {shown}: line {}: the topology has no cloudlet {:?} (it has {}{})",
                        entry.line,
                        entry.name,
                        names.join(", "),
                        if cloudlets.len() > names.len() { ", ..." } else { "" }
                    )
                })?;
            addresses[index] = Some(entry.address);
        }
        if let Some(missing) = addresses.iter().position(Option::is_none) {
            anyhow::bail!(
                "node list {shown}: no line for cloudlet {}: every cloudlet of the topology \
                 needs its node ({} of {} listed)",
                cloudlets[missing].name,
                addresses.iter().filter(|a| a.is_some()).count(),
                cloudlets.len()
            );
        }
        scenario.node_addresses = addresses;
        Ok(())
    }

    /// The node launch the options ask for.
    pub fn launch(self) -> anyhow::Result<NodeLaunch> {
        let spawn = self.spawn.unwrap_or(Spawn::InProcess);
        if self.cloudlet_bin.is_some() && spawn != Spawn::Processes {
            anyhow::bail!("--cloudlet-bin applies to --spawn processes only");
        }
        Ok(match spawn {
            Spawn::InProcess => NodeLaunch::InProcess,
            Spawn::Processes => NodeLaunch::Processes {
                cloudlet_binary: match self.cloudlet_bin {
                    Some(path) => path,
                    None => cloudlet_next_to_us()?,
                },
            },
            Spawn::Remote => NodeLaunch::Remote,
        })
    }
}

/// The `cloudlet` executable in mcc-emu's own folder.
fn cloudlet_next_to_us() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find mcc-emu's own path")?;
    let path = exe.with_file_name(format!("cloudlet{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        anyhow::bail!(
            "--spawn processes: no cloudlet executable at {} (build it with `cargo build -p \
             mcc-cloudlet`, or name it with --cloudlet-bin)",
            path.display()
        );
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_in_process_and_misplaced_options_are_refused() {
        assert_eq!(
            NodeArgs::default().launch().expect("default"),
            NodeLaunch::InProcess
        );
        let remote_with_binary = NodeArgs {
            spawn: Some(Spawn::Remote),
            cloudlet_bin: Some(PathBuf::from("cloudlet")),
            node_list: None,
        };
        let error = remote_with_binary.clone().launch().unwrap_err().to_string();
        assert!(error.contains("--cloudlet-bin"), "{error}");
        let error = remote_with_binary
            .refuse_without_real_clock()
            .unwrap_err()
            .to_string();
        assert!(error.contains("--spawn"), "{error}");
        let named = NodeArgs {
            spawn: Some(Spawn::Processes),
            cloudlet_bin: Some(PathBuf::from("/opt/cloudlet")),
            node_list: None,
        };
        assert_eq!(
            named.launch().expect("named binary"),
            NodeLaunch::Processes {
                cloudlet_binary: PathBuf::from("/opt/cloudlet")
            }
        );
    }
}
