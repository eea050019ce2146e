//! The radio model over a world's sites: which cells interfere with which,
//! and each device's link from where it stands.

use mcc_mobile_client::LatLon;

use super::budget::LinkQuality;
use super::config::RadioConfig;

/// The radio parameters and the sites they apply to.
#[derive(Debug, Clone)]
pub struct RadioModel {
    config: RadioConfig,
    sites: Vec<LatLon>,
    /// The interfering sites of site `i`: `neighbours[i * k..(i + 1) * k]`
    /// (fewer at the end of a short list are `u32::MAX`).
    neighbours: Vec<u32>,
    per_site: usize,
}

impl RadioModel {
    /// The model over cell sites at `sites` (access point order): each
    /// site's interferers are the `config.interfering_cells` nearest other
    /// sites (ties by index, so the choice is deterministic).
    pub fn new(config: RadioConfig, sites: Vec<LatLon>) -> Self {
        let per_site = (config.interfering_cells as usize).min(sites.len().saturating_sub(1));
        let mut neighbours = Vec::with_capacity(sites.len() * per_site);
        let mut by_distance: Vec<(f64, u32)> = Vec::with_capacity(sites.len());
        for (i, &site) in sites.iter().enumerate() {
            by_distance.clear();
            by_distance.extend(
                sites
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(j, &other)| (site.distance_m(other), j as u32)),
            );
            by_distance.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            neighbours.extend(by_distance.iter().take(per_site).map(|&(_, j)| j));
        }
        Self {
            config,
            sites,
            neighbours,
            per_site,
        }
    }

    /// How many sites (cells) there are.
    pub fn sites(&self) -> usize {
        self.sites.len()
    }

    /// The parameters.
    pub fn config(&self) -> &RadioConfig {
        &self.config
    }

    /// The link of a device at `position` served by site `cell`; `None`
    /// when it cannot decode both ways there (or the cell does not exist).
    pub fn quality(&self, cell: u32, position: LatLon) -> Option<LinkQuality> {
        let site = *self.sites.get(cell as usize)?;
        let pl = &self.config.path_loss;
        let start = cell as usize * self.per_site;
        let interferers = self
            .neighbours
            .get(start..start + self.per_site)
            .unwrap_or(&[])
            .iter()
            .filter_map(|&j| self.sites.get(j as usize))
            .map(|&other| pl.loss_db(position.distance_m(other)));
        self.config
            .quality(pl.loss_db(position.distance_m(site)), interferers)
    }

    /// The interfering sites of `cell`, nearest first.
    pub fn interferers(&self, cell: u32) -> &[u32] {
        let start = cell as usize * self.per_site;
        self.neighbours
            .get(start..start + self.per_site)
            .unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lat: f64, lon: f64) -> LatLon {
        LatLon::new(lat, lon).expect("position")
    }

    #[test]
    fn interferers_are_the_nearest_other_sites() {
        let mut config = RadioConfig::lte();
        config.interfering_cells = 2;
        let sites = vec![
            at(52.66, -8.63),
            at(52.66, -8.62),
            at(52.66, -8.60),
            at(52.66, -8.50),
        ];
        let model = RadioModel::new(config, sites);
        assert_eq!(model.interferers(0), &[1, 2]);
        assert_eq!(model.interferers(3), &[2, 1]);
        assert!(model.interferers(4).is_empty());
    }

    #[test]
    fn a_neighbour_nearby_lowers_the_downlink() {
        let device = at(52.66, -8.625);
        let alone = RadioModel::new(RadioConfig::lte(), vec![at(52.66, -8.63)]);
        let crowded = RadioModel::new(
            RadioConfig::lte(),
            vec![at(52.66, -8.63), at(52.66, -8.615)],
        );
        let a = alone.quality(0, device).expect("covered").downlink;
        let b = crowded.quality(0, device).expect("covered").downlink;
        assert!(b.sinr < a.sinr / 10.0, "{} vs {}", b.sinr, a.sinr);
        assert!(b.rate_bps < a.rate_bps);
        assert!(alone.quality(1, device).is_none());
    }
}
