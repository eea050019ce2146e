//! The regions a migration sends: the VM's own, with the kernel's data and
//! the data at the top of memory carved out of the idle data, in the order
//! QEMU's pass meets them, and each non-zero page with its header.

use crate::memory::{Region, RegionKind, VmProfile};
use crate::migration::{MigrationConfig, MigrationError};

/// The regions of `profile` as `config` migrates them: the kernel's data
/// and the data at the top of memory carved out of the idle data, and each
/// non-zero page with its header on the wire. An error when the top data
/// does not fit in the idle data.
pub(crate) fn migrated_regions(
    profile: &VmProfile,
    config: &MigrationConfig,
) -> Result<Vec<Region>, MigrationError> {
    let mut regions = profile.regions();
    if let Some(rate) = config.exec_data_write_rate_pps {
        carve_kernel_data(&mut regions, config.exec_data_pages, rate);
    }
    carve_top_data(&mut regions, config.top_data_bytes, profile.page_bytes)?;
    for region in &mut regions {
        if region.kind != RegionKind::Zero {
            region.wire_bytes_per_page += config.page_header_bytes;
        }
    }
    Ok(regions)
}

/// Carves `pages` of the kernel's own data out of the idle data, written
/// uniformly at `rate_pps`; none when the idle data is empty. It goes first
/// in a round's order: Linux's own data lies low in physical memory, where
/// QEMU's pass begins.
fn carve_kernel_data(regions: &mut Vec<Region>, pages: u64, rate_pps: f64) {
    let Some(idle) = regions.iter_mut().find(|r| r.kind == RegionKind::IdleData) else {
        return;
    };
    let pages = pages.min(idle.pages);
    if pages == 0 {
        return;
    }
    idle.pages -= pages;
    let wire_bytes_per_page = idle.wire_bytes_per_page;
    regions.insert(
        0,
        Region {
            kind: RegionKind::KernelData,
            pages,
            write_rate_pps: rate_pps,
            law: crate::memory::DirtyLaw::Uniform,
            wire_bytes_per_page,
            touch_weight: 0.0,
        },
    );
}

/// Moves `bytes` of the idle data (whole pages, rounded up) to the end of
/// the regions, after the zero pages: the data at the top of memory, which
/// a pass reaches last. An error when the idle data has fewer pages.
fn carve_top_data(
    regions: &mut Vec<Region>,
    bytes: u64,
    page_bytes: u64,
) -> Result<(), MigrationError> {
    if bytes == 0 {
        return Ok(());
    }
    let pages = bytes.div_ceil(page_bytes.max(1));
    let idle = regions.iter_mut().find(|r| r.kind == RegionKind::IdleData);
    let available = idle.as_ref().map_or(0, |r| r.pages);
    let Some(idle) = idle.filter(|_| pages <= available) else {
        return Err(MigrationError::Config {
            field: "top_data_bytes",
            reason: format!(
                "must be at most the idle data ({available} pages of {page_bytes} bytes: \
                 memory less the working set, the zero pages and the kernel data), \
                 got {pages} pages"
            ),
        });
    };
    idle.pages -= pages;
    let region = Region {
        kind: RegionKind::TopData,
        pages,
        ..*idle
    };
    regions.push(region);
    Ok(())
}
