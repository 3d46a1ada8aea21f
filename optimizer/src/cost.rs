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

/// Where a cluster runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Location {
    pub provider: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
}

impl Location {
    /// The continent, from the region's name as AWS, GCP and Azure spell them.
    pub fn continent(&self) -> Option<&'static str> {
        let region = self.region.as_deref()?.to_ascii_lowercase();
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
        if let Some((_, continent)) = PREFIXES.iter().find(|(p, _)| region.starts_with(p)) {
            return Some(continent);
        }
        // Azure puts the direction first: eastus, westeurope, southeastasia.
        [
            ("us", "north-america"),
            ("europe", "europe"),
            ("asia", "asia-pacific"),
        ]
        .iter()
        .find(|(needle, _)| region.contains(needle))
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
    pub fn between(a: &Location, b: &Location) -> Self {
        let same = |x: &Option<String>, y: &Option<String>| x.is_some() && x == y;
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
    client: (&Location, &PriceTable),
    server: (&Location, &PriceTable),
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

    fn at(provider: &str, region: &str, zone: &str) -> Location {
        Location {
            provider: Some(provider.into()),
            region: Some(region.into()),
            zone: Some(zone.into()),
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
