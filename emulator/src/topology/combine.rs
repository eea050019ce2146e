//! Sites as nodes, and a city's sites hung off a backbone.
//!
//! Node ids: `ap-<site id>`, `cloudlet-<site id>`, `cloud-<site id>`.
//! - EUA sites become access points, cloudlets, or both (an access point
//!   with a co-located cloudlet linked behind it), per [`SiteRole`].
//! - Tiered sites: level 0 → cloud, level 1 → cloudlet, level 2 → the role
//!   (access point by default), each linked to its `Parent`.
//! - Links get the latency of [`LinkDefaults`] from the sites' positions and
//!   the default capacity.
//! - [`attach_sites`] links every EUA site (its access point, or its cloudlet
//!   for the `cloudlet` role), or every root of a tiered tree, to the nearest
//!   located node of the backbone.

use super::Loaded;
use super::error::{LoadError, Location};
use super::graph::{NodeIx, Topology};
use super::model::{AccessPointSpec, CloudletSpec, LinkDefaults, Node, NodeRole};
use super::sites::{Site, SiteFormat, SiteRole, SiteSet};

/// Sites farther than this from their backbone node earn a warning: they are
/// probably in another city (see [`SiteSet::relocated`]).
pub const FAR_FROM_BACKBONE_M: f64 = 100_000.0;

fn site_error(sites: &SiteSet, site: &Site, reason: impl Into<String>) -> LoadError {
    LoadError::new(
        &sites.file,
        Location::LineAndElement(site.line, format!("site {}", site.id)),
        reason,
    )
}

fn add(
    topology: &mut Topology,
    sites: &SiteSet,
    site: &Site,
    prefix: &str,
    role: NodeRole,
) -> Result<NodeIx, LoadError> {
    let label = if site.name.is_empty() {
        site.id.clone()
    } else {
        site.name.clone()
    };
    let node =
        Node::new(format!("{prefix}-{}", site.id), Some(site.position), role).with_label(label);
    topology
        .add_node(node)
        .map_err(|e| site_error(sites, site, e.to_string()))
}

fn link(
    topology: &mut Topology,
    sites: &SiteSet,
    site: &Site,
    a: NodeIx,
    b: NodeIx,
    defaults: &LinkDefaults,
) -> Result<(), LoadError> {
    let pa = topology.node(a).and_then(|n| n.position);
    let pb = topology.node(b).and_then(|n| n.position);
    topology
        .add_link(a, b, defaults.link(pa, pb, None))
        .map(|_| ())
        .map_err(|e| site_error(sites, site, e.to_string()))
}

/// Adds one site in `role`; returns the node that links it upwards.
fn add_in_role(
    topology: &mut Topology,
    sites: &SiteSet,
    site: &Site,
    role: SiteRole,
    defaults: &LinkDefaults,
) -> Result<NodeIx, LoadError> {
    let ap = NodeRole::AccessPoint(AccessPointSpec::default());
    let cloudlet = NodeRole::Cloudlet(CloudletSpec::default());
    match role {
        SiteRole::AccessPoint => add(topology, sites, site, "ap", ap),
        SiteRole::Cloudlet => add(topology, sites, site, "cloudlet", cloudlet),
        SiteRole::Both => {
            let a = add(topology, sites, site, "ap", ap)?;
            let c = add(topology, sites, site, "cloudlet", cloudlet)?;
            link(topology, sites, site, a, c, defaults)?;
            Ok(a)
        }
    }
}

