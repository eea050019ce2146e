//! VM memory: the profile of a VM's memory and how fast it dirties pages.
//!
//! Memory is never walked page by page. It is split into a few *regions* of
//! interchangeable pages (the hot and cold parts of the writable working set,
//! the rest of the data pages, the zero pages), and every question the
//! migration models ask ("how many distinct pages were written in the last
//! 230 ms?", "is this touched page still missing at the target?") is answered
//! from per-region counts in constant time. A 4 GiB VM (1 M pages) therefore
//! costs the same to model as a 64 MiB one.

use serde::Serialize;

/// Default page size: 4 KiB, as on x86-64 and in QEMU's RAM migration.
pub const DEFAULT_PAGE_BYTES: u64 = 4096;

/// Bytes a zero page costs on the wire: QEMU sends an 8-byte page header
/// (offset and flags) followed by one fill byte instead of the page.
pub const DEFAULT_ZERO_PAGE_WIRE_BYTES: u64 = 9;

/// Default share of the working set's pages that are hot in [`DirtyModel::HotCold`].
pub const DEFAULT_HOT_PAGES_FRACTION: f64 = 0.2;

/// Default share of the writes that go to the hot pages in [`DirtyModel::HotCold`].
pub const DEFAULT_HOT_WRITES_FRACTION: f64 = 0.8;

/// How the VM's writes spread over its writable working set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DirtyModel {
    /// Linear and saturating (the SimGrid model): in a window of length t,
    /// min(d·t, W) distinct pages of the working set become dirty.
    Linear,
    /// Uniformly random writes over the working set: W·(1 − e^(−d·t/W))
    /// distinct pages become dirty in a window of length t.
    Uniform,
    /// Hot/cold skew: a fraction of the working set's pages (the hot part)
    /// receives a fraction of the writes, uniformly within each part.
    HotCold {
        /// Share of the working set's pages that are hot, in (0, 1).
        hot_pages_fraction: f64,
        /// Share of the writes that go to the hot pages, in (0, 1).
        hot_writes_fraction: f64,
    },
}

impl DirtyModel {
    /// The names accepted by [`DirtyModel::from_name`].
    pub const NAMES: [&'static str; 3] = ["linear", "uniform", "hot-cold"];

    /// The model of that name (`linear`, `uniform`, `hot-cold` with 20 % of
    /// the pages taking 80 % of the writes).
    pub fn from_name(name: &str) -> Result<Self, MemoryError> {
        match name {
            "linear" => Ok(Self::Linear),
            "uniform" => Ok(Self::Uniform),
            "hot-cold" => Ok(Self::HotCold {
                hot_pages_fraction: DEFAULT_HOT_PAGES_FRACTION,
                hot_writes_fraction: DEFAULT_HOT_WRITES_FRACTION,
            }),
            other => Err(MemoryError::UnknownDirtyModel(other.to_owned())),
        }
    }

    /// The model's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Uniform => "uniform",
            Self::HotCold { .. } => "hot-cold",
        }
    }
}

/// What is wrong with a VM memory profile.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MemoryError {
    /// The page size is zero.
    #[error("page size must be at least 1 byte")]
    ZeroPageSize,
    /// The memory holds no page.
    #[error("memory must hold at least one page, got {memory_bytes} bytes")]
    NoMemory {
        /// The memory size given.
        memory_bytes: u64,
    },
    /// The working set is larger than memory.
    #[error("working set ({working_set_bytes} bytes) is larger than memory ({memory_bytes} bytes)")]
    WorkingSetTooLarge {
        /// The working-set size given.
        working_set_bytes: u64,
        /// The memory size given.
        memory_bytes: u64,
    },
    /// The dirty rate is negative or not a number.
    #[error("dirty rate must be a finite number of pages/s >= 0, got {0}")]
    BadDirtyRate(f64),
    /// The dirty rate is positive but there is no working set to write.
    #[error("dirty rate is {0} pages/s but the working set is empty")]
    DirtyWithoutWorkingSet(f64),
    /// The zero-page fraction is outside [0, 1].
    #[error("zero-page fraction must lie in [0, 1], got {0}")]
    BadZeroFraction(f64),
    /// Zero pages would overlap the writable working set.
    #[error(
        "zero-page fraction {zero_fraction} asks for {zero_pages} zero pages but only \
         {outside_pages} pages lie outside the working set (written pages are not zero)"
    )]
    ZeroPagesInWorkingSet {
        /// The zero-page fraction given.
        zero_fraction: f64,
        /// Zero pages that fraction asks for.
        zero_pages: u64,
        /// Pages outside the working set.
        outside_pages: u64,
    },
    /// A hot/cold parameter is outside (0, 1).
    #[error("hot/cold {field} must lie strictly between 0 and 1, got {value}")]
    BadHotCold {
        /// Which parameter.
        field: &'static str,
        /// Its value.
        value: f64,
    },
    /// The dirty model's name is not known.
    #[error("unknown dirty model {0:?}; expected one of linear, uniform, hot-cold")]
    UnknownDirtyModel(String),
}

