//! Where requests go: an address, the `Host` header, and for `https://` a TLS connector
//! (rustls, verified against the public web roots, or any certificate with `--insecure`).

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::header::HeaderValue;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

use super::error::{ClientError, TargetError};

#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: HeaderValue,
    /// e.g. `http://127.0.0.1:8080`, for messages and reports.
    pub base_url: String,
    /// For `https://` targets.
    pub tls: Option<Tls>,
}

#[derive(Clone)]
pub struct Tls {
    connector: TlsConnector,
    server_name: ServerName<'static>,
    insecure: bool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tls({:?})", self.server_name)
    }
}

impl Target {
    /// Parses `http[s]://host:port[/path]` and resolves it; returns the target and the path.
    /// `insecure`: accept any certificate from an `https://` target.
    pub async fn resolve(url: &str, insecure: bool) -> Result<(Target, String), TargetError> {
        let uri: hyper::Uri =
            url.parse()
                .map_err(|e: hyper::http::uri::InvalidUri| TargetError::BadUrl {
                    url: url.to_string(),
                    reason: e.to_string(),
                })?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(TargetError::Scheme {
                    url: url.to_string(),
                    scheme: other.to_string(),
                });
            }
            None => {
                return Err(TargetError::NoScheme {
                    url: url.to_string(),
                });
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| TargetError::BadUrl {
                url: url.to_string(),
                reason: "no host".into(),
            })?
            .clone();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let addr = tokio::net::lookup_host((authority.host(), port))
            .await
            .map_err(|source| TargetError::Resolve {
                host: authority.host().to_string(),
                cause: source,
            })?
            .next()
            .ok_or_else(|| TargetError::NoAddress {
                host: authority.host().to_string(),
            })?;
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let tls = if https {
            // `[::1]` is written with brackets in URLs, not in a server name.
            let host = authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']');
            let server_name =
                ServerName::try_from(host.to_string()).map_err(|e| TargetError::BadUrl {
                    url: url.to_string(),
                    reason: format!("{host} is not a valid TLS server name: {e}"),
                })?;
            Some(Tls {
                connector: TlsConnector::from(tls_config(insecure)?),
                server_name,
                insecure,
            })
        } else {
            None
        };
        let host = HeaderValue::from_str(authority.as_str()).map_err(|e| TargetError::BadUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        Ok((
            Target {
                addr,
                host,
                base_url: format!("{}://{authority}", if https { "https" } else { "http" }),
                tls,
            },
            path,
        ))
    }
}

fn tls_config(insecure: bool) -> Result<Arc<rustls::ClientConfig>, TargetError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TargetError::TlsSetup)?;
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// `--insecure`: any certificate, as `curl -k` or k6's `insecureSkipTLSVerify`. Signatures are
/// still checked, so the handshake is a real one and costs what it costs.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A plain or a TLS connection; `Either` forwards reads and writes to whichever it is.
pub(super) type Stream = Either<TcpStream, Box<TlsStream<TcpStream>>>;

pub(super) async fn connect(target: &Target) -> Result<Stream, ClientError> {
    let tcp = TcpStream::connect(target.addr)
        .await
        .map_err(|source| ClientError::Connect {
            addr: target.addr,
            cause: source,
        })?;
    let _ = tcp.set_nodelay(true);
    Ok(match &target.tls {
        None => Either::Left(tcp),
        Some(tls) => Either::Right(Box::new(
            tls.connector
                .connect(tls.server_name.clone(), tcp)
                .await
                .map_err(|source| {
                    // rustls reports a rejected certificate as an io::Error wrapping its own.
                    let certificate = source.to_string().contains("certificate");
                    ClientError::Tls {
                        target: target.base_url.clone(),
                        cause: source,
                        hint: if !tls.insecure && certificate {
                            " (a test server's self-signed certificate? -k accepts any)"
                        } else {
                            ""
                        },
                    }
                })?,
        )),
    })
}