/// Adds the sites to `topology` as nodes (and, for a tiered file, the links
/// of its tree); returns the nodes that still need an uplink, in file order.
/// `role` defaults to [`SiteRole::default_for`] the file's format.
pub fn add_sites(
    topology: &mut Topology,
    sites: &SiteSet,
    role: Option<SiteRole>,
    defaults: &LinkDefaults,
) -> Result<Vec<NodeIx>, LoadError> {
    let role = role.unwrap_or(SiteRole::default_for(sites.format));
    let mut uplinks = Vec::new();
    match sites.format {
        SiteFormat::Eua => {
            for site in &sites.sites {
                uplinks.push(add_in_role(topology, sites, site, role, defaults)?);
            }
        }
        SiteFormat::Tiered => {
            let mut up = std::collections::BTreeMap::new();
            for site in &sites.sites {
                let ix = match site.level {
                    Some(0) => add(topology, sites, site, "cloud", NodeRole::Cloud)?,
                    Some(1) => add(
                        topology,
                        sites,
                        site,
                        "cloudlet",
                        NodeRole::Cloudlet(CloudletSpec::default()),
                    )?,
                    _ => add_in_role(topology, sites, site, role, defaults)?,
                };
                up.insert(site.id.as_str(), (ix, site.level));
            }
            for site in &sites.sites {
                let Some((ix, level)) = up.get(site.id.as_str()).copied() else {
                    continue;
                };
                let Some(parent) = &site.parent else {
                    uplinks.push(ix);
                    continue;
                };
                let (pix, plevel) = up.get(parent.as_str()).copied().ok_or_else(|| {
                    site_error(sites, site, format!("Parent {parent:?} is not a site id"))
                })?;
                if plevel >= level {
                    return Err(site_error(
                        sites,
                        site,
                        format!("Parent {parent:?} is not on a lower level than this site"),
                    ));
                }
                link(topology, sites, site, pix, ix, defaults)?;
            }
        }
    }
    Ok(uplinks)
}

/// A topology of the sites alone (no backbone): for a tiered file a tree,
/// for an EUA file unlinked sites (and their co-located pairs).
pub fn sites_topology(
    sites: &SiteSet,
    role: Option<SiteRole>,
    defaults: &LinkDefaults,
) -> Result<Loaded, LoadError> {
    let mut topology = Topology::new();
    add_sites(&mut topology, sites, role, defaults)?;
    let mut warnings = Vec::new();
    if sites.format == SiteFormat::Eua {
        warnings.push(format!(
            "{}: EUA sites without a backbone are not linked to each other",
            sites.file.display()
        ));
    }
    Ok(Loaded { topology, warnings })
}