/// How a region's distinct dirty pages grow with the window length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DirtyLaw {
    /// min(r·t, pages).
    Linear,
    /// pages·(1 − e^(−r·t/pages)).
    Uniform,
}

/// What a region of memory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegionKind {
    /// The working set (all of it, or its hot part).
    HotWorkingSet,
    /// The cold part of the working set (hot/cold model only).
    ColdWorkingSet,
    /// Data pages outside the working set: read-only or idle.
    IdleData,
    /// Pages that hold only zeroes.
    Zero,
    /// Pages the guest's kernel writes on its own (its data and stacks),
    /// outside the working set. [`VmProfile::regions`] never makes one; a
    /// migration carves it out of the idle data when asked to
    /// (`exec_data_write_rate_pps`).
    KernelData,
    /// Idle data at the top of guest memory, where a pass over memory ends
    /// (Linux's page array: a 64-byte `struct page` per page, which memblock
    /// allocates top-down). [`VmProfile::regions`] never makes one; a
    /// migration carves it out of the idle data when asked to
    /// (`top_data_bytes`) and sends it after the zero pages.
    TopData,
}

/// A region of interchangeable pages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    /// What the region holds.
    pub kind: RegionKind,
    /// Number of pages.
    pub pages: u64,
    /// Pages written per second inside this region (0 outside the working set).
    pub write_rate_pps: f64,
    /// How distinct dirty pages grow with time in this region.
    pub law: DirtyLaw,
    /// Bytes one page of this region costs on the wire.
    pub wire_bytes_per_page: u64,
    /// Probability that a page a request touches falls in this region.
    pub touch_weight: f64,
}

impl Region {
    /// Distinct pages of this region written in a window of `window_s`
    /// seconds, with the write rate scaled by `rate_scale` (1 = unthrottled).
    pub fn distinct_dirty_pages(&self, window_s: f64, rate_scale: f64) -> u64 {
        let writes = self.write_rate_pps * rate_scale * window_s.max(0.0);
        if self.pages == 0 || writes <= 0.0 {
            return 0;
        }
        let pages = self.pages as f64;
        let distinct = match self.law {
            DirtyLaw::Linear => writes.min(pages),
            DirtyLaw::Uniform => pages * (1.0 - (-writes / pages).exp()),
        };
        (distinct.round() as u64).min(self.pages)
    }
}

/// Page counts, one per region of a [`VmProfile`] (same order as [`VmProfile::regions`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PageCounts(pub Vec<u64>);

impl PageCounts {
    /// All counts zero, for `regions` regions.
    pub fn zero(regions: usize) -> Self {
        Self(vec![0; regions])
    }

    /// Sum over regions.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Wire bytes of these pages.
    pub fn wire_bytes(&self, regions: &[Region]) -> u64 {
        self.0
            .iter()
            .zip(regions)
            .map(|(count, region)| count * region.wire_bytes_per_page)
            .sum()
    }

