//! The server-side request forgery guard: webhook URLs must not reach into our own network.
//!
//! Whoever registers an endpoint chooses a URL the service will POST to. Without a guard, an
//! endpoint at `http://127.0.0.1:6379/` or `http://169.254.169.254/` turns the webhook sender
//! into a probe of the host's private services. The guard refuses loopback, private,
//! link-local, unspecified, shared (carrier NAT), multicast, broadcast and documentation
//! addresses, for IPv4 and IPv6 alike (IPv4-mapped IPv6 addresses are judged as IPv4).
//!
//! It checks twice:
//!
//! - at registration, [`check_host`] refuses a literal address or `localhost` outright, so
//!   the mistake is reported where it is made;
//! - at connect time, [`GuardedTcpConnector`] resolves the name itself, refuses the
//!   connection if any resolved address is private, and connects to the address it checked.
//!   Checking a name only at registration was rejected: DNS can answer differently later
//!   (rebinding), and only the address actually dialled matters.
//!
//! Tests, the simulation and the demo opt out with `allow_private_addresses`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use rustls::ClientConfig;

use super::tls::{self, TlsConfigError};
use super::transport::{ConnectError, ConnectFuture, Connector, Target};

const TRACE_TARGET: &str = "eventgate::webhook::ssrf";

/// The most resolved addresses looked at for one connect.
pub const RESOLVED_ADDRESSES_MAX: usize = 16;

/// Why the guard refused a host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsrfError {
    /// The host is, or resolved to, an address inside a private or special range.
    #[error("host {host:?} is a private or special address ({address})")]
    PrivateAddress {
        /// The host from the URL.
        host: String,
        /// The refused address.
        address: IpAddr,
    },
    /// The host is `localhost` or a name under `.localhost`.
    #[error("host {host:?} names the local machine")]
    Localhost {
        /// The host from the URL.
        host: String,
    },
}

/// True when `address` must not be dialled by default.
pub fn is_private(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private_v4(v4),
            None => is_private_v6(v6),
        },
    }
}

fn is_private_v4(address: Ipv4Addr) -> bool {
    let [a, b, ..] = address.octets();
    let shared = a == 100 && (64..128).contains(&b); // 100.64.0.0/10, carrier-grade NAT.
    let this_network = a == 0; // 0.0.0.0/8.
    let benchmarking = a == 198 && (b == 18 || b == 19); // 198.18.0.0/15.
    let reserved = a >= 240; // 240.0.0.0/4 and the broadcast address.
    address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_unspecified()
        || address.is_multicast()
        || address.is_documentation()
        || shared
        || this_network
        || benchmarking
        || reserved
}

fn is_private_v6(address: Ipv6Addr) -> bool {
    let first = address.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00; // fc00::/7.
    let link_local = first & 0xffc0 == 0xfe80; // fe80::/10.
    let documentation = first == 0x2001 && address.segments()[1] == 0x0db8; // 2001:db8::/32.
    address.is_loopback()
        || address.is_unspecified()
        || address.is_multicast()
        || unique_local
        || link_local
        || documentation
}

/// Refuses a host that is visibly local: a private literal address, or `localhost`.
///
/// A name that is not a literal passes here; [`GuardedTcpConnector`] checks what it
/// resolves to.
pub fn check_host(host: &str) -> Result<(), SsrfError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(address) = bare.parse::<IpAddr>() {
        if is_private(address) {
            let host = host.to_owned();
            return Err(SsrfError::PrivateAddress { host, address });
        }
        return Ok(());
    }
    let lower = bare.trim_end_matches('.').to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Err(SsrfError::Localhost {
            host: host.to_owned(),
        });
    }
    Ok(())
}

