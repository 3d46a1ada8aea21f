//! Constructors for the resource records the snapshot holds, so the builder reads as policy.

use std::net::IpAddr;

use hickory_proto::rr::rdata::{A, AAAA, NS, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record};

use super::BuildError;

/// `labels` joined in front of `zone` (e.g. `["nginx", "default", "svc"]` + `clusterset.local`).
pub fn name(labels: &[&str], zone: &Name) -> Result<Name, BuildError> {
    let mut name = zone.clone();
    for label in labels.iter().rev() {
        name = name
            .prepend_label(*label)
            .map_err(|error| BuildError::Name {
                name: format!("{}.{}", labels.join("."), zone),
                reason: error.to_string(),
            })?;
    }
    Ok(name)
}

pub fn address(owner: &Name, ttl: u32, ip: IpAddr) -> Record {
    let rdata = match ip {
        IpAddr::V4(ip) => RData::A(A(ip)),
        IpAddr::V6(ip) => RData::AAAA(AAAA(ip)),
    };
    Record::from_rdata(owner.clone(), ttl, rdata)
}

pub fn srv(owner: &Name, ttl: u32, weight: u16, port: u16, target: &Name) -> Record {
    Record::from_rdata(
        owner.clone(),
        ttl,
        RData::SRV(SRV::new(0, weight, port, target.clone())),
    )
}

pub fn txt(owner: &Name, ttl: u32, text: &str) -> Record {
    Record::from_rdata(
        owner.clone(),
        ttl,
        RData::TXT(TXT::new(vec![text.to_owned()])),
    )
}

pub fn ns(zone: &Name, ttl: u32, server: &Name) -> Record {
    Record::from_rdata(zone.clone(), ttl, RData::NS(NS(server.clone())))
}

/// The zone's SOA. Its minimum is the negative-caching TTL (RFC 2308); refresh, retry and expire
/// matter only to secondaries, which this zone has none of, so they take common defaults.
pub fn soa(
    zone: &Name,
    ttl: u32,
    server: &Name,
    negative_ttl: u32,
    serial: u32,
) -> Result<Record, BuildError> {
    let mailbox = name(&["hostmaster"], zone)?;
    Ok(Record::from_rdata(
        zone.clone(),
        ttl,
        RData::SOA(SOA::new(
            server.clone(),
            mailbox,
            serial,
            7200,
            1800,
            86400,
            negative_ttl,
        )),
    ))
}