    /// Takes pages, region by region in `order`, until their wire size would
    /// exceed `max_bytes` (at least one page is taken when any is left).
    /// Returns the pages taken per region and their wire bytes.
    pub fn take_up_to(
        &mut self,
        regions: &[Region],
        order: &[usize],
        max_bytes: u64,
    ) -> (PageCounts, u64) {
        let mut taken = PageCounts::zero(self.0.len());
        let bytes = self.take_each(regions, order.iter().copied(), max_bytes, |index, n| {
            if let Some(slot) = taken.0.get_mut(index) {
                *slot += n;
            }
        });
        (taken, bytes)
    }

    /// [`take_up_to`](Self::take_up_to) with the regions in their own order,
    /// returning only how many pages were taken and their wire bytes (no
    /// allocation: a copy round calls this for every chunk).
    pub fn take_in_order_up_to(&mut self, regions: &[Region], max_bytes: u64) -> (u64, u64) {
        self.take_in_order_from(regions, 0, max_bytes)
    }

    /// [`take_in_order_up_to`](Self::take_in_order_up_to) beginning at
    /// region `first` and wrapping around to the regions before it: a scan
    /// over memory that goes on from where it stood.
    pub fn take_in_order_from(
        &mut self,
        regions: &[Region],
        first: usize,
        max_bytes: u64,
    ) -> (u64, u64) {
        let mut pages = 0;
        let order = self.order_from(first);
        let bytes = self.take_each(regions, order, max_bytes, |_, n| pages += n);
        (pages, bytes)
    }

    /// The first region, in order from `first` and wrapping around, that
    /// has pages left; `None` when there are none.
    pub fn first_nonempty_from(&self, first: usize) -> Option<usize> {
        self.order_from(first).find(|&i| self.0[i] > 0)
    }

    /// The regions' indices from `first` on, wrapping around to those before it.
    fn order_from(&self, first: usize) -> impl Iterator<Item = usize> + use<> {
        let n = self.0.len();
        let first = first.min(n);
        (first..n).chain(0..first)
    }

    /// The walk both take functions share: `taken(region, pages)` for each
    /// region pages are taken from; returns the wire bytes taken.
    fn take_each(
        &mut self,
        regions: &[Region],
        order: impl IntoIterator<Item = usize>,
        max_bytes: u64,
        mut taken: impl FnMut(usize, u64),
    ) -> u64 {
        let mut bytes = 0u64;
        for index in order {
            let (Some(left), Some(region)) = (self.0.get_mut(index), regions.get(index)) else {
                continue;
            };
            if *left == 0 {
                continue;
            }
            let per_page = region.wire_bytes_per_page.max(1);
            let room = max_bytes.saturating_sub(bytes) / per_page;
            let mut n = room.min(*left);
            if n == 0 && bytes == 0 {
                n = 1;
            }
            if n == 0 {
                break;
            }
            *left -= n;
            bytes += n * region.wire_bytes_per_page;
            taken(index, n);
        }
        bytes
    }

    /// Takes about `max_bytes` of pages spread over the regions in
    /// proportion to what each has left, as a push in address order does
    /// when every region is spread evenly over the address space. Takes at
    /// least one page when any is left. Returns the pages taken and their
    /// wire bytes.
    pub fn take_proportional(&mut self, regions: &[Region], max_bytes: u64) -> (PageCounts, u64) {
        let left_bytes = self.wire_bytes(regions);
        if left_bytes <= max_bytes {
            let taken = std::mem::replace(self, PageCounts::zero(self.0.len()));
            return (taken, left_bytes);
        }
        let share = max_bytes as f64 / left_bytes as f64;
        let mut taken = PageCounts::zero(self.0.len());
        let mut bytes = 0u64;
        for ((left, slot), region) in self.0.iter_mut().zip(taken.0.iter_mut()).zip(regions) {
            let n = ((*left as f64 * share).ceil() as u64).min(*left);
            *left -= n;
            *slot = n;
            bytes += n * region.wire_bytes_per_page;
        }
        (taken, bytes)
    }
}