/// Checks resolved addresses: all of them must be public, or the connect is refused.
///
/// Refusing when any one is private (not only the first) keeps a name that resolves to both
/// a public and a private address from being steered to the private one.
pub fn check_resolved(host: &str, addresses: &[SocketAddr]) -> Result<(), SsrfError> {
    match addresses.iter().find(|a| is_private(a.ip())) {
        Some(private) => Err(SsrfError::PrivateAddress {
            host: host.to_owned(),
            address: private.ip(),
        }),
        None => Ok(()),
    }
}

/// The production connector: tokio TCP with rustls, dialling only public addresses.
#[derive(Clone, Debug)]
pub struct GuardedTcpConnector {
    tls: Arc<ClientConfig>,
}

impl GuardedTcpConnector {
    /// Trusts the Mozilla roots compiled in through `webpki-roots`.
    pub fn with_webpki_roots() -> Result<Self, TlsConfigError> {
        Ok(Self::with_tls_config(tls::webpki_client_config()?))
    }

    /// Uses `tls` for https.
    pub fn with_tls_config(tls: Arc<ClientConfig>) -> Self {
        GuardedTcpConnector { tls }
    }

    async fn resolve(target: &Target) -> Result<Vec<SocketAddr>, ConnectError> {
        let found = tokio::net::lookup_host((target.host.as_str(), target.port)).await;
        let addresses: Vec<SocketAddr> = found
            .map_err(ConnectError::Io)?
            .take(RESOLVED_ADDRESSES_MAX)
            .collect();
        if addresses.is_empty() {
            let error = io::Error::new(io::ErrorKind::NotFound, "host resolved to no address");
            return Err(ConnectError::Io(error));
        }
        check_resolved(&target.host, &addresses).map_err(|refused| {
            tracing::warn!(target: TRACE_TARGET, host = %target.host, %refused, "connect refused");
            ConnectError::Io(io::Error::new(io::ErrorKind::PermissionDenied, refused))
        })?;
        Ok(addresses)
    }
}

impl Connector for GuardedTcpConnector {
    fn connect<'a>(&'a self, target: &'a Target) -> ConnectFuture<'a> {
        Box::pin(async move {
            let addresses = Self::resolve(target).await?;
            let tcp = tokio::net::TcpStream::connect(addresses.as_slice())
                .await
                .map_err(ConnectError::Io)?;
            super::transport::over_tcp(self.tls.clone(), target, tcp).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::transport::Scheme;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test addresses are valid")
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        let refused = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ];
        for text in refused {
            assert!(is_private(ip(text)), "{text} must be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for text in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(!is_private(ip(text)), "{text} must pass");
        }
    }

    #[test]
    fn check_host_refuses_literals_and_localhost_but_passes_names() {
        assert!(matches!(
            check_host("127.0.0.1"),
            Err(SsrfError::PrivateAddress { .. })
        ));
        assert!(matches!(
            check_host("[::1]"),
            Err(SsrfError::PrivateAddress { .. })
        ));
        for host in ["localhost", "LOCALHOST.", "api.localhost"] {
            assert!(matches!(check_host(host), Err(SsrfError::Localhost { .. })));
        }
        assert_eq!(check_host("example.com"), Ok(()));
        assert_eq!(check_host("93.184.216.34"), Ok(()));
    }

    #[test]
    fn one_private_resolved_address_refuses_the_host() {
        let public: SocketAddr = "93.184.216.34:443".parse().expect("valid");
        let private: SocketAddr = "10.0.0.1:443".parse().expect("valid");
        assert_eq!(check_resolved("x", &[public]), Ok(()));
        assert!(check_resolved("x", &[public, private]).is_err());
    }

    #[tokio::test]
    async fn guarded_connector_refuses_a_name_resolving_to_loopback() {
        let connector = GuardedTcpConnector::with_webpki_roots().expect("tls config");
        let target = Target {
            scheme: Scheme::Http,
            host: "localhost".to_owned(),
            port: 9,
        };
        let Err(ConnectError::Io(error)) = connector.connect(&target).await else {
            panic!("a loopback name must be refused");
        };
        assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);
    }
}
