//! The providers' list prices for transfer, first volume tier, typical US/EU source regions,
//! from `optimizer/data/egress-prices.yaml` (a copy of the dataset, with its sources, kept in
//! the project so nothing reads outside it at run time). A test reads that file and holds these
//! figures to it.
//!
//! AWS bills inter-zone traffic out and in and inter-region at the source; GCP bills each
//! direction as egress at its source (its figures are per GiB); Azure's inter-zone transfer is
//! free. Another provider is reached over the internet, at the sender's internet rate.

use crate::cost::{PriceRow, PriceTable};

/// The list prices of `provider` (`aws`, `gcp`, `azure`), or `None` for one not in the dataset.
pub fn list_prices(provider: &str) -> Option<PriceTable> {
    Some(match provider {
        "aws" => PriceTable {
            egress: PriceRow {
                intra_zone: 0.0,
                inter_zone: 0.01,
                inter_region: 0.02,
                inter_continent: 0.02,
                internet: 0.09,
            },
            ingress: PriceRow {
                inter_zone: 0.01,
                ..PriceRow::default()
            },
        },
        "gcp" => PriceTable {
            egress: PriceRow {
                intra_zone: 0.0,
                inter_zone: 0.01,
                inter_region: 0.02,
                // Estimated in the dataset (Northern America to Europe).
                inter_continent: 0.05,
                internet: 0.12,
            },
            ingress: PriceRow::default(),
        },
        "azure" => PriceTable {
            egress: PriceRow {
                intra_zone: 0.0,
                inter_zone: 0.0,
                inter_region: 0.02,
                // Unsourced in the dataset: an estimate.
                inter_continent: 0.05,
                internet: 0.087,
            },
            ingress: PriceRow::default(),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATASET: &str = include_str!("../data/egress-prices.yaml");

    /// The figure at `path` (`providers.aws.inter_zone`, `...same_continent`): a number, or a
    /// mapping with a `value`. A small reader for the dataset's plain layout.
    fn figure(path: &str) -> f64 {
        let mut lines = DATASET.lines();
        let mut indent = 0;
        let mut found = "";
        for part in path.split('.') {
            let line = lines
                .by_ref()
                .find(|l| {
                    let here = l.len() - l.trim_start().len();
                    here >= indent && l.trim_start().starts_with(&format!("{part}:"))
                })
                .unwrap_or_else(|| panic!("{path}: no {part}"));
            indent = line.len() - line.trim_start().len() + 1;
            found = line;
        }
        let value = found.split_once(':').unwrap().1;
        let value = value.split('#').next().unwrap().trim();
        let value = if value.is_empty() {
            let line = lines
                .find(|l| l.trim_start().starts_with("value:"))
                .unwrap();
            line.split_once(':')
                .unwrap()
                .1
                .split('#')
                .next()
                .unwrap()
                .trim()
                .to_owned()
        } else {
            value.to_owned()
        };
        value
            .parse()
            .unwrap_or_else(|e| panic!("{path}: {value}: {e}"))
    }

    #[test]
    fn the_table_is_the_datasets() {
        for (provider, row) in [("aws", "aws"), ("gcp", "gcp"), ("azure", "azure")] {
            let table = list_prices(provider).unwrap();
            let at = |field: &str| figure(&format!("providers.{row}.{field}"));
            assert_eq!(table.egress.intra_zone, at("intra_zone"), "{provider}");
            assert_eq!(table.egress.inter_zone, at("inter_zone"), "{provider}");
            assert_eq!(
                table.egress.inter_region,
                at("inter_region.same_continent"),
                "{provider}"
            );
            assert_eq!(
                table.egress.inter_continent,
                at("inter_region.cross_continent"),
                "{provider}"
            );
            assert_eq!(table.egress.internet, at("internet"), "{provider}");
        }
        // AWS bills the receiving side of inter-zone traffic too.
        assert_eq!(
            list_prices("aws").unwrap().ingress.inter_zone,
            figure("providers.aws.inter_zone")
        );
        assert_eq!(list_prices("onprem"), None);
    }
}