/// A VM's memory as the migration models see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VmProfile {
    /// Page size in bytes.
    pub page_bytes: u64,
    /// Pages of memory.
    pub memory_pages: u64,
    /// Pages of the writable working set.
    pub working_set_pages: u64,
    /// Pages written per second, all inside the working set.
    pub dirty_rate_pps: f64,
    /// Fraction of all pages that hold only zeroes (they lie outside the working set).
    pub zero_fraction: f64,
    /// How writes spread over the working set.
    pub dirty_model: DirtyModel,
    /// Bytes a zero page costs on the wire.
    pub zero_page_wire_bytes: u64,
}

impl VmProfile {
    /// A profile with 4 KiB pages. Sizes are rounded down to whole pages.
    pub fn new(
        memory_bytes: u64,
        working_set_bytes: u64,
        dirty_rate_pps: f64,
        zero_fraction: f64,
        dirty_model: DirtyModel,
    ) -> Result<Self, MemoryError> {
        Self::with_page_bytes(
            DEFAULT_PAGE_BYTES,
            memory_bytes,
            working_set_bytes,
            dirty_rate_pps,
            zero_fraction,
            dirty_model,
        )
    }

    /// A profile with pages of `page_bytes`. Sizes are rounded down to whole pages.
    pub fn with_page_bytes(
        page_bytes: u64,
        memory_bytes: u64,
        working_set_bytes: u64,
        dirty_rate_pps: f64,
        zero_fraction: f64,
        dirty_model: DirtyModel,
    ) -> Result<Self, MemoryError> {
        if page_bytes == 0 {
            return Err(MemoryError::ZeroPageSize);
        }
        let memory_pages = memory_bytes / page_bytes;
        if memory_pages == 0 {
            return Err(MemoryError::NoMemory { memory_bytes });
        }
        if working_set_bytes > memory_bytes {
            return Err(MemoryError::WorkingSetTooLarge {
                working_set_bytes,
                memory_bytes,
            });
        }
        let working_set_pages = working_set_bytes / page_bytes;
        if !dirty_rate_pps.is_finite() || dirty_rate_pps < 0.0 {
            return Err(MemoryError::BadDirtyRate(dirty_rate_pps));
        }
        if dirty_rate_pps > 0.0 && working_set_pages == 0 {
            return Err(MemoryError::DirtyWithoutWorkingSet(dirty_rate_pps));
        }
        if !(0.0..=1.0).contains(&zero_fraction) {
            return Err(MemoryError::BadZeroFraction(zero_fraction));
        }
        if let DirtyModel::HotCold {
            hot_pages_fraction,
            hot_writes_fraction,
        } = dirty_model
        {
            for (field, value) in [
                ("hot pages fraction", hot_pages_fraction),
                ("hot writes fraction", hot_writes_fraction),
            ] {
                if !(value > 0.0 && value < 1.0) {
                    return Err(MemoryError::BadHotCold { field, value });
                }
            }
        }
        let profile = Self {
            page_bytes,
            memory_pages,
            working_set_pages,
            dirty_rate_pps,
            zero_fraction,
            dirty_model,
            zero_page_wire_bytes: DEFAULT_ZERO_PAGE_WIRE_BYTES.min(page_bytes),
        };
        let outside_pages = memory_pages - working_set_pages;
        if profile.zero_pages() > outside_pages {
            return Err(MemoryError::ZeroPagesInWorkingSet {
                zero_fraction,
                zero_pages: profile.zero_pages(),
                outside_pages,
            });
        }
        Ok(profile)
    }

    /// Memory size in bytes (whole pages).
    pub fn memory_bytes(&self) -> u64 {
        self.memory_pages * self.page_bytes
    }

    /// Number of zero pages.
    pub fn zero_pages(&self) -> u64 {
        ((self.zero_fraction * self.memory_pages as f64).round() as u64).min(self.memory_pages)
    }

    /// Bytes of memory that are not zero pages: what any technique must send at least.
    pub fn nonzero_bytes(&self) -> u64 {
        (self.memory_pages - self.zero_pages()) * self.page_bytes
    }

