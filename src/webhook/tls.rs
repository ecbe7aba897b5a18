//! TLS client configuration and the handshake that turns a TCP stream into an https stream.
//!
//! Configs are always built with an explicit `ring` provider rather than the process-wide
//! default provider: the crate enables only rustls' `ring` feature, and relying on a default
//! installed elsewhere would make https work or fail depending on what else ran first. The
//! trust roots are Mozilla's, compiled in through `webpki-roots`, so delivery does not depend on
//! the host's certificate store; tests pass their own [`RootCertStore`] to trust a self-signed
//! certificate.

use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::transport::ConnectError;

/// Why a TLS client configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build tls client config")]
pub struct TlsConfigError(#[from] rustls::Error);

/// Builds a client config that trusts the Mozilla roots shipped in `webpki-roots`.
pub fn webpki_client_config() -> Result<Arc<ClientConfig>, TlsConfigError> {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    client_config_with_roots(roots)
}

/// Builds a client config that trusts exactly `roots`, for private or test certificates.
pub fn client_config_with_roots(roots: RootCertStore) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Runs the client handshake over `stream`, sending `host` as SNI and checking the
/// certificate against it.
pub(super) async fn handshake<S>(
    config: Arc<ClientConfig>,
    host: &str,
    stream: S,
) -> Result<TlsStream<S>, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let server_name =
        ServerName::try_from(host.to_owned()).map_err(|_| ConnectError::InvalidServerName {
            host: host.to_owned(),
        })?;
    TlsConnector::from(config)
        .connect(server_name, stream)
        .await
        .map_err(ConnectError::Tls)
}