/// Hangs `sites` off `backbone`: adds their nodes and links each site (or
/// each root of a tiered tree) to the nearest located backbone node.
pub fn attach_sites(
    backbone: Loaded,
    sites: &SiteSet,
    role: Option<SiteRole>,
    defaults: &LinkDefaults,
) -> Result<Loaded, LoadError> {
    let Loaded {
        mut topology,
        mut warnings,
    } = backbone;
    let backbone_nodes: Vec<NodeIx> = topology
        .nodes()
        .filter(|(_, n)| n.position.is_some())
        .map(|(ix, _)| ix)
        .collect();
    if backbone_nodes.is_empty() {
        return Err(LoadError::file(
            &sites.file,
            "cannot attach sites: no backbone node has coordinates",
        ));
    }
    let uplinks = add_sites(&mut topology, sites, role, defaults)?;
    let mut farthest: Option<(f64, String, String)> = None;
    for site_ix in uplinks {
        let Some(site_node) = topology.node(site_ix) else {
            continue;
        };
        let Some(position) = site_node.position else {
            continue;
        };
        let site_id = site_node.id.clone();
        let mut best: Option<(NodeIx, f64)> = None;
        for &b in &backbone_nodes {
            if let Some(p) = topology.node(b).and_then(|n| n.position) {
                let d = p.distance_m(position);
                if best.is_none_or(|(_, bd)| d < bd) {
                    best = Some((b, d));
                }
            }
        }
        let Some((b, distance_m)) = best else {
            continue;
        };
        let pb = topology.node(b).and_then(|n| n.position);
        topology
            .add_link(b, site_ix, defaults.link(pb, Some(position), None))
            .map_err(|e| LoadError::file(&sites.file, format!("linking {site_id}: {e}")))?;
        if farthest.as_ref().is_none_or(|(d, _, _)| distance_m > *d) {
            let backbone_id = topology.node(b).map(|n| n.id.clone()).unwrap_or_default();
            farthest = Some((distance_m, site_id, backbone_id));
        }
    }
    if let Some((d, site, node)) = farthest.filter(|(d, _, _)| *d > FAR_FROM_BACKBONE_M) {
        warnings.push(format!(
            "{}: sites are far from the backbone (up to {:.0} km, {site} to {node}); relocate them to the backbone's city",
            sites.file.display(),
            d / 1000.0
        ));
    }
    Ok(Loaded { topology, warnings })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::topology::graphml::load_graphml;
    use crate::topology::model::NodeKind;
    use crate::topology::sites::{load_sites, parse_sites};

    fn shipped(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../topologies")
            .join(name)
    }

    #[test]
    fn tiered_sites_form_a_tree() {
        let sites = load_sites(&shipped("sites/ifogsim-edgeResources-melbCBD.csv")).unwrap();
        let loaded = sites_topology(&sites, None, &LinkDefaults::default()).unwrap();
        let t = &loaded.topology;
        let s = t.summary();
        assert_eq!(
            (
                s.by_kind["cloud"],
                s.by_kind["cloudlet"],
                s.by_kind["access_point"]
            ),
            (1, 12, 118)
        );
        assert_eq!(s.links, 130);
        assert!(s.connected);
        let ap = t.index_of("ap-13").unwrap();
        let proxy = t.index_of("cloudlet-12").unwrap();
        assert_eq!(
            t.path(ap, t.index_of("cloud-0").unwrap()).unwrap().nodes[1],
            proxy
        );

        let both = sites_topology(&sites, Some(SiteRole::Both), &LinkDefaults::default()).unwrap();
        let s = both.topology.summary();
        assert_eq!(
            (s.by_kind["cloudlet"], s.by_kind["access_point"], s.links),
            (130, 118, 248)
        );
    }

    #[test]
    fn eua_sites_hang_off_the_nearest_backbone_node() {
        let defaults = LinkDefaults::default();
        let backbone = load_graphml(&shipped("Heanet.graphml"), &defaults).unwrap();
        let limerick = backbone
            .topology
            .node_by_id("Limerick")
            .unwrap()
            .position
            .unwrap();
        let sites = load_sites(&shipped("sites/site-optus-melbCBD.csv"))
            .unwrap()
            .relocated(limerick)
            .unwrap();
        let loaded = attach_sites(backbone, &sites, None, &defaults).unwrap();
        assert!(
            loaded
                .warnings
                .iter()
                .all(|w| !w.contains("far from the backbone"))
        );
        let t = &loaded.topology;
        let s = t.summary();
        assert_eq!(
            (s.nodes, s.by_kind["access_point"], s.by_kind["cloudlet"]),
            (7 + 250, 125, 125)
        );
        assert_eq!(s.links, 11 + 125 + 125);
        assert!(s.connected);
        let (lim, ap) = (
            t.index_of("Limerick").unwrap(),
            t.index_of("ap-10003026").unwrap(),
        );
        assert_eq!(t.path(ap, lim).unwrap().links.len(), 1);
        let cl = t.index_of("cloudlet-10003026").unwrap();
        assert_eq!(t.path(cl, lim).unwrap().nodes, vec![cl, ap, lim]);
        assert_eq!(
            t.nearest(NodeKind::Router, t.node(ap).unwrap().position.unwrap())
                .unwrap()
                .0,
            lim
        );
    }

    #[test]
    fn far_sites_warn_and_bad_parents_fail() {
        let defaults = LinkDefaults::default();
        let backbone = load_graphml(&shipped("Heanet.graphml"), &defaults).unwrap();
        let sites = load_sites(&shipped("sites/ifogsim-edgeResources-melbCBD.csv")).unwrap();
        let loaded = attach_sites(backbone, &sites, None, &defaults).unwrap();
        assert!(
            loaded
                .warnings
                .iter()
                .any(|w| w.contains("far from the backbone"))
        );
        assert!(loaded.topology.summary().connected);

        let p = Path::new("t.csv");
        let orphan = parse_sites(
            "ID,Latitude,Longitude,Level,Parent\n0,1,1,0,-1\n1,1,1,1,9\n",
            p,
        )
        .unwrap();
        let e = sites_topology(&orphan, None, &defaults)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "t.csv:3: site 1: Parent \"9\" is not a site id");
        let upside = parse_sites(
            "ID,Latitude,Longitude,Level,Parent\n0,1,1,1,1\n1,1,1,1,-1\n",
            p,
        )
        .unwrap();
        let e = sites_topology(&upside, None, &defaults)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not on a lower level"), "{e}");
    }
}