    /// The regions of this memory, hot working set first, zero pages last.
    /// Empty regions are kept so that indices are stable for a dirty model.
    pub fn regions(&self) -> Vec<Region> {
        let page = self.page_bytes;
        let w = self.working_set_pages;
        let d = self.dirty_rate_pps;
        let mut regions = match self.dirty_model {
            DirtyModel::Linear | DirtyModel::Uniform => vec![Region {
                kind: RegionKind::HotWorkingSet,
                pages: w,
                write_rate_pps: d,
                law: if self.dirty_model == DirtyModel::Linear {
                    DirtyLaw::Linear
                } else {
                    DirtyLaw::Uniform
                },
                wire_bytes_per_page: page,
                touch_weight: 1.0,
            }],
            DirtyModel::HotCold {
                hot_pages_fraction,
                hot_writes_fraction,
            } => {
                let hot = ((w as f64 * hot_pages_fraction).round() as u64).clamp(1, w.max(1));
                let hot = hot.min(w);
                let cold = w - hot;
                // All writes go to the hot part when the cold part is empty.
                let hot_share = if cold == 0 { 1.0 } else { hot_writes_fraction };
                vec![
                    Region {
                        kind: RegionKind::HotWorkingSet,
                        pages: hot,
                        write_rate_pps: d * hot_share,
                        law: DirtyLaw::Uniform,
                        wire_bytes_per_page: page,
                        touch_weight: hot_share,
                    },
                    Region {
                        kind: RegionKind::ColdWorkingSet,
                        pages: cold,
                        write_rate_pps: d * (1.0 - hot_share),
                        law: DirtyLaw::Uniform,
                        wire_bytes_per_page: page,
                        touch_weight: 1.0 - hot_share,
                    },
                ]
            }
        };
        let zero = self.zero_pages();
        regions.push(Region {
            kind: RegionKind::IdleData,
            pages: self.memory_pages - w - zero,
            write_rate_pps: 0.0,
            law: DirtyLaw::Linear,
            wire_bytes_per_page: page,
            touch_weight: 0.0,
        });
        regions.push(Region {
            kind: RegionKind::Zero,
            pages: zero,
            write_rate_pps: 0.0,
            law: DirtyLaw::Linear,
            wire_bytes_per_page: self.zero_page_wire_bytes,
            touch_weight: 0.0,
        });
        if w == 0 {
            // No working set: requests touch nothing that can be missing
            // only if memory is empty, so let them read idle data instead.
            for region in &mut regions {
                region.touch_weight = if region.kind == RegionKind::IdleData && region.pages > 0 {
                    1.0
                } else {
                    0.0
                };
            }
        }
        regions
    }

    /// All pages of memory, per region.
    pub fn all_pages(&self) -> PageCounts {
        PageCounts(self.regions().iter().map(|r| r.pages).collect())
    }

