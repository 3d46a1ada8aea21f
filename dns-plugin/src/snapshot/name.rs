//! Splits a query name, relative to its zone, into the parts of the clusterset naming scheme.
//!
//! Works on borrowed labels of the already lower-cased query name and never allocates.

/// The most labels a clusterset name can have below its zone:
/// `<port>.<proto>.<cluster>.<svc>.<ns>.svc`.
pub const MAX_RELATIVE_LABELS: usize = 6;

/// What a query name points at, before the snapshot is consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path<'a> {
    /// The zone apex.
    Apex,
    /// `dns-version`: the schema version TXT record.
    DnsVersion,
    /// `aviator-served`: who answers the zone (a TXT record).
    Served,
    /// `ns.dns`: the name server the NS record and the SOA name.
    Nameserver,
    /// `dns`: an empty non-terminal above it.
    NameserverParent,
    /// `svc`: an empty non-terminal above every namespace.
    SvcRoot,
    /// `<ns>.svc`: an empty non-terminal above the namespace's services.
    Namespace(&'a [u8]),
    /// `[<a>.[<b>.[<c>.]]]<svc>.<ns>.svc`: a service, with up to three more labels in front.
    Service {
        namespace: &'a [u8],
        service: &'a [u8],
        /// The labels before the service name, leftmost first: `[]`, `[cluster]`,
        /// `[hostname, cluster]`, `[_port, _proto]` or `[_port, _proto, cluster]`.
        prefix: Prefix<'a>,
    },
    /// Anything else below the zone (`*.pod.*`, deeper names): it does not exist.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix<'a> {
    None,
    One(&'a [u8]),
    Two(&'a [u8], &'a [u8]),
    Three(&'a [u8], &'a [u8], &'a [u8]),
}

/// Classifies the labels below the zone, given leftmost first.
pub fn classify<'a>(labels: &[&'a [u8]]) -> Path<'a> {
    match labels {
        [] => Path::Apex,
        [b"dns-version"] => Path::DnsVersion,
        [b"aviator-served"] => Path::Served,
        [b"dns"] => Path::NameserverParent,
        [b"ns", b"dns"] => Path::Nameserver,
        [b"svc"] => Path::SvcRoot,
        [namespace, b"svc"] => Path::Namespace(namespace),
        [service, namespace, b"svc"] => Path::Service {
            namespace,
            service,
            prefix: Prefix::None,
        },
        [a, service, namespace, b"svc"] => Path::Service {
            namespace,
            service,
            prefix: Prefix::One(a),
        },
        [a, b, service, namespace, b"svc"] => Path::Service {
            namespace,
            service,
            prefix: Prefix::Two(a, b),
        },
        [a, b, c, service, namespace, b"svc"] => Path::Service {
            namespace,
            service,
            prefix: Prefix::Three(a, b, c),
        },
        _ => Path::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(name: &str) -> Vec<&[u8]> {
        name.split('.')
            .filter(|l| !l.is_empty())
            .map(str::as_bytes)
            .collect()
    }

    #[test]
    fn each_form_of_the_scheme_is_recognised() {
        assert_eq!(classify(&[]), Path::Apex);
        assert_eq!(classify(&split("dns-version")), Path::DnsVersion);
        assert_eq!(classify(&split("svc")), Path::SvcRoot);
        assert_eq!(classify(&split("default.svc")), Path::Namespace(b"default"));
        let service = |prefix| Path::Service {
            namespace: b"default",
            service: b"nginx",
            prefix,
        };
        assert_eq!(classify(&split("nginx.default.svc")), service(Prefix::None));
        assert_eq!(
            classify(&split("west.nginx.default.svc")),
            service(Prefix::One(b"west"))
        );
        assert_eq!(
            classify(&split("_http._tcp.nginx.default.svc")),
            service(Prefix::Two(b"_http", b"_tcp"))
        );
        assert_eq!(
            classify(&split("_http._tcp.west.nginx.default.svc")),
            service(Prefix::Three(b"_http", b"_tcp", b"west"))
        );
        assert_eq!(classify(&split("ns.dns")), Path::Nameserver);
    }

    #[test]
    fn pod_names_and_strays_are_unknown() {
        assert_eq!(classify(&split("10-0-0-1.default.pod")), Path::Unknown);
        assert_eq!(classify(&split("nginx.default.pod")), Path::Unknown);
        assert_eq!(classify(&split("nginx.default")), Path::Unknown);
        assert_eq!(classify(&split("a.b.c.d.e.f.svc")), Path::Unknown);
    }
}
