//! The points' scenarios, loaded when a run first needs one and dropped
//! when its last user is done, so that a sweep of many points over a large
//! world holds about as many worlds as it has threads, not one per point.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::expand::Expansion;
use super::plan::Plan;
use crate::scenario::Scenario;

/// Loaded scenarios by point, each with the number of uses left.
pub struct PointCache<'a> {
    plan: &'a Plan,
    expansion: &'a Expansion,
    slots: Vec<Mutex<Option<Arc<Scenario>>>>,
    left: Vec<AtomicUsize>,
}

impl<'a> PointCache<'a> {
    /// A cache for `uses[k]` uses of point k.
    pub fn new(plan: &'a Plan, expansion: &'a Expansion, uses: Vec<usize>) -> Self {
        Self {
            plan,
            expansion,
            slots: uses.iter().map(|_| Mutex::new(None)).collect(),
            left: uses.into_iter().map(AtomicUsize::new).collect(),
        }
    }

    /// Point `k`'s scenario, loaded if it is not (other threads that want
    /// it meanwhile wait rather than load it again).
    pub fn get(&self, k: usize) -> anyhow::Result<Arc<Scenario>> {
        let mut slot = self.slots[k]
            .lock()
            .map_err(|_| anyhow::anyhow!("a worker thread panicked"))?;
        if let Some(scenario) = &*slot {
            return Ok(Arc::clone(scenario));
        }
        let scenario = Arc::new(self.plan.load_point(&self.expansion.points[k].values)?);
        *slot = Some(Arc::clone(&scenario));
        Ok(scenario)
    }

    /// One use of point `k` is over; after the last, its scenario goes.
    pub fn done(&self, k: usize) {
        if self.left[k].fetch_sub(1, Ordering::AcqRel) == 1
            && let Ok(mut slot) = self.slots[k].lock()
        {
            *slot = None;
        }
    }
}