    /// Distinct pages dirtied in a window of `window_s` seconds, per region.
    pub fn dirty_in_window(
        &self,
        regions: &[Region],
        window_s: f64,
        rate_scale: f64,
    ) -> PageCounts {
        PageCounts(
            regions
                .iter()
                .map(|r| r.distinct_dirty_pages(window_s, rate_scale))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn linear_model_saturates_at_the_working_set() {
        let vm = VmProfile::new(1024 * MIB, 256 * MIB, 5000.0, 0.0, DirtyModel::Linear).unwrap();
        let regions = vm.regions();
        assert_eq!(vm.dirty_in_window(&regions, 1.0, 1.0).total(), 5000);
        assert_eq!(vm.dirty_in_window(&regions, 1000.0, 1.0).total(), 65536);
        assert_eq!(vm.dirty_in_window(&regions, 2.0, 0.5).total(), 5000);
    }

    #[test]
    fn uniform_model_follows_the_coupon_collector_curve() {
        let vm = VmProfile::new(1024 * MIB, 256 * MIB, 65536.0, 0.0, DirtyModel::Uniform).unwrap();
        let regions = vm.regions();
        // After W writes, W·(1 − 1/e) distinct pages.
        let expected = 65536.0 * (1.0 - (-1.0f64).exp());
        let got = vm.dirty_in_window(&regions, 1.0, 1.0).total() as f64;
        assert!((got - expected).abs() <= 1.0, "{got} vs {expected}");
    }

    #[test]
    fn hot_cold_dirties_fewer_distinct_pages_than_uniform() {
        let hc = DirtyModel::from_name("hot-cold").unwrap();
        let a = VmProfile::new(1024 * MIB, 256 * MIB, 20000.0, 0.0, hc).unwrap();
        let b = VmProfile::new(1024 * MIB, 256 * MIB, 20000.0, 0.0, DirtyModel::Uniform).unwrap();
        let da = a.dirty_in_window(&a.regions(), 3.0, 1.0).total();
        let db = b.dirty_in_window(&b.regions(), 3.0, 1.0).total();
        assert!(da < db, "{da} {db}");
        assert_eq!(a.all_pages().total(), a.memory_pages);
    }

    #[test]
    fn zero_pages_cost_a_header_and_must_lie_outside_the_working_set() {
        let vm = VmProfile::new(64 * MIB, 16 * MIB, 0.0, 0.5, DirtyModel::Linear).unwrap();
        assert_eq!(vm.zero_pages(), 8192);
        assert_eq!(vm.nonzero_bytes(), 32 * MIB);
        let regions = vm.regions();
        assert_eq!(vm.all_pages().wire_bytes(&regions), 32 * MIB + 8192 * 9);
        let err = VmProfile::new(64 * MIB, 48 * MIB, 0.0, 0.5, DirtyModel::Linear).unwrap_err();
        assert!(matches!(err, MemoryError::ZeroPagesInWorkingSet { .. }));
    }

    #[test]
    fn impossible_profiles_are_refused() {
        assert!(matches!(
            VmProfile::new(MIB, 2 * MIB, 0.0, 0.0, DirtyModel::Linear),
            Err(MemoryError::WorkingSetTooLarge { .. })
        ));
        assert!(matches!(
            VmProfile::new(100, 0, 0.0, 0.0, DirtyModel::Linear),
            Err(MemoryError::NoMemory { .. })
        ));
        assert!(matches!(
            VmProfile::new(MIB, MIB, -1.0, 0.0, DirtyModel::Linear),
            Err(MemoryError::BadDirtyRate(_))
        ));
        assert!(matches!(
            VmProfile::new(MIB, MIB, f64::NAN, 0.0, DirtyModel::Linear),
            Err(MemoryError::BadDirtyRate(_))
        ));
        assert!(matches!(
            VmProfile::new(MIB, 0, 0.0, 1.5, DirtyModel::Linear),
            Err(MemoryError::BadZeroFraction(_))
        ));
        assert!(DirtyModel::from_name("zipf").is_err());
    }

    #[test]
    fn take_up_to_respects_the_byte_budget_and_region_order() {
        let vm = VmProfile::new(64 * MIB, 16 * MIB, 0.0, 0.25, DirtyModel::Linear).unwrap();
        let regions = vm.regions();
        let mut left = vm.all_pages();
        let order: Vec<usize> = (0..regions.len()).collect();
        let (taken, bytes) = left.take_up_to(&regions, &order, MIB);
        assert_eq!(bytes, MIB);
        assert_eq!(taken.0[0], 256);
        let mut sent = bytes;
        while left.total() > 0 {
            sent += left.take_up_to(&regions, &order, MIB).1;
        }
        assert_eq!(sent, vm.all_pages().wire_bytes(&regions));
    }

    #[test]
    fn taking_in_order_takes_what_take_up_to_takes() {
        let vm = VmProfile::new(64 * MIB, 16 * MIB, 0.0, 0.25, DirtyModel::Linear).unwrap();
        let regions = vm.regions();
        let order: Vec<usize> = (0..regions.len()).collect();
        let (mut by_order, mut in_order) = (vm.all_pages(), vm.all_pages());
        for budget in [MIB, 3 * MIB + 5, 1, 40 * MIB, MIB]
            .into_iter()
            .cycle()
            .take(40)
        {
            let (taken, bytes) = by_order.take_up_to(&regions, &order, budget);
            assert_eq!(
                in_order.take_in_order_up_to(&regions, budget),
                (taken.total(), bytes)
            );
            assert_eq!(in_order, by_order);
        }
        assert_eq!(in_order.total(), 0);
    }
}
