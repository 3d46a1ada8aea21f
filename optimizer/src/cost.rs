//! The price of one request between two clusters, from both clusters' transfer price tables.
//!
//! A request from A to B pays A's egress (and B's ingress) for the request bytes, and B's egress
//! (and A's ingress) for the response bytes, usually the larger part: so B's table, known only
//! through the broker, matters most. Some clouds bill the receiver too (AWS cross-zone), hence
//! the ingress row.

use serde::{Deserialize, Serialize};

/// One price per destination class, USD per GB.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PriceRow {
    pub intra_zone: f64,
    pub inter_zone: f64,
    pub inter_region: f64,
    pub inter_continent: f64,
    pub internet: f64,
}

impl PriceRow {
    pub fn get(&self, class: DestinationClass) -> f64 {
        match class {
            DestinationClass::IntraZone => self.intra_zone,
            DestinationClass::InterZone => self.inter_zone,
            DestinationClass::InterRegion => self.inter_region,
            DestinationClass::InterContinent => self.inter_continent,
            DestinationClass::Internet => self.internet,
        }
    }
}

/// A cluster's transfer prices by where traffic goes (egress) or comes from (ingress).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PriceTable {
    pub egress: PriceRow,
    #[serde(default)]
    pub ingress: PriceRow,
}

/// Where a cluster runs: borrowed from the cluster, since every export of every `Optimized`
/// service is priced on every tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location<'a> {
    pub provider: Option<&'a str>,
    pub region: Option<&'a str>,
    pub zone: Option<&'a str>,
}

impl Location<'_> {
    /// The continent, from the region's name as AWS, GCP and Azure spell them (in any case).
    pub fn continent(&self) -> Option<&'static str> {
        let region = self.region?.as_bytes();
        let starts_with = |p: &str| {
            region
                .get(..p.len())
                .is_some_and(|r| r.eq_ignore_ascii_case(p.as_bytes()))
        };
        let contains = |needle: &str| {
            region
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
        };
        const PREFIXES: [(&str, &str); 14] = [
            ("us", "north-america"),
            ("ca-", "north-america"),
            ("northamerica", "north-america"),
            ("canada", "north-america"),
            ("eu", "europe"),
            ("uk", "europe"),
            ("france", "europe"),
            ("germany", "europe"),
            ("ap-", "asia-pacific"),
            ("asia", "asia-pacific"),
            ("australia", "asia-pacific"),
            ("sa-", "south-america"),
            ("southamerica", "south-america"),
            ("brazil", "south-america"),
        ];
        if let Some((_, continent)) = PREFIXES.iter().find(|(p, _)| starts_with(p)) {
            return Some(continent);
        }
        // Azure puts the direction first: eastus, westeurope, southeastasia.
        [
            ("us", "north-america"),
            ("europe", "europe"),
            ("asia", "asia-pacific"),
        ]
        .iter()
        .find(|(needle, _)| contains(needle))
        .map(|(_, continent)| *continent)
    }
}

/// How far traffic travels, which sets its price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DestinationClass {
    IntraZone,
    InterZone,
    InterRegion,
    InterContinent,
    /// Another provider: billed as internet egress.
    Internet,
}

impl DestinationClass {
    /// Unknown locations are priced pessimistically: an unknown provider is another provider,
    /// an unknown region another region.
    pub fn between(a: &Location<'_>, b: &Location<'_>) -> Self {
        let same = |x: &Option<&str>, y: &Option<&str>| x.is_some() && x == y;
        if !same(&a.provider, &b.provider) {
            DestinationClass::Internet
        } else if !same(&a.region, &b.region) {
            match (a.continent(), b.continent()) {
                (Some(x), Some(y)) if x == y => DestinationClass::InterRegion,
                _ => DestinationClass::InterContinent,
            }
        } else if !same(&a.zone, &b.zone) {
            DestinationClass::InterZone
        } else {
            DestinationClass::IntraZone
        }
    }
}

const BYTES_PER_GB: f64 = 1e9;

/// USD for one request of `request_bytes` from `client` to `server` and its response of
/// `response_bytes`.
pub fn price_per_request(
    client: (&Location<'_>, &PriceTable),
    server: (&Location<'_>, &PriceTable),
    request_bytes: f64,
    response_bytes: f64,
) -> f64 {
    let class = DestinationClass::between(client.0, server.0);
    let request = request_bytes * (client.1.egress.get(class) + server.1.ingress.get(class));
    let response = response_bytes * (server.1.egress.get(class) + client.1.ingress.get(class));
    (request + response) / BYTES_PER_GB
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(provider: &'a str, region: &'a str, zone: &'a str) -> Location<'a> {
        Location {
            provider: Some(provider),
            region: Some(region),
            zone: Some(zone),
        }
    }

    fn aws() -> PriceTable {
        // shared/data/egress-prices.yaml: AWS, first tier.
        let egress = PriceRow {
            intra_zone: 0.0,
            inter_zone: 0.01,
            inter_region: 0.02,
            inter_continent: 0.02,
            internet: 0.09,
        };
        let ingress = PriceRow {
            inter_zone: 0.01,
            ..PriceRow::default()
        };
        PriceTable { egress, ingress }
    }

    #[test]
    fn classes_follow_provider_region_and_zone() {
        let a = at("aws", "us-east-1", "us-east-1a");
        assert_eq!(
            DestinationClass::between(&a, &a),
            DestinationClass::IntraZone
        );
        let b = at("aws", "us-east-1", "us-east-1b");
        assert_eq!(
            DestinationClass::between(&a, &b),
            DestinationClass::InterZone
        );
        let c = at("aws", "us-west-2", "us-west-2a");
        assert_eq!(
            DestinationClass::between(&a, &c),
            DestinationClass::InterRegion
        );
        let d = at("aws", "eu-west-1", "eu-west-1a");
        assert_eq!(
            DestinationClass::between(&a, &d),
            DestinationClass::InterContinent
        );
        let e = at("gcp", "us-east1", "us-east1-b");
        assert_eq!(
            DestinationClass::between(&a, &e),
            DestinationClass::Internet
        );
        assert_eq!(at("azure", "westeurope", "1").continent(), Some("europe"));
        // In any case, as before the comparison stopped lower-casing a copy.
        assert_eq!(
            at("azure", "EastUS", "1").continent(),
            Some("north-america")
        );
        assert_eq!(
            at("aws", "AP-South-1", "a").continent(),
            Some("asia-pacific")
        );
        assert_eq!(at("aws", "mars-1", "a").continent(), None);
    }

    #[test]
    fn the_response_pays_the_servers_egress_and_cross_zone_pays_both_ends() {
        let a = at("aws", "us-east-1", "us-east-1a");
        let b = at("aws", "us-east-1", "us-east-1b");
        // 1 kB request, 100 kB response, cross-zone: $0.01 out + $0.01 in on each direction.
        let price = price_per_request((&a, &aws()), (&b, &aws()), 1_000.0, 100_000.0);
        let expected = (1_000.0 * 0.02 + 100_000.0 * 0.02) / 1e9;
        assert!((price - expected).abs() < 1e-15, "{price} vs {expected}");
        assert_eq!(price_per_request((&a, &aws()), (&a, &aws()), 1e3, 1e5), 0.0);
    }
}
