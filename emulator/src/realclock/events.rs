//! What the edge tells its subscribers as it happens.

/// One event of the edge; times are scenario time in nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub enum EdgeEvent {
    /// A device changed access point (or left or entered coverage).
    Handover {
        /// Scenario time.
        time_ns: u64,
        /// The device.
        device: String,
        /// The access point before (`None`: out of coverage).
        from: Option<String>,
        /// The access point after.
        to: Option<String>,
    },
    /// The placement policy moved a VM: a migration starts.
    MigrationStarted {
        /// Scenario time.
        time_ns: u64,
        /// The VM.
        vm: String,
        /// Source cloudlet.
        from: String,
        /// Target cloudlet.
        to: String,
        /// Why (`handover`, `periodic`).
        reason: &'static str,
    },
    /// A migration reached a phase on its source node (a pre-copy round
    /// begun, the suspend, the switch, the push), as the node reports it.
    MigrationPhase {
        /// Scenario time the edge learnt it.
        time_ns: u64,
        /// The VM.
        vm: String,
        /// Source cloudlet.
        from: String,
        /// Target cloudlet.
        to: String,
        /// The phase.
        step: mcc_cloudlet::node::migrate::Step,
    },
    /// A migration committed: the VM runs at the target.
    MigrationDone {
        /// Scenario time.
        time_ns: u64,
        /// The VM.
        vm: String,
        /// Source cloudlet.
        from: String,
        /// Target cloudlet.
        to: String,
        /// Measured downtime, in milliseconds (0 for soft-migration).
        downtime_ms: f64,
        /// Bytes streamed to the target.
        bytes: u64,
        /// Wall-clock time from start to commit, in milliseconds.
        wall_ms: f64,
    },
    /// A cloudlet node died (reported once per node); its VMs are lost.
    NodeLost {
        /// Scenario time it was declared lost.
        time_ns: u64,
        /// The cloudlet.
        node: String,
        /// Why.
        reason: String,
        /// The VMs it took with it.
        vms: Vec<String>,
    },
    /// A VM lost with its node was started again from scratch elsewhere
    /// (`on_node_loss = "restart"`).
    VmRestarted {
        /// Scenario time it runs again.
        time_ns: u64,
        /// The VM.
        vm: String,
        /// The node it was lost with.
        from: String,
        /// The node it runs on now.
        to: String,
        /// Wall-clock time from the node found lost to the VM hosted again.
        wall_ms: f64,
    },
    /// A migration failed; the VM stays at (or returned to) its source.
    MigrationFailed {
        /// Scenario time.
        time_ns: u64,
        /// The VM.
        vm: String,
        /// Source cloudlet.
        from: String,
        /// Target cloudlet.
        to: String,
        /// What went wrong.
        error: String,
    },
}
